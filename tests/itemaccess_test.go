package tests

import (
	"net/http"
	"strings"
	"testing"

	"github.com/graphconn/graphconn/auth"
)

// itemCalls are the calls of every item, external group and member
// operation on connection conn, on every version, that reach item,
// group and member.
func itemCalls(conn, item, group, member string) []call {
	var calls []call
	for _, v := range versions {
		it := itemURL(v, conn, item)
		g := groupsURL(v, conn)
		calls = append(calls,
			call{method: "GET", path: it},
			call{method: "PUT", path: it, body: itemBody("Taken over")},
			call{method: "PATCH", path: it, body: map[string]any{"properties": map[string]any{"ticketTitle": "Taken over"}}},
			call{method: "DELETE", path: it},
			call{method: "POST", path: it + "/addActivities", body: validBody("POST", "/external/connections/{externalConnectionId}/items/{externalItemId}/addActivities")},
			call{method: "POST", path: it + "/microsoft.graph.externalConnectors.addActivities", body: validBody("POST", "/external/connections/{externalConnectionId}/items/{externalItemId}/addActivities")},
			call{method: "POST", path: g, body: map[string]any{"id": "intruders"}},
			call{method: "GET", path: g + "/" + group},
			call{method: "PATCH", path: g + "/" + group, body: map[string]any{"displayName": "Taken over"}},
			call{method: "DELETE", path: g + "/" + group},
			call{method: "GET", path: g + "/" + group + "/members"},
			call{method: "POST", path: g + "/" + group + "/members", body: map[string]any{"id": "intruder"}},
			call{method: "GET", path: g + "/" + group + "/members/$count"},
			call{method: "DELETE", path: g + "/" + group + "/members/" + member},
		)
	}
	return calls
}

// untouched fails t unless conn's item, group and member are as the
// fixture of the test made them, as h reads them.
func (e *env) untouched(h map[string]string, conn, item, title, group string) {
	e.t.Helper()
	r := e.as(h, call{method: "GET", path: itemURL("/v1.0", conn, item)})
	if props, _ := r.json(e.t)["properties"].(map[string]any); r.status != http.StatusOK || props["ticketTitle"] != title {
		e.t.Errorf("%s's item = %d %s, want it untouched, titled %q", conn, r.status, r.body, title)
	}
	r = e.as(h, call{method: "GET", path: groupsURL("/v1.0", conn) + "/" + group})
	if r.status != http.StatusOK || r.json(e.t)["displayName"] != "Owners" {
		e.t.Errorf("%s's group = %d %s, want it untouched", conn, r.status, r.body)
	}
	r = e.as(h, call{method: "GET", path: groupsURL("/v1.0", conn) + "/" + group + "/members/$count"})
	if r.status != http.StatusOK || string(r.body) != "1" {
		e.t.Errorf("%s's group's $count = %d %s, want 1", conn, r.status, r.body)
	}
	r = e.as(h, call{method: "GET", path: groupsURL("/v1.0", conn) + "/intruders"})
	if r.status != http.StatusNotFound {
		e.t.Errorf("%s has a group intruders: GET = %d %s", conn, r.status, r.body)
	}
}

// populate puts an item, titled title, and creates a group "owners" with
// one member on conn, as h.
func (e *env) populate(h map[string]string, conn, title string) {
	e.t.Helper()
	for _, c := range []call{
		{method: "PUT", path: itemURL("/v1.0", conn, "TSP1"), body: itemBody(title)},
		{method: "POST", path: groupsURL("/v1.0", conn), body: map[string]any{"id": "owners", "displayName": "Owners"}},
		{method: "POST", path: groupsURL("/v1.0", conn) + "/owners/members", body: map[string]any{"id": "e811976d-83df-4cbd-8b9b-5215b18aa874"}},
	} {
		if r := e.as(h, c); r.status >= 300 {
			e.t.Fatalf("%s %s = %d %s", c.method, c.path, r.status, r.body)
		}
	}
}

