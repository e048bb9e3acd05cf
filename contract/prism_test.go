// Package contract checks graphconn's live traffic with a validator that
// shares no code with it: Stoplight Prism, in proxy mode, in front of the
// real binary. graphconn validates itself with kin-openapi; Prism reads
// openapi.yaml with its own parser and JSON Schema validator (ajv), so the
// two must agree on what the contract allows.
package contract

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/graphconn/graphconn/internal/graphconntest"
)

const (
	specPath  = "../openapi.yaml"
	prismPath = "../node_modules/.bin/prism"
	// canaryHeader marks a request whose response the test corrupts on its
	// way to Prism, to prove that Prism checks responses at all.
	canaryHeader = "X-Graphconn-Canary"
	// maxBody is graphconn's body limit in this test, small enough for a
	// 413 to be cheap.
	maxBody = 64 << 10
	// maxItems is each connection's item limit in this test: a third item
	// gets 507, and beta's quota runs out.
	maxItems = 2
	// adminToken opens graphconn's admin endpoint, to switch faults on.
	adminToken = "prism-admin-token"

	// What the script keeps on each version's connection: the path
	// parameters of the loops over every operation.
	itemID   = "TSP228082938"
	groupID  = "contosohr-team"
	memberID = "e811976d-83df-4cbd-8b9b-5215b18aa874"
)

// faultStatuses are the statuses that a fault plan answers with, which
// openapi.yaml declares on every operation.
var faultStatuses = []int{429, 500, 502, 503, 504, 507}

// violation is one entry of the sl-violations header that Prism adds to a
// response when the request or the response breaks the contract.
type violation struct {
	Location []string `json:"location"`
	Severity string   `json:"severity"`
	Code     any      `json:"code"`
	Message  string   `json:"message"`
}

func (v violation) side() string {
	if len(v.Location) == 0 {
		return ""
	}
	return v.Location[0]
}

func (v violation) String() string {
	return fmt.Sprintf("%s %s: %s", v.Severity, strings.Join(v.Location, "."), v.Message)
}

