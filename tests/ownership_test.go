package tests

import (
	"net/http"
	"slices"
	"testing"

	"github.com/graphconn/graphconn/auth"
)

// An app holding only ExternalConnection.ReadWrite.OwnedBy sees and changes
// only the connections it created; another app's answer 404, exactly as if
// they did not exist.
func TestOwnedBy(t *testing.T) {
	e := newEnv(t)
	token := func(app string, roles ...string) map[string]string {
		return map[string]string{"Authorization": "Bearer " + e.mint(auth.TokenOptions{AppID: app, Roles: roles})}
	}
	alice, bob := token("alice-app", readWriteOwn), token("bob-app", readWriteOwn)
	admin, reader := token("admin-app", readWriteAll), token("reader-app", readAll)

	setup := func(h map[string]string, conn string) string {
		t.Helper()
		if r := e.do(call{method: "POST", path: "/external/connections", header: h, body: map[string]any{"id": conn, "name": conn}}); r.status != http.StatusCreated {
			t.Fatalf("POST %s = %d %s", conn, r.status, r.body)
		}
		r := e.do(call{method: "POST", path: "/connections/" + conn + "/operations", header: h, body: map[string]any{"status": "inprogress"}})
		if r.status != http.StatusCreated {
			t.Fatalf("POST operation = %d %s", r.status, r.body)
		}
		return r.json(t)["id"].(string)
	}
	aliceOp := setup(alice, "aliceconn")
	bobOp := setup(bob, "bobconn")

	list := func(h map[string]string) []string {
		t.Helper()
		r := e.do(call{method: "GET", path: "/external/connections", header: h})
		var ids []string
		for _, v := range r.json(t)["value"].([]any) {
			ids = append(ids, v.(map[string]any)["id"].(string))
		}
		slices.Sort(ids)
		return ids
	}
	for _, tt := range []struct {
		name string
		h    map[string]string
		want []string
	}{
		{"alice", alice, []string{"aliceconn"}},
		{"bob", bob, []string{"bobconn"}},
		{"ReadWrite.All", admin, []string{"aliceconn", "bobconn"}},
		{"Read.All", reader, []string{"aliceconn", "bobconn"}},
	} {
		if got := list(tt.h); !slices.Equal(got, tt.want) {
			t.Errorf("%s lists %v, want %v", tt.name, got, tt.want)
		}
	}

	// Everything of Bob's answers Alice as the missing would.
	missing := e.do(call{method: "GET", path: "/external/connections/nosuchconn", header: alice})
	for _, c := range []call{
		{method: "GET", path: "/external/connections/bobconn"},
		{method: "PATCH", path: "/external/connections/bobconn", body: map[string]any{"name": "mine now"}},
		{method: "DELETE", path: "/external/connections/bobconn"},
		{method: "GET", path: "/external/connections/bobconn/schema"},
		{method: "PATCH", path: "/external/connections/bobconn/schema", body: goodSchema},
		{method: "GET", path: "/external/connections/bobconn/operations"},
		{method: "POST", path: "/connections/bobconn/operations", body: map[string]any{}},
		{method: "GET", path: "/connections/bobconn/operations/" + bobOp},
		{method: "PATCH", path: "/external/connections/bobconn/operations/" + bobOp, body: map[string]any{"status": "failed"}},
		{method: "DELETE", path: "/connections/bobconn/operations/" + bobOp},
	} {
		c.header = alice
		r := e.do(c)
		if r.status != http.StatusNotFound || r.errorMessage(t) != "The connection 'bobconn' was not found." {
			t.Errorf("alice: %s %s = %d %s, want 404 as for a missing connection", c.method, c.path, r.status, r.body)
		}
	}
	if missing.status != http.StatusNotFound || missing.errorMessage(t) != "The connection 'nosuchconn' was not found." {
		t.Errorf("GET of a missing connection = %d %s", missing.status, missing.body)
	}

	// Bob's things are untouched, and Alice still works on her own.
	if r := e.do(call{method: "GET", path: "/connections/bobconn/operations/" + bobOp, header: bob}); r.status != http.StatusOK || r.entity(t)["status"] != "inprogress" {
		t.Errorf("bob's operation after alice's attempts = %d %s", r.status, r.body)
	}
	if r := e.do(call{method: "PATCH", path: "/connections/aliceconn/operations/" + aliceOp, header: alice, body: map[string]any{"status": "completed"}}); r.status != http.StatusOK {
		t.Errorf("alice PATCHing her own operation = %d %s", r.status, r.body)
	}
	// ReadWrite.All reaches everyone's; Read.All reads but does not change.
	if r := e.do(call{method: "PATCH", path: "/external/connections/bobconn", header: admin, body: map[string]any{"description": "by admin"}}); r.status != http.StatusNoContent {
		t.Errorf("admin PATCHing bob's connection = %d %s", r.status, r.body)
	}
	if r := e.do(call{method: "GET", path: "/connections/bobconn/operations/" + bobOp, header: reader}); r.status != http.StatusOK {
		t.Errorf("reader GETting bob's operation = %d %s", r.status, r.body)
	}
}