// The ExternalItem permissions: ReadWrite.OwnedBy reaches the items,
// groups and members of its own app's connections only (another app's
// answer 404, as a missing connection); Read.All reads everyone's and
// changes nothing (403); ReadWrite.All reaches everyone's; the
// ExternalConnection permissions reach no item (403).
func TestItemPermissions(t *testing.T) {
	e := newItemsEnv(t)
	alice := e.bearer("alice-app", devTenant, readWriteOwn, itemReadWriteOwn)
	bob := e.bearer("bob-app", devTenant, readWriteOwn, itemReadWriteOwn)
	e.schemaConnection(alice, "aliceconn", goodSchema)
	e.schemaConnection(bob, "bobconn", goodSchema)
	e.populate(bob, "bobconn", "Bob's")
	calls := itemCalls("bobconn", "TSP1", "owners", "e811976d-83df-4cbd-8b9b-5215b18aa874")

	for _, caller := range []struct {
		name string
		h    map[string]string
	}{
		{"alice, ReadWrite.OwnedBy of both", alice},
		{"alice's app, ExternalItem.ReadWrite.OwnedBy alone", e.bearer("alice-app", devTenant, itemReadWriteOwn)},
		{"a user of alice's app, ExternalItem.ReadWrite.OwnedBy", map[string]string{"Authorization": "Bearer " + e.mint(auth.TokenOptions{AppID: "alice-app", Scopes: []string{itemReadWriteOwn}})}},
	} {
		t.Run(caller.name, func(t *testing.T) {
			e := e.with(t)
			for _, c := range calls {
				r := e.as(caller.h, c)
				if r.status != http.StatusNotFound || r.errorCode(t) != "itemNotFound" || r.errorMessage(t) != "The connection 'bobconn' was not found." {
					t.Errorf("%s %s = %d %s, want 404 as for a missing connection", c.method, c.path, r.status, r.body)
				}
			}
			e.untouched(bob, "bobconn", "TSP1", "Bob's", "owners")
		})
	}

	t.Run("ExternalItem.Read.All", func(t *testing.T) {
		e := e.with(t)
		for _, caller := range []struct {
			name       string
			h          map[string]string
			wantWrites int
		}{
			{"alone", e.bearer("reader-app", devTenant, itemReadAll), http.StatusForbidden},
			// Read.All reads beyond what alice owns; her writes stay hers.
			{"with alice's ReadWrite.OwnedBy", e.bearer("alice-app", devTenant, itemReadAll, itemReadWriteOwn), http.StatusNotFound},
		} {
			for _, c := range calls {
				r := e.as(caller.h, c)
				switch want := caller.wantWrites; {
				case c.method == http.MethodGet && r.status != http.StatusOK:
					t.Errorf("%s: %s %s = %d %s, want 200", caller.name, c.method, c.path, r.status, r.body)
				case c.method != http.MethodGet && r.status != want:
					t.Errorf("%s: %s %s = %d %s, want %d", caller.name, c.method, c.path, r.status, r.body, want)
				case r.status == http.StatusForbidden && r.errorCode(t) != "Authorization_RequestDenied":
					t.Errorf("%s: %s %s = %s, want Authorization_RequestDenied", caller.name, c.method, c.path, r.body)
				}
			}
		}
		e.untouched(bob, "bobconn", "TSP1", "Bob's", "owners")
	})

	t.Run("ExternalConnection permissions only", func(t *testing.T) {
		e := e.with(t)
		for _, h := range []map[string]string{
			e.bearer("bob-app", devTenant, readWriteOwn),
			e.bearer("admin-app", devTenant, readWriteAll, readAll),
		} {
			for _, c := range calls {
				r := e.as(h, c)
				if r.status != http.StatusForbidden || r.errorCode(t) != "Authorization_RequestDenied" {
					t.Errorf("%s %s = %d %s, want 403 Authorization_RequestDenied", c.method, c.path, r.status, r.body)
				}
			}
			// The quota is the connection's, and takes them.
			if r := e.as(h, call{method: "GET", path: "/beta/external/connections/bobconn/quota"}); r.status != http.StatusOK {
				t.Errorf("GET quota = %d %s, want 200", r.status, r.body)
			}
		}
		e.untouched(bob, "bobconn", "TSP1", "Bob's", "owners")
	})

	t.Run("the owner, and ReadWrite.All", func(t *testing.T) {
		e := e.with(t)
		bobItemsOnly := e.bearer("bob-app", devTenant, itemReadWriteOwn)
		if r := e.as(bobItemsOnly, call{method: "PUT", path: itemURL("/v1.0", "bobconn", "TSP2"), body: itemBody("Bob's too")}); r.status != http.StatusOK {
			t.Errorf("bob with ExternalItem.ReadWrite.OwnedBy: PUT on his connection = %d %s, want 200", r.status, r.body)
		}
		if r := e.as(alice, call{method: "PUT", path: itemURL("/beta", "aliceconn", "TSP1"), body: itemBody("Alice's")}); r.status != http.StatusOK {
			t.Errorf("alice: PUT on her connection = %d %s, want 200", r.status, r.body)
		}
		admin := e.bearer("admin-app", devTenant, itemReadWriteAll)
		if r := e.as(admin, call{method: "PUT", path: itemURL("", "bobconn", "TSP3"), body: itemBody("Admin's")}); r.status != http.StatusOK {
			t.Errorf("ReadWrite.All: PUT on bob's connection = %d %s, want 200", r.status, r.body)
		}
		if r := e.as(admin, call{method: "DELETE", path: groupsURL("/beta", "bobconn") + "/owners"}); r.status != http.StatusNoContent {
			t.Errorf("ReadWrite.All: DELETE of bob's group = %d %s, want 204", r.status, r.body)
		}
	})
}