// TestTrafficThroughPrism drives every operation of openapi.yaml, with its
// success and its error answers, through Prism to a real graphconn: the same
// script under each version (unprefixed, /v1.0, /beta), in that version's
// shapes; then every operation without a token, with a token of no
// permission, and under a fault plan for each fault status. It fails if
// Prism finds a violation in any response, or in a request that graphconn
// accepted (2xx), or if some documented response was never seen.
func TestTrafficThroughPrism(t *testing.T) {
	prism := graphconntest.Tool(t, prismPath, "install it with `npm ci` at the repository root")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	srv := graphconntest.Start(t, "--operation-delay", "200ms", "--max-body-bytes", strconv.Itoa(maxBody),
		"--max-items-per-connection", strconv.Itoa(maxItems), "--admin-token", adminToken)
	shim := canaryProxy(t, srv.URL)
	spec, router := loadSpec(t)
	c := &client{
		base:   startPrism(ctx, t, prism, shim.URL),
		http:   &http.Client{Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		spec:   spec,
		router: router,
		seen:   map[string]bool{},
	}
	// Tokens signed by the development key in graphconn's data dir. The
	// client's reaches connections, and their items, groups and members.
	c.token = srv.Token(t, "ExternalConnection.ReadWrite.All,ExternalItem.ReadWrite.All")
	c.user = srv.UserToken(t, memberID, "ExternalItem.Read.All")
	readOnly := srv.Token(t, "ExternalConnection.Read.All")
	unrelated := srv.Token(t, "User.Read.All")

	big := strings.Repeat("x", maxBody+1) // a body over graphconn's limit, in a valid JSON string

	t.Run("Prism checks responses", func(t *testing.T) {
		// The shim adds a property that no schema allows: Prism must say so.
		c.do(t, call{method: "POST", path: "/external/connections", body: obj{"id": "canary", "name": "Canary"},
			header: hdr{canaryHeader: "1"}, want: 201, canary: true})
	})

	// The connections that exist, for the listings to check: every version
	// lists them all, whichever version created them.
	live := []string{"canary"}

	// The same script under each version, with its own connections so that
	// the versions do not interfere, and its own shapes.
	for _, v := range versions {
		conns := v.prefix + "/external/connections" // the collection
		conn := conns + "/" + v.conn                // the connection the version keeps

		t.Run(v.name+" connections", func(t *testing.T) {
			r := c.do(t, call{method: "POST", path: conns,
				body: obj{"@odata.type": v.connType, "id": v.conn, "name": "Contoso HR", "description": "Connection to index Contoso HR system"}, want: 201})
			etag := r.header.Get("ETag")
			c.do(t, call{method: "POST", path: conns, body: obj{"id": v.other, "name": "Fabrikam"}, want: 201})
			live = append(live, v.conn, v.other)
			c.do(t, call{method: "POST", path: conns, body: obj{"id": v.conn, "name": "Again"}, want: 409})
			c.do(t, call{method: "POST", path: conns, body: obj{"id": "x!", "name": "X"}, want: 400, requestViolation: true})
			c.do(t, call{method: "POST", path: conns, body: "id=x", header: hdr{"Content-Type": "text/plain"}, want: 415})
			c.do(t, call{method: "POST", path: conns, body: obj{"id": "big", "name": "Big", "description": big}, want: 413})
			c.do(t, call{method: "POST", path: conns, body: obj{"id": "readonly", "name": "R"}, token: readOnly, want: 403})
			r = c.do(t, call{method: "GET", path: conns + "/$count", want: 200})
			if n, err := strconv.Atoi(string(r.body)); err != nil || n < 2 {
				t.Errorf("GET %s/$count = %q, want a number, at least 2", conns, r.body)
			}
			c.do(t, call{method: "GET", path: conns + "/$count?%24top=1", want: 400})

			// $top pages through every connection, @odata.nextLink to the end.
			want := slices.Sorted(slices.Values(live))
			ids := c.pages(t, conns+"?%24top=1", len(want)-1)
			if !slices.Equal(ids, want) {
				t.Errorf("connections listed one per page = %v, want %v", ids, want)
			}
			c.do(t, call{method: "GET", path: conns + "?%24top=0", want: 400, requestViolation: true})
			c.do(t, call{method: "GET", path: conns, token: readOnly, want: 200})

			r = c.do(t, call{method: "GET", path: conn + "?%24select=id,state", want: 200})
			if got := properties(t, r.body); !slices.Equal(got, []string{"id", "state"}) {
				t.Errorf("GET with $select=id,state: properties %v, want id, state", got)
			}
			c.do(t, call{method: "GET", path: conn + "?%24select=nosuch", want: 400})
			c.do(t, call{method: "GET", path: conns + "/nosuch", want: 404})

			upd := obj{"description": "Connection to index the Contoso HR system and its archive"}
			c.do(t, call{method: "PATCH", path: conn, body: upd, header: hdr{"If-Match": `"1"`}, want: 412})
			r = c.do(t, call{method: "PATCH", path: conn, body: upd, header: hdr{"If-Match": etag}, want: 204})
			if r.header.Get("ETag") == etag {
				t.Errorf("PATCH connection: ETag %s unchanged", etag)
			}
			c.do(t, call{method: "PATCH", path: conn, body: obj{"id": "other"}, want: 400})
			c.do(t, call{method: "PATCH", path: conn, body: obj{"name": ""}, want: 400, requestViolation: true})
			c.do(t, call{method: "PATCH", path: conns + "/nosuch", body: upd, want: 404})
			c.do(t, call{method: "PATCH", path: conn, body: "x", header: hdr{"Content-Type": "text/plain"}, want: 415})
			c.do(t, call{method: "PATCH", path: conn, body: obj{"description": big}, want: 413})
		})

		t.Run(v.name+" schema", func(t *testing.T) {
			schemaPath := conn + "/schema"
			c.do(t, call{method: "GET", path: schemaPath, want: 404})
			c.do(t, call{method: "PATCH", path: schemaPath, body: obj{"baseType": "microsoft.graph.other", "properties": []obj{}}, want: 400, requestViolation: true})
			c.do(t, call{method: "PATCH", path: conns + "/nosuch/schema", body: v.schema, want: 404})
			c.do(t, call{method: "PATCH", path: schemaPath, body: "x", header: hdr{"Content-Type": "text/plain"}, want: 415})
			c.do(t, call{method: "PATCH", path: schemaPath, body: obj{"baseType": "microsoft.graph.externalItem", "properties": []obj{{"name": "a", "type": "string", "description": big}}}, want: 413})

			// A registration answers 202 with the operation to poll; another one
			// meanwhile gets 409. The first stays in progress for only 200ms, so
			// try a few times rather than depend on the machine's speed.
			var location string
			for attempt := 0; attempt < 5; attempt++ {
				r := c.do(t, call{method: "PATCH", path: schemaPath, body: v.schema, want: 202})
				location = r.header.Get("Location")
				if r2 := c.do(t, call{method: "PATCH", path: schemaPath, body: v.schema, want: -1}); r2.status == http.StatusConflict {
					break
				} else if r2.status == http.StatusAccepted {
					location = r2.header.Get("Location")
				} else {
					t.Fatalf("second schema registration = %d %s, want 409 (or 202 once the first completed)", r2.status, r2.body)
				}
			}
			if !c.seen["PATCH "+v.prefix+"/external/connections/{externalConnectionId}/schema 409"] {
				t.Errorf("no second registration got 409 while the first was in progress")
			}
			u, err := url.Parse(location)
			if err != nil || !u.IsAbs() || !strings.HasPrefix(u.Path, conn+"/operations/") {
				t.Fatalf("Location = %q, want the absolute URL of an operation under %s", location, conn)
			}
			// Poll the operation, through Prism, until it is completed.
			deadline := time.Now().Add(30 * time.Second)
			for {
				r := c.do(t, call{method: "GET", path: u.RequestURI(), want: 200})
				var op struct{ Status string }
				_ = json.Unmarshal(r.body, &op)
				if op.Status == "completed" {
					break
				}
				if op.Status != "inprogress" || time.Now().After(deadline) {
					t.Fatalf("operation %s: status %q, want inprogress then completed", location, op.Status)
				}
				time.Sleep(100 * time.Millisecond)
			}
			c.do(t, call{method: "GET", path: schemaPath, want: 200})
			r := c.do(t, call{method: "GET", path: conn + "?%24select=state", want: 200})
			if !bytes.Contains(r.body, []byte(`"state":"ready"`)) {
				t.Errorf("connection after registration = %s, want state ready", r.body)
			}
		})

		// The same operations on each path family of the version.
		for _, family := range v.families {
			t.Run(v.name+" operations "+family, func(t *testing.T) {
				ops := v.prefix + family + "/" + v.conn + "/operations"
				nosuchConn := v.prefix + family + "/nosuch/operations"
				r := c.do(t, call{method: "POST", path: ops, body: obj{}, want: 201})
				id, etag := entityID(t, r.body), r.header.Get("ETag")
				c.do(t, call{method: "POST", path: ops, body: obj{"foo": 1}, want: 400, requestViolation: true})
				c.do(t, call{method: "POST", path: nosuchConn, body: obj{}, want: 404})
				c.do(t, call{method: "POST", path: ops, body: "{}", header: hdr{"Content-Type": "text/plain"}, want: 415})
				c.do(t, call{method: "POST", path: ops, body: obj{"error": obj{"message": big}}, want: 413})

				op := ops + "/" + id
				r = c.do(t, call{method: "GET", path: op + "?%24select=id,status", want: 200})
				if got := properties(t, r.body); !slices.Equal(got, []string{"id", "status"}) {
					t.Errorf("GET with $select=id,status: properties %v, want id, status", got)
				}
				c.do(t, call{method: "GET", path: op + "?%24select=nosuch", want: 400})
				c.do(t, call{method: "GET", path: ops + "/00000000-0000-0000-0000-000000000000", want: 404})

				seed := v.opBody("inprogress", "SlowSource", "Retrying.", "properties/0")
				c.do(t, call{method: "PATCH", path: op, body: seed, header: hdr{"If-Match": `"1"`}, want: 412})
				r = c.do(t, call{method: "PATCH", path: op, body: seed, header: hdr{"If-Match": etag, "client-request-id": "prism-1"}, want: 200})
				if got := r.header.Get("client-request-id"); got != "prism-1" {
					t.Errorf("client-request-id = %q, want the one sent, prism-1", got)
				}
				if !bytes.Contains(r.body, []byte(`"SlowSource"`)) {
					t.Errorf("PATCH with an error: %s, want the error back", truncate(r.body))
				}
				c.do(t, call{method: "PATCH", path: op, body: obj{"status": "String"}, want: 400, requestViolation: true})
				c.do(t, call{method: "PATCH", path: ops + "/00000000-0000-0000-0000-000000000000", body: obj{"status": "failed"}, want: 404})
				c.do(t, call{method: "PATCH", path: op, body: "x", header: hdr{"Content-Type": "text/plain"}, want: 415})
				c.do(t, call{method: "PATCH", path: op, body: obj{"error": obj{"message": big}}, want: 413})
				c.do(t, call{method: "PATCH", path: op, body: obj{"status": "completed", "error": nil}, want: 200})
				// No status is final: a completed operation may still fail.
				r = c.do(t, call{method: "PATCH", path: op, body: obj{"status": "failed"}, want: 200})
				if !bytes.Contains(r.body, []byte(`"status":"failed"`)) {
					t.Errorf("PATCH completed → failed: %s, want status failed", truncate(r.body))
				}

				// A second operation, so that paging and $filter have work.
				r = c.do(t, call{method: "POST", path: ops, body: obj{"status": "inprogress"}, want: 201})
				second := entityID(t, r.body)
				all := c.pages(t, ops+"?%24top=1", -1)
				if len(all) < 3 || !slices.Contains(all, id) || !slices.Contains(all, second) {
					t.Errorf("operations listed one per page = %v, want at least the registration, %s and %s", all, id, second)
				}
				q := url.Values{"$filter": {"status eq 'completed'"}}
				r = c.do(t, call{method: "GET", path: ops + "?" + q.Encode(), want: 200})
				var page struct{ Value []struct{ ID, Status string } }
				_ = json.Unmarshal(r.body, &page)
				if len(page.Value) == 0 {
					t.Errorf("$filter=status eq 'completed' listed nothing")
				}
				for _, o := range page.Value {
					if o.Status != "completed" {
						t.Errorf("$filter=status eq 'completed' listed %s, status %q", o.ID, o.Status)
					}
				}
				c.do(t, call{method: "GET", path: ops + "?" + url.Values{"$filter": {"name eq 'x'"}}.Encode(), want: 400})
				c.do(t, call{method: "GET", path: ops + "?%24top=1000", want: 400, requestViolation: true})
				c.do(t, call{method: "GET", path: nosuchConn, want: 404})
				// $count: the /$count segment, as plain text, and $count=true.
				r = c.do(t, call{method: "GET", path: ops + "/$count", want: 200})
				if n, err := strconv.Atoi(string(r.body)); err != nil || n < 3 {
					t.Errorf("GET %s/$count = %q, want the number of operations, at least 3", ops, r.body)
				}
				c.do(t, call{method: "GET", path: ops + "/$count?" + q.Encode(), want: 200})
				c.do(t, call{method: "GET", path: ops + "/$count?%24filter=garbage", want: 400})
				c.do(t, call{method: "GET", path: nosuchConn + "/$count", want: 404})
				r = c.do(t, call{method: "GET", path: ops + "?%24count=true&%24top=1", want: 200})
				if !bytes.Contains(r.body, []byte(`"@odata.count":`)) {
					t.Errorf("$count=true: %s, want @odata.count", truncate(r.body))
				}

				c.do(t, call{method: "DELETE", path: ops + "/" + second, header: hdr{"If-Match": `"1"`}, want: 412})
				c.do(t, call{method: "DELETE", path: ops + "/" + second, want: 204})
				c.do(t, call{method: "DELETE", path: ops + "/" + second, want: 404})
			})
		}

		// Items need the schema registered above, and ExternalItem's
		// permission, which the client's token carries.
		t.Run(v.name+" items", func(t *testing.T) {
			items := conn + "/items/"
			item := items + itemID
			nosuchConn := conns + "/nosuch/items/" + itemID
			c.do(t, call{method: "GET", path: item, want: 404})
			r := c.do(t, call{method: "PUT", path: item, body: itemBody("Error in the payment gateway", 1), want: 200})
			if id := entityID(t, r.body); id != itemID {
				t.Errorf("PUT item: id %q, want the path's, %s", id, itemID)
			}
			// Breaking the registered schema (priority is an int64), then the contract (an acl of no entry).
			r = c.do(t, call{method: "PUT", path: item, body: obj{"acl": grantUser, "properties": obj{"ticketTitle": "x", "priority": "high"}}, want: 400})
			if !bytes.Contains(r.body, []byte("The property 'priority' is registered as")) {
				t.Errorf("PUT item with a string priority = %s, want the error to name the property and its registered type", truncate(r.body))
			}
			c.do(t, call{method: "PUT", path: item, body: obj{"acl": []obj{}, "properties": obj{"ticketTitle": "x"}}, want: 400, requestViolation: true})
			c.do(t, call{method: "PUT", path: nosuchConn, body: itemBody("x", 1), want: 404})
			c.do(t, call{method: "PUT", path: item, body: "x", header: hdr{"Content-Type": "text/plain"}, want: 415})
			c.do(t, call{method: "PUT", path: item, body: obj{"acl": grantUser, "properties": obj{"ticketTitle": "x"}, "content": obj{"value": big}}, want: 413})

			r = c.do(t, call{method: "GET", path: item, want: 200})
			if !bytes.Contains(r.body, []byte(`"ticketTitle":"Error in the payment gateway"`)) {
				t.Errorf("GET item = %s, want the title put", truncate(r.body))
			}
			c.do(t, call{method: "GET", path: items + "nosuch", want: 404})

			r = c.do(t, call{method: "PATCH", path: item, body: obj{"properties": obj{"priority": 3}}, want: 200})
			if !bytes.Contains(r.body, []byte(`"priority":3`)) {
				t.Errorf("PATCH item's properties = %s, want priority 3", truncate(r.body))
			}
			r = c.do(t, call{method: "PATCH", path: item, body: obj{"properties": obj{"severity": "high"}}, want: 400})
			if !bytes.Contains(r.body, []byte("The property 'severity' is not in the connection's schema.")) {
				t.Errorf("PATCH item with a property not registered = %s, want the error to name it", truncate(r.body))
			}
			c.do(t, call{method: "PATCH", path: item, body: obj{"content": obj{"type": "pdf", "value": "x"}}, want: 400, requestViolation: true})
			c.do(t, call{method: "PATCH", path: items + "nosuch", body: obj{"properties": obj{"priority": 3}}, want: 404})
			c.do(t, call{method: "PATCH", path: item, body: "x", header: hdr{"Content-Type": "text/plain"}, want: 415})
			c.do(t, call{method: "PATCH", path: item, body: obj{"content": obj{"value": big}}, want: 413})

			// addActivities, by its full name and its short one.
			for _, action := range []string{"/microsoft.graph.externalConnectors.addActivities", "/addActivities"} {
				c.do(t, call{method: "POST", path: item + action, body: activities(pastActivity), want: 200})
				// An activity that starts in the far future is refused, the others recorded.
				r := c.do(t, call{method: "POST", path: item + action, body: activities(pastActivity, "2999-01-01T00:00:00Z"), want: 207})
				if !bytes.Contains(r.body, []byte(`"invalidActivity"`)) {
					t.Errorf("POST %s with an activity in the future = %s, want its error invalidActivity", action, truncate(r.body))
				}
				c.do(t, call{method: "POST", path: item + action, body: obj{"activities": []obj{}}, want: 400, requestViolation: true})
				c.do(t, call{method: "POST", path: items + "nosuch" + action, body: activities(pastActivity), want: 404})
				c.do(t, call{method: "POST", path: item + action, body: "x", header: hdr{"Content-Type": "text/plain"}, want: 415})
				c.do(t, call{method: "POST", path: item + action, body: obj{"activities": []obj{{"type": "viewed", "startDateTime": pastActivity, "id": big}}}, want: 413})
			}

			// The item limit: a new item past it gets 507; replacing one takes no room.
			second := items + "TSP228082939"
			c.do(t, call{method: "PUT", path: second, body: itemBody("Refund fails", 2), want: 200})
			r = c.do(t, call{method: "PUT", path: items + "TSP228082940", body: itemBody("One too many", 3), want: 507})
			if !bytes.Contains(r.body, []byte(`"quotaLimitReached"`)) {
				t.Errorf("PUT of an item past the limit = %s, want error quotaLimitReached", truncate(r.body))
			}
			c.do(t, call{method: "PUT", path: item, body: itemBody("Error in the payment gateway", 1), want: 200})
			if v.quota {
				if got := c.itemsRemaining(t, conn); got != 0 {
					t.Errorf("quota with %d items = %d items remaining, want 0", maxItems, got)
				}
			}
			c.do(t, call{method: "DELETE", path: second, want: 204})
			c.do(t, call{method: "DELETE", path: second, want: 404})
			if v.quota {
				if got := c.itemsRemaining(t, conn); got != 1 {
					t.Errorf("quota with an item = %d items remaining, want 1", got)
				}
				c.do(t, call{method: "GET", path: conns + "/nosuch/quota", want: 404})
			}
		})

		// Search, as the user whom the item's ACL grants.
		if v.search {
			t.Run(v.name+" search", func(t *testing.T) {
				query := v.prefix + "/search/query"
				r := c.do(t, call{method: "POST", path: query, body: searchRequest(v.conn, "payment"), token: c.user, want: 200})
				if !bytes.Contains(r.body, []byte(`"hitId":"`+itemID+`"`)) {
					t.Errorf("search for payment in %s = %s, want the hit %s", v.conn, truncate(r.body), itemID)
				}
				// An application's token, even one that reaches the items, cannot search.
				c.do(t, call{method: "POST", path: query, body: searchRequest(v.conn, "payment"), want: 403})
				driveItems := searchRequest(v.conn, "payment")
				driveItems["requests"].([]obj)[0]["entityTypes"] = []string{"driveItem"}
				c.do(t, call{method: "POST", path: query, body: driveItems, token: c.user, want: 400})
				c.do(t, call{method: "POST", path: query, body: obj{"requests": []obj{}}, token: c.user, want: 400, requestViolation: true})
				c.do(t, call{method: "POST", path: query, body: searchRequest(v.conn, big), token: c.user, want: 413})
				c.do(t, call{method: "POST", path: query, body: "payment", header: hdr{"Content-Type": "text/plain"}, token: c.user, want: 415})
			})
		}

		t.Run(v.name+" groups and members", func(t *testing.T) {
			groups := conn + "/groups"
			group := groups + "/" + groupID
			r := c.do(t, call{method: "POST", path: groups, body: obj{"id": groupID, "displayName": "Contoso HR team", "description": "Who may read HR tickets"}, want: 201})
			if loc := r.header.Get("Location"); !strings.HasSuffix(loc, group) {
				t.Errorf("POST group: Location %q, want the URL of %s", loc, group)
			}
			c.do(t, call{method: "POST", path: groups, body: obj{"id": groupID, "displayName": "Again"}, want: 409})
			c.do(t, call{method: "POST", path: groups, body: obj{"displayName": "No id"}, want: 400})
			c.do(t, call{method: "POST", path: groups, body: obj{"id": "not a group id!"}, want: 400, requestViolation: true})
			c.do(t, call{method: "POST", path: conns + "/nosuch/groups", body: obj{"id": "nosuchgroup"}, want: 404})
			c.do(t, call{method: "POST", path: groups, body: "x", header: hdr{"Content-Type": "text/plain"}, want: 415})
			c.do(t, call{method: "POST", path: groups, body: obj{"id": "big", "description": big}, want: 413})

			c.do(t, call{method: "GET", path: group, want: 200})
			c.do(t, call{method: "GET", path: groups + "/nosuch", want: 404})
			c.do(t, call{method: "PATCH", path: group, body: obj{"description": "Who may read and answer HR tickets"}, want: 204})
			c.do(t, call{method: "PATCH", path: group, body: obj{"id": "other"}, want: 400})
			c.do(t, call{method: "PATCH", path: group, body: obj{"displayName": 1}, want: 400, requestViolation: true})
			c.do(t, call{method: "PATCH", path: groups + "/nosuch", body: obj{"description": "x"}, want: 404})
			c.do(t, call{method: "PATCH", path: group, body: "x", header: hdr{"Content-Type": "text/plain"}, want: 415})
			c.do(t, call{method: "PATCH", path: group, body: obj{"description": big}, want: 413})

			members := group + "/members"
			c.do(t, call{method: "POST", path: members, body: obj{"id": memberID, "type": "user"}, want: 201})
			c.do(t, call{method: "POST", path: members, body: obj{"id": memberID, "type": "user"}, want: 409})
			const other = "b7dc0f9a-6f4e-4a38-9c0c-1e2a3b4c5d6e"
			c.do(t, call{method: "POST", path: members, body: obj{"id": other, "type": "group", "identitySource": "azureActiveDirectory"}, want: 201})
			c.do(t, call{method: "POST", path: members, body: obj{"id": "x", "type": "robot"}, want: 400, requestViolation: true})
			c.do(t, call{method: "POST", path: groups + "/nosuch/members", body: obj{"id": memberID}, want: 404})
			c.do(t, call{method: "POST", path: members, body: "x", header: hdr{"Content-Type": "text/plain"}, want: 415})
			c.do(t, call{method: "POST", path: members, body: obj{"id": big}, want: 413})

			ids := c.pages(t, members+"?%24top=1", 1)
			if want := []string{other, memberID}; !slices.Equal(ids, want) {
				t.Errorf("members listed one per page = %v, want %v", ids, want)
			}
			c.do(t, call{method: "GET", path: members + "?%24top=0", want: 400, requestViolation: true})
			c.do(t, call{method: "GET", path: groups + "/nosuch/members", want: 404})
			r = c.do(t, call{method: "GET", path: members + "/$count", want: 200})
			if string(r.body) != "2" {
				t.Errorf("GET %s/$count = %q, want 2", members, r.body)
			}
			c.do(t, call{method: "GET", path: groups + "/nosuch/members/$count", want: 404})
			c.do(t, call{method: "DELETE", path: members + "/" + other, want: 204})
			c.do(t, call{method: "DELETE", path: members + "/" + other, want: 404})

			// A group of its own to delete, with its members.
			old := groups + "/contosohr-old"
			c.do(t, call{method: "POST", path: groups, body: obj{"id": "contosohr-old"}, want: 201})
			c.do(t, call{method: "POST", path: old + "/members", body: obj{"id": memberID}, want: 201})
			c.do(t, call{method: "DELETE", path: old, want: 204})
			c.do(t, call{method: "DELETE", path: old, want: 404})
		})

		t.Run(v.name+" delete connections", func(t *testing.T) {
			other := conns + "/" + v.other
			c.do(t, call{method: "DELETE", path: other, header: hdr{"If-Match": `"1"`}, want: 412})
			c.do(t, call{method: "DELETE", path: other, want: 202})
			live = slices.DeleteFunc(live, func(id string) bool { return id == v.other })
			c.do(t, call{method: "DELETE", path: other, want: 404})
		})
	}

	// Every operation without a token (401), and with a token that grants
	// no permission of this API (403). Requests are otherwise valid: each
	// names what its version's script keeps, with a valid body.
	t.Run("authentication and permissions", func(t *testing.T) {
		fill := c.pathParams(t)
		for _, op := range c.operations() {
			cl := c.valid(t, fill, op)
			cl.token, cl.want = "-", 401
			c.do(t, cl)
			cl.token, cl.want = unrelated, 403
			c.do(t, cl)
		}
	})

	// Every operation answers every fault status when a plan says so: for
	// each status, a plan whose one rule fails every request with it, and
	// each operation's valid request. The fault comes before the handler,
	// so nothing changes.
	t.Run("faults", func(t *testing.T) {
		fill := c.pathParams(t)
		ops := c.operations()
		defer setFaults(t, srv.URL, "")
		for _, status := range faultStatuses {
			setFaults(t, srv.URL, fmt.Sprintf("enforceRetryAfter: false\nrules:\n  - name: every request\n    status: %d\n", status))
			t.Run(strconv.Itoa(status), func(t *testing.T) {
				for _, op := range ops {
					cl := c.valid(t, fill, op)
					cl.want = status
					c.do(t, cl)
				}
			})
		}
	})

	t.Run("every documented response was seen", func(t *testing.T) {
		var missing []string
		for _, k := range c.documented() {
			if !c.seen[k] {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			t.Errorf("no request through Prism got these documented responses:\n  %s", strings.Join(missing, "\n  "))
		}
	})
}

// version is one of the API's versions that openapi.yaml describes, as the
// script drives it.
type version struct {
	name   string // of its subtests
	prefix string // of its paths: "", "/v1.0" or "/beta"
	// families are the paths of a connection's operations under prefix,
	// without the connection: /external/connections, and /connections where
	// the version has that family too.
	families []string
	// conn and other are the connections that the script creates under this
	// version, distinct from the other versions': it keeps conn and deletes
	// other.
	conn, other string
	connType    string // an externalConnection's @odata.type, as the version's clients send it
	// opBody is an operation's body with an error, in the version's shape:
	// errorDetail on the unprefixed paths, publicError on /v1.0 and /beta.
	opBody func(status, code, message, target string) obj
	schema obj  // a schema registration, spelt as the version's clients spell it
	quota  bool // the version has GET .../quota
	search bool // the version has POST /search/query
}

var versions = []version{
	{
		name: "unprefixed", prefix: "", families: []string{"/external/connections", "/connections"},
		conn: "contosohr", other: "fabrikam", connType: "#microsoft.graph.externalConnection",
		opBody: errorDetailOp,
		schema: registration("", "string", "int64"),
	},
	{
		name: "v1.0", prefix: "/v1.0", families: []string{"/external/connections"},
		conn: "contosohrv1", other: "fabrikamv1", connType: "#microsoft.graph.externalConnectors.externalConnection",
		opBody: publicErrorOp("#microsoft.graph.externalConnectors.connectionOperation"),
		schema: registration("#microsoft.graph.externalConnectors.schema", "String", "Int64"),
		search: true,
	},
	{
		// Today's @odata.type without its '#', as some clients send it.
		name: "beta", prefix: "/beta", families: []string{"/external/connections", "/connections"},
		conn: "contosohrbeta", other: "fabrikambeta", connType: "microsoft.graph.externalConnectors.externalConnection",
		opBody: publicErrorOp("microsoft.graph.externalConnectors.connectionOperation"),
		schema: registration("microsoft.graph.externalConnectors.schema", "string", "Int64"),
		quota:  true,
		search: true,
	},
}

// versionOf is the version of a path of openapi.yaml: the one with the
// longest prefix that the path starts with.
func versionOf(path string) version {
	var best version
	for _, v := range versions {
		if strings.HasPrefix(path, v.prefix+"/") && len(v.prefix) >= len(best.prefix) {
			best = v
		}
	}
	return best
}

// grantUser is an item's acl: one user may find it.
var grantUser = []obj{{"type": "user", "value": memberID, "accessType": "grant"}}

// itemBody is an item that the version's registered schema takes.
func itemBody(title string, priority int) obj {
	return obj{"acl": grantUser, "properties": obj{"ticketTitle": title, "priority": priority},
		"content": obj{"value": "The payment gateway answers 500 to every refund.", "type": "text"}}
}

// pastActivity is when an activity that graphconn records started.
const pastActivity = "2021-04-06T18:04:31.033Z"

// activities is an addActivities request: one activity by a user per
// start.
func activities(starts ...string) obj {
	var acts []obj
	for _, s := range starts {
		acts = append(acts, obj{"@odata.type": "#microsoft.graph.externalConnectors.externalActivity", "type": "created",
			"startDateTime": s, "performedBy": obj{"type": "user", "id": memberID}})
	}
	return obj{"activities": acts}
}

// searchRequest searches the connection conn for queryString.
func searchRequest(conn, queryString string) obj {
	return obj{"requests": []obj{{"entityTypes": []string{"externalItem"},
		"contentSources": []string{"/external/connections/" + conn}, "query": obj{"queryString": queryString}}}}
}

// errorDetailOp is an operation in the unprefixed paths' shape: its error
// an errorDetail.
func errorDetailOp(status, code, message, target string) obj {
	return obj{"@odata.type": "#microsoft.graph.connectionOperation", "status": status,
		"error": obj{"@odata.type": "microsoft.graph.errorDetail", "errorCode": code, "message": message,
			"details": []obj{{"@odata.type": "microsoft.graph.innerErrorDetail", "source": target}}}}
}

// publicErrorOp makes operations in today's shape, with odataType: their
// error a publicError, with every property it has.
func publicErrorOp(odataType string) func(status, code, message, target string) obj {
	return func(status, code, message, target string) obj {
		detail := obj{"@odata.type": "microsoft.graph.publicErrorDetail", "code": code, "message": message, "target": target}
		return obj{"@odata.type": odataType, "status": status,
			"error": obj{"@odata.type": "microsoft.graph.publicError", "code": code, "message": message, "target": target,
				"details": []obj{detail},
				"innerError": obj{"@odata.type": "microsoft.graph.publicInnerError", "code": code, "message": message, "target": target,
					"details": []obj{detail}}}}
	}
}

// registration is a schema of two properties, a string and an int64, with
// their types spelt str and i64, and odataType unless it is empty.
func registration(odataType, str, i64 string) obj {
	s := obj{"baseType": "microsoft.graph.externalItem", "properties": []obj{
		{"name": "ticketTitle", "type": str, "isSearchable": true, "isRetrievable": true, "labels": []string{"title"}},
		{"name": "priority", "type": i64, "isQueryable": true, "isRefinable": true},
	}}
	if odataType != "" {
		s["@odata.type"] = odataType
	}
	return s
}

type (
	obj map[string]any
	hdr map[string]string
)

// call is one request through Prism.
type call struct {
	method, path string
	body         any // nil, a string sent as is, or a value sent as JSON
	header       hdr
	token        string // "" for the client's token, "-" for none
	want         int    // the status graphconn must answer; -1 for any
	// requestViolation: Prism must flag the request (the test's proof that
	// Prism validates requests).
	requestViolation bool
	// canary: the shim corrupted the response, so Prism must flag it.
	canary bool
}

type result struct {
	status     int
	header     http.Header
	body       []byte
	violations []violation
}

type client struct {
	base   string // Prism's URL
	token  string
	user   string // the token of the user whom the kept item's ACL grants, to search
	http   *http.Client
	spec   *openapi3.T
	router routers.Router

	mu   sync.Mutex
	seen map[string]bool // "METHOD /spec/path STATUS" answered through Prism
}

func (c *client) do(t *testing.T, cl call) result {
	t.Helper()
	var body io.Reader
	switch b := cl.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("json.Marshal(%v) = %v", b, err)
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequest(cl.method, c.base+cl.path, body)
	if err != nil {
		t.Fatalf("http.NewRequest(%s %s) = %v", cl.method, cl.path, err)
	}
	req.Header.Set("Accept", "application/json")
	switch cl.token {
	case "":
		req.Header.Set("Authorization", "Bearer "+c.token)
	case "-":
	default:
		req.Header.Set("Authorization", "Bearer "+cl.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range cl.header {
		req.Header.Set(k, v)
	}
	what := cl.method + " " + cl.path
	if len(what) > 160 {
		what = what[:160] + "..."
	}
	res, err := c.http.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s: reading the body: %v", what, err)
	}
	r := result{status: res.StatusCode, header: res.Header, body: data}
	if h := res.Header.Get("sl-violations"); h != "" {
		if err := json.Unmarshal([]byte(h), &r.violations); err != nil {
			t.Fatalf("%s: sl-violations header %q is not JSON: %v", what, h, err)
		}
	}
	if cl.want >= 0 && r.status != cl.want {
		t.Errorf("%s = %d %s, want %d", what, r.status, truncate(data), cl.want)
	}

	var sawRequest, sawResponse bool
	for _, v := range r.violations {
		switch v.side() {
		case "request":
			sawRequest = true
			if r.status < 300 {
				t.Errorf("%s: graphconn answered %d to a request that breaks the contract: %s", what, r.status, v)
			}
		default:
			sawResponse = true
			if !cl.canary {
				t.Errorf("%s: response %d breaks the contract: %s\nbody: %s", what, r.status, v, truncate(data))
			}
		}
	}
	if cl.requestViolation && !sawRequest {
		t.Errorf("%s: Prism flagged no request violation, want one (violations: %v)", what, r.violations)
	}
	if cl.canary {
		if !sawResponse {
			t.Errorf("%s: Prism flagged no violation in a response that the test corrupted: it does not check responses", what)
		}
		return r
	}

	route, _, err := c.router.FindRoute(req)
	if err != nil {
		if r.status < 400 {
			t.Errorf("%s: status %d for a request that matches no operation", what, r.status)
		}
		return r
	}
	c.mu.Lock()
	c.seen[fmt.Sprintf("%s %s %d", route.Method, route.Path, r.status)] = true
	c.mu.Unlock()
	return r
}

// pages follows @odata.nextLink from path and returns the ids listed. With
// wantPages >= 0, that many nextLinks must come.
func (c *client) pages(t *testing.T, path string, wantPages int) []string {
	t.Helper()
	var ids []string
	links := 0
	for i := 0; path != ""; i++ {
		if i > 100 {
			t.Fatalf("more than 100 pages from %s", path)
		}
		r := c.do(t, call{method: "GET", path: path, want: 200})
		var page struct {
			Value    []struct{ ID string }
			NextLink string `json:"@odata.nextLink"`
		}
		if err := json.Unmarshal(r.body, &page); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		for _, v := range page.Value {
			ids = append(ids, v.ID)
		}
		path = ""
		if page.NextLink != "" {
			links++
			u, err := url.Parse(page.NextLink)
			if err != nil || !u.IsAbs() {
				t.Fatalf("@odata.nextLink %q is not an absolute URL", page.NextLink)
			}
			path = u.RequestURI() // through Prism, not to the host graphconn named
		}
	}
	if wantPages >= 0 && links != wantPages {
		t.Errorf("%d nextLinks, want %d", links, wantPages)
	}
	return ids
}

// operation is an operation of openapi.yaml.
type operation struct{ method, path string }

// operations lists the operations of openapi.yaml, by path and method.
func (c *client) operations() []operation {
	var ops []operation
	for path, item := range c.spec.Paths.Map() {
		for method := range item.Operations() {
			ops = append(ops, operation{method, path})
		}
	}
	slices.SortFunc(ops, func(a, b operation) int { return strings.Compare(a.path+" "+a.method, b.path+" "+b.method) })
	return ops
}

// pathParams returns, for each version's prefix, what fills the path
// parameters of its operations: its connection, a new operation of it, and
// the item, group and member that the version's script keeps.
func (c *client) pathParams(t *testing.T) map[string]*strings.Replacer {
	t.Helper()
	fill := map[string]*strings.Replacer{}
	for _, v := range versions {
		r := c.do(t, call{method: "POST", path: v.prefix + "/external/connections/" + v.conn + "/operations", body: obj{}, want: 201})
		fill[v.prefix] = strings.NewReplacer("{externalConnectionId}", v.conn, "{connectionsId}", v.conn,
			"{connectionOperationId}", entityID(t, r.body),
			"{externalItemId}", itemID, "{externalGroupId}", groupID, "{identityId}", memberID)
	}
	return fill
}

// valid is a valid request of op, its path filled by fill: one that
// graphconn would serve, were no fault planned and the token right.
func (c *client) valid(t *testing.T, fill map[string]*strings.Replacer, op operation) call {
	t.Helper()
	v := versionOf(op.path)
	cl := call{method: op.method, path: fill[v.prefix].Replace(op.path)}
	if strings.ContainsAny(cl.path, "{}") {
		t.Fatalf("%s %s: a path parameter is left in %s", op.method, op.path, cl.path)
	}
	if c.spec.Paths.Value(op.path).GetOperation(op.method).RequestBody == nil {
		return cl
	}
	switch rest := strings.TrimPrefix(op.path, v.prefix); {
	case rest == "/external/connections":
		cl.body = obj{"@odata.type": v.connType, "id": "prismnew", "name": "New"}
	case rest == "/external/connections/{externalConnectionId}":
		cl.body = obj{"description": "Changed"}
	case strings.HasSuffix(rest, "/schema"):
		cl.body = v.schema
	case strings.HasSuffix(rest, "/operations"):
		cl.body = obj{}
	case strings.HasSuffix(rest, "/operations/{connectionOperationId}"):
		cl.body = obj{"status": "completed"}
	case strings.HasSuffix(rest, "/items/{externalItemId}") && op.method == "PUT":
		cl.body = itemBody("Error in the payment gateway", 1)
	case strings.HasSuffix(rest, "/items/{externalItemId}") && op.method == "PATCH":
		cl.body = obj{"properties": obj{"priority": 2}}
	case strings.HasSuffix(rest, "addActivities"):
		cl.body = activities(pastActivity)
	case strings.HasSuffix(rest, "/groups"):
		cl.body = obj{"id": "prismnew", "displayName": "New"}
	case strings.HasSuffix(rest, "/groups/{externalGroupId}"):
		cl.body = obj{"description": "Changed"}
	case strings.HasSuffix(rest, "/members"):
		cl.body = obj{"id": "0b2c6b9e-4f0e-4d7e-8a53-6c1f3f7d2a10", "type": "user"}
	case rest == "/search/query":
		cl.body, cl.token = searchRequest(v.conn, "payment"), c.user
	default:
		t.Fatalf("%s %s: valid knows no body for it; add one", op.method, op.path)
	}
	return cl
}

// itemsRemaining is beta's quota of the connection at path.
func (c *client) itemsRemaining(t *testing.T, path string) int64 {
	t.Helper()
	r := c.do(t, call{method: "GET", path: path + "/quota", want: 200})
	var q struct{ ItemsRemaining *int64 }
	if err := json.Unmarshal(r.body, &q); err != nil || q.ItemsRemaining == nil {
		t.Fatalf("GET %s/quota = %s, want itemsRemaining", path, truncate(r.body))
	}
	return *q.ItemsRemaining
}

// setFaults makes plan graphconn's fault plan through its admin endpoint,
// which is not Graph's and so not Prism's; an empty plan removes it.
func setFaults(t *testing.T, base, plan string) {
	t.Helper()
	method := http.MethodPut
	if plan == "" {
		method = http.MethodDelete
	}
	req, err := http.NewRequest(method, base+"/_graphconn/faults", strings.NewReader(plan))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Graphconn-Admin-Token", adminToken)
	req.Header.Set("Content-Type", "application/yaml")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s /_graphconn/faults: %v", method, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		t.Fatalf("%s /_graphconn/faults = %d %s, want 2xx", method, res.StatusCode, body)
	}
}

// documented lists every "METHOD /path STATUS" of openapi.yaml, but default.
func (c *client) documented() []string {
	var all []string
	for path, item := range c.spec.Paths.Map() {
		for method, op := range item.Operations() {
			for status := range op.Responses.Map() {
				if status != "default" {
					all = append(all, method+" "+path+" "+status)
				}
			}
		}
	}
	sort.Strings(all)
	return all
}

func loadSpec(t *testing.T) (*openapi3.T, routers.Router) {
	t.Helper()
	spec, err := openapi3.NewLoader().LoadFromFile(specPath)
	if err != nil {
		t.Fatalf("load %s: %v", specPath, err)
	}
	if err := spec.Validate(context.Background()); err != nil {
		t.Fatalf("%s: %v", specPath, err)
	}
	router, err := gorillamux.NewRouter(spec)
	if err != nil {
		t.Fatal(err)
	}
	return spec, router
}

// canaryProxy forwards every request to graphconn unchanged, except that it
// adds a property to the JSON object answered to a request that carries
// canaryHeader.
func canaryProxy(t *testing.T, target string) *httptest.Server {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(res *http.Response) error {
		if res.Request.Header.Get(canaryHeader) == "" {
			return nil
		}
		data, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			return err
		}
		var doc map[string]any
		if json.Unmarshal(data, &doc) == nil {
			doc["canary"] = true
			data, _ = json.Marshal(doc)
		}
		res.Body = io.NopCloser(bytes.NewReader(data))
		res.ContentLength = int64(len(data))
		res.Header.Set("Content-Length", strconv.Itoa(len(data)))
		return nil
	}
	s := httptest.NewServer(rp)
	t.Cleanup(s.Close)
	return s
}

// startPrism runs `prism proxy openapi.yaml upstream` on a free loopback
// port, waits until it listens, and stops it when the test ends. Without
// --errors, Prism forwards every request and reports what breaks the
// contract in the sl-violations header.
func startPrism(ctx context.Context, t *testing.T, prism, upstream string) string {
	t.Helper()
	spec, err := filepath.Abs(specPath)
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	cmd := exec.CommandContext(ctx, prism, "proxy", spec, upstream,
		"--host", "127.0.0.1", "--port", strconv.Itoa(port), "--errors=false", "--validate-request=true")
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "FORCE_COLOR=0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := new(bytes.Buffer)
	var mu sync.Mutex
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", prism, err)
	}
	listening := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		once := sync.Once{}
		for sc.Scan() {
			mu.Lock()
			logs.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if strings.Contains(sc.Text(), "Prism is listening on") {
				once.Do(func() { close(listening) })
			}
		}
		_, _ = io.Copy(io.Discard, out)
		done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			mu.Lock()
			t.Logf("prism logs:\n%s", logs)
			mu.Unlock()
		}
	})
	select {
	case <-listening:
	case err := <-done:
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("prism exited before listening: %v\n%s", err, logs)
	case <-time.After(90 * time.Second):
		t.Fatalf("prism did not listen within 90s")
	}
	return "http://127.0.0.1:" + strconv.Itoa(port)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func entityID(t *testing.T, body []byte) string {
	t.Helper()
	var e struct{ ID string }
	if err := json.Unmarshal(body, &e); err != nil || e.ID == "" {
		t.Fatalf("no id in %s", body)
	}
	return e.ID
}

// properties lists the properties of a JSON object, but its annotations
// (@odata.*), which $select does not limit.
func properties(t *testing.T, body []byte) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("body %s: %v", body, err)
	}
	var ks []string
	for k := range m {
		if !strings.HasPrefix(k, "@") {
			ks = append(ks, k)
		}
	}
	sort.Strings(ks)
	return ks
}

func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}