// Another tenant's connection has no items, groups or members for anyone:
// every call answers 404 as for a connection that does not exist; a
// connection of the same id in the other tenant has items of its own.
func TestItemsOfAnotherTenant(t *testing.T) {
	e := newItemsEnv(t)
	const app = "hr-connector"
	owner := e.bearer(app, tenantA, readWriteOwn, itemReadWriteOwn)
	e.schemaConnection(owner, "contosohr", goodSchema)
	e.populate(owner, "contosohr", "Tenant A's")
	calls := itemCalls("contosohr", "TSP1", "owners", "e811976d-83df-4cbd-8b9b-5215b18aa874")
	calls = append(calls, call{method: "GET", path: "/beta/external/connections/contosohr/quota"})

	attackers := []struct {
		name     string
		h        map[string]string
		readOnly bool
	}{
		{"same app, OwnedBy, tenant B", e.bearer(app, tenantB, readWriteOwn, itemReadWriteOwn), false},
		{"ReadWrite.All, tenant B", e.bearer("admin-app", tenantB, readWriteAll, itemReadWriteAll), false},
		{"Read.All, tenant B", e.bearer("reader-app", tenantB, readAll, itemReadAll), true},
		{"same app, ReadWrite.All, development tenant", e.bearer(app, devTenant, readWriteAll, itemReadWriteAll), false},
	}
	for _, a := range attackers {
		t.Run(a.name, func(t *testing.T) {
			e := e.with(t)
			for _, c := range calls {
				if a.readOnly && c.method != http.MethodGet {
					continue
				}
				r := e.as(a.h, c)
				if r.status != http.StatusNotFound || r.errorMessage(t) != "The connection 'contosohr' was not found." {
					t.Errorf("%s %s = %d %s, want 404 as for a missing connection", c.method, c.path, r.status, r.body)
				}
			}
		})
	}
	e.untouched(owner, "contosohr", "TSP1", "Tenant A's", "owners")

	// Tenant B's own contosohr, with the same item and group ids.
	adminB := attackers[1].h
	e.schemaConnection(adminB, "contosohr", goodSchema)
	e.populate(adminB, "contosohr", "Tenant B's")
	e.untouched(adminB, "contosohr", "TSP1", "Tenant B's", "owners")
	e.untouched(owner, "contosohr", "TSP1", "Tenant A's", "owners")
	if r := e.as(adminB, call{method: "DELETE", path: itemURL("/v1.0", "contosohr", "TSP1")}); r.status != http.StatusNoContent {
		t.Errorf("tenant B: DELETE its item = %d %s", r.status, r.body)
	}
	e.untouched(owner, "contosohr", "TSP1", "Tenant A's", "owners")
	for _, h := range []map[string]string{owner, adminB} {
		r := e.as(h, call{method: "GET", path: "/beta/external/connections/contosohr/quota"})
		want := float64(5_000_000 - 1)
		if h["Authorization"] == adminB["Authorization"] {
			want++
		}
		if got := r.json(t)["itemsRemaining"]; got != want {
			t.Errorf("quota = %v, want %v: each tenant counts its own items", got, want)
		}
	}
}

// Deleting a connection deletes its items, groups and members: a new
// connection of the same id starts without them, and without a schema.
func TestDeletingAConnectionDeletesItsItems(t *testing.T) {
	e := newItemsEnv(t)
	const conn = "doomed"
	e.schemaConnection(nil, conn, goodSchema)
	e.populate(nil, conn, "Doomed")
	if r := e.do(call{method: "POST", path: itemURL("/v1.0", conn, "TSP1") + "/addActivities",
		body: validBody("POST", "/external/connections/{externalConnectionId}/items/{externalItemId}/addActivities")}); r.status != http.StatusOK {
		t.Fatalf("addActivities = %d %s", r.status, r.body)
	}
	if r := e.do(call{method: "DELETE", path: "/v1.0/external/connections/" + conn}); r.status != http.StatusAccepted {
		t.Fatalf("DELETE connection = %d %s", r.status, r.body)
	}
	for _, path := range []string{itemURL("/v1.0", conn, "TSP1"), groupsURL("/v1.0", conn) + "/owners", groupsURL("/v1.0", conn) + "/owners/members"} {
		if r := e.do(call{method: "GET", path: path}); r.status != http.StatusNotFound || r.errorMessage(t) != "The connection 'doomed' was not found." {
			t.Errorf("GET %s of a deleted connection = %d %s, want 404 naming the connection", path, r.status, r.body)
		}
	}

	if r := e.do(call{method: "POST", path: "/v1.0/external/connections", body: map[string]any{"id": conn, "name": "Reborn"}}); r.status != http.StatusCreated {
		t.Fatalf("POST the connection again = %d %s", r.status, r.body)
	}
	for _, c := range []struct {
		path, wantMsg string
	}{
		{itemURL("/v1.0", conn, "TSP1"), "The item 'TSP1' was not found."},
		{groupsURL("/v1.0", conn) + "/owners", "The external group 'owners' was not found."},
		{groupsURL("/v1.0", conn) + "/owners/members", "The external group 'owners' was not found."},
		{groupsURL("/v1.0", conn) + "/owners/members/$count", "The external group 'owners' was not found."},
	} {
		if r := e.do(call{method: "GET", path: c.path}); r.status != http.StatusNotFound || r.errorMessage(t) != c.wantMsg {
			t.Errorf("GET %s of the new connection = %d %s, want 404 %q", c.path, r.status, r.body, c.wantMsg)
		}
	}
	if got := e.quota(conn); got != 5_000_000 {
		t.Errorf("the new connection's itemsRemaining = %d, want 5000000", got)
	}
	if r := e.do(call{method: "PUT", path: itemURL("/v1.0", conn, "TSP1"), body: itemBody("Reborn")}); r.status != http.StatusBadRequest ||
		!strings.Contains(r.errorMessage(t), "no registered schema") {
		t.Errorf("PUT on the new connection before its schema = %d %s, want 400: the old schema went with the old connection", r.status, r.body)
	}
	if r := e.do(call{method: "POST", path: groupsURL("/v1.0", conn), body: map[string]any{"id": "owners"}}); r.status != http.StatusCreated {
		t.Errorf("POST group owners on the new connection = %d %s, want 201", r.status, r.body)
	}
	if r := e.do(call{method: "GET", path: groupsURL("/v1.0", conn) + "/owners/members/$count"}); string(r.body) != "0" {
		t.Errorf("the new group owners' $count = %s, want 0", r.body)
	}
}
