package tests

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// groupsURL is the path of the external groups of conn under version v.
func groupsURL(v, conn string) string {
	return v + "/external/connections/" + conn + "/groups"
}

// An external group's life on each version: created (201 and Location),
// read, changed (204), deleted; refused when its id is taken or breaks the
// rule; and no schema needed.
func TestExternalGroups(t *testing.T) {
	e := newItemsEnv(t)
	for _, v := range versions {
		t.Run(versionName(v), func(t *testing.T) {
			e := e.with(t)
			conn := connFor("groups", v)
			if r := e.do(call{method: "POST", path: "/external/connections", body: map[string]any{"id": conn, "name": conn}}); r.status != http.StatusCreated {
				t.Fatalf("POST connection = %d %s", r.status, r.body)
			}
			groups := groupsURL(v, conn)
			const id = "31bea3d537902000"
			body := map[string]any{"@odata.type": "#microsoft.graph.externalConnectors.externalGroup", "id": id,
				"displayName": "Contoso Marketing", "description": "The product marketing team"}
			want := map[string]any{"@odata.type": "#microsoft.graph.externalConnectors.externalGroup", "id": id,
				"displayName": "Contoso Marketing", "description": "The product marketing team"}
			wantContext := e.srv.URL + v + "/$metadata#external/connections('" + conn + "')/groups/$entity"
			group := func(r result) map[string]any {
				t.Helper()
				m := r.json(t)
				if m["@odata.context"] != wantContext {
					t.Errorf("@odata.context = %v, want %v", m["@odata.context"], wantContext)
				}
				delete(m, "@odata.context")
				return m
			}

			r := e.do(call{method: "POST", path: groups, body: body})
			if r.status != http.StatusCreated {
				t.Fatalf("POST group = %d %s, want 201", r.status, r.body)
			}
			if diff := cmp.Diff(want, group(r)); diff != "" {
				t.Errorf("POST response mismatch (-want +got):\n%s", diff)
			}
			loc, err := url.Parse(r.header.Get("Location"))
			if err != nil || loc.String() != e.srv.URL+groups+"/"+id {
				t.Errorf("Location = %q, want %s", r.header.Get("Location"), e.srv.URL+groups+"/"+id)
			}
			get := func(what string) {
				t.Helper()
				r := e.do(call{method: "GET", path: groups + "/" + id})
				if r.status != http.StatusOK {
					t.Fatalf("GET after %s = %d %s, want 200", what, r.status, r.body)
				}
				if diff := cmp.Diff(want, group(r)); diff != "" {
					t.Errorf("GET after %s mismatch (-want +got):\n%s", what, diff)
				}
			}
			get("POST")

			r = e.do(call{method: "POST", path: groups, body: map[string]any{"id": id, "displayName": "Again"}})
			if r.status != http.StatusConflict || r.errorCode(t) != "nameAlreadyExists" || !strings.Contains(r.errorMessage(t), "'"+id+"'") {
				t.Errorf("POST of a taken id = %d %s, want 409 nameAlreadyExists naming it", r.status, r.body)
			}
			get("a POST of a taken id")

			for _, p := range []struct {
				name string
				body map[string]any
			}{
				{"description", map[string]any{"description": "The product marketing team and its agencies"}},
				{"displayName with the path's id", map[string]any{"id": id, "displayName": "Marketing"}},
			} {
				r := e.do(call{method: "PATCH", path: groups + "/" + id, body: p.body})
				if r.status != http.StatusNoContent || len(r.body) != 0 {
					t.Errorf("PATCH %s = %d %q, want 204 without a body", p.name, r.status, r.body)
				}
				for k, x := range p.body {
					want[k] = x
				}
				get("PATCH " + p.name)
			}
			for _, bad := range []struct {
				name, wantInMsg string
				body            map[string]any
			}{
				{"another id", "'id'", map[string]any{"id": "other", "displayName": "Hijacked"}},
				{"a displayName too long", "displayName", map[string]any{"displayName": strings.Repeat("n", 257)}},
				{"an unknown property", "members", map[string]any{"members": []any{}}},
			} {
				r := e.do(call{method: "PATCH", path: groups + "/" + id, body: bad.body})
				if r.status != http.StatusBadRequest || !strings.Contains(r.errorMessage(t), bad.wantInMsg) {
					t.Errorf("PATCH with %s = %d %s, want 400 saying %s", bad.name, r.status, r.body, bad.wantInMsg)
				}
				get("a PATCH with " + bad.name)
			}

			// Ids: 1 to 128 letters, digits, '-' and '_'.
			for _, ok := range []string{"a", "Base64_url-Safe", strings.Repeat("g", 128)} {
				if r := e.do(call{method: "POST", path: groups, body: map[string]any{"id": ok}}); r.status != http.StatusCreated {
					t.Errorf("POST group %.20s… = %d %s, want 201", ok, r.status, r.body)
				}
			}
			for _, bad := range []string{"", "a b", "a.b", "a/b", "a+b", "a=", "été", strings.Repeat("g", 129)} {
				r := e.do(call{method: "POST", path: groups, body: map[string]any{"id": bad, "displayName": "Bad"}})
				if r.status != http.StatusBadRequest || r.errorCode(t) != "invalidRequest" {
					t.Errorf("POST group %q = %d %s, want 400", bad, r.status, r.body)
				}
			}
			if r := e.do(call{method: "POST", path: groups, body: map[string]any{"displayName": "No id"}}); r.status != http.StatusBadRequest ||
				!strings.Contains(r.errorMessage(t), "'id'") {
				t.Errorf("POST group without an id = %d %s, want 400 naming 'id'", r.status, r.body)
			}
			for _, bad := range []string{"a.b", "a%20b", "a%2Fb", "..", "%E2%80%AE", strings.Repeat("g", 300)} {
				for _, c := range []call{
					{method: "GET", path: groups + "/" + bad},
					{method: "PATCH", path: groups + "/" + bad, body: map[string]any{"description": "x"}},
					{method: "DELETE", path: groups + "/" + bad},
					{method: "GET", path: groups + "/" + bad + "/members"},
					{method: "POST", path: groups + "/" + bad + "/members", body: map[string]any{"id": "u"}},
				} {
					if r := e.do(c); r.status != http.StatusBadRequest && r.status != http.StatusNotFound {
						t.Errorf("%s %.80s = %d %s, want 400 or 404", c.method, c.path, r.status, r.body)
					}
				}
			}

			r = e.do(call{method: "DELETE", path: groups + "/" + id})
			if r.status != http.StatusNoContent || len(r.body) != 0 {
				t.Fatalf("DELETE = %d %q, want 204 without a body", r.status, r.body)
			}
			for _, c := range []call{
				{method: "GET", path: groups + "/" + id},
				{method: "PATCH", path: groups + "/" + id, body: map[string]any{"description": "x"}},
				{method: "DELETE", path: groups + "/" + id},
			} {
				if r := e.do(c); r.status != http.StatusNotFound || r.errorMessage(t) != "The external group '"+id+"' was not found." {
					t.Errorf("%s after DELETE = %d %s, want 404 naming the group", c.method, r.status, r.body)
				}
			}
			// The id is free again.
			if r := e.do(call{method: "POST", path: groups, body: map[string]any{"id": id}}); r.status != http.StatusCreated {
				t.Errorf("POST of a deleted group's id = %d %s, want 201", r.status, r.body)
			}
		})
	}
}

// The members of an external group: users and groups of Entra ID, and
// other external groups, even in a cycle; listed in pages by id, counted,
// removed.
func TestExternalGroupMembers(t *testing.T) {
	e := newItemsEnv(t)
	for _, v := range versions {
		t.Run(versionName(v), func(t *testing.T) {
			e := e.with(t)
			conn := connFor("members", v)
			if r := e.do(call{method: "POST", path: "/external/connections", body: map[string]any{"id": conn, "name": conn}}); r.status != http.StatusCreated {
				t.Fatalf("POST connection = %d %s", r.status, r.body)
			}
			groups := groupsURL(v, conn)
			for _, g := range []string{"groupA", "groupB"} {
				if r := e.do(call{method: "POST", path: groups, body: map[string]any{"id": g}}); r.status != http.StatusCreated {
					t.Fatalf("POST group %s = %d %s", g, r.status, r.body)
				}
			}
			members := groups + "/groupA/members"
			wantContext := e.srv.URL + v + "/$metadata#external/connections('" + conn + "')/groups('groupA')/members"

			adds := []struct {
				name string
				body map[string]any
				want map[string]any
			}{
				{"a user", map[string]any{"id": "e811976d-83df-4cbd-8b9b-5215b18aa874", "type": "user"},
					map[string]any{"id": "e811976d-83df-4cbd-8b9b-5215b18aa874", "type": "user"}},
				{"a user by default", map[string]any{"@odata.type": "#microsoft.graph.externalConnectors.identity", "id": "1f0c997e-99f7-43f1-8cca-086f8d42be8d"},
					map[string]any{"id": "1f0c997e-99f7-43f1-8cca-086f8d42be8d", "type": "user"}},
				{"an Entra group", map[string]any{"id": "7c9e6679-7425-40de-944b-e07fc1f90ae7", "type": "group", "identitySource": "azureActiveDirectory"},
					map[string]any{"id": "7c9e6679-7425-40de-944b-e07fc1f90ae7", "type": "group", "identitySource": "azureActiveDirectory"}},
				{"an external group", map[string]any{"id": "groupB", "type": "externalGroup"},
					map[string]any{"id": "groupB", "type": "externalGroup"}},
				{"an external group that does not exist yet", map[string]any{"id": "later_1", "type": "externalGroup", "identitySource": "external"},
					map[string]any{"id": "later_1", "type": "externalGroup", "identitySource": "external"}},
			}
			var ids []string
			for _, a := range adds {
				r := e.do(call{method: "POST", path: members, body: a.body})
				if r.status != http.StatusCreated {
					t.Fatalf("POST %s = %d %s, want 201", a.name, r.status, r.body)
				}
				got := r.json(t)
				if got["@odata.context"] != wantContext+"/$entity" {
					t.Errorf("POST %s: @odata.context = %v, want %v", a.name, got["@odata.context"], wantContext+"/$entity")
				}
				delete(got, "@odata.context")
				a.want["@odata.type"] = "#microsoft.graph.externalConnectors.identity"
				if diff := cmp.Diff(a.want, got); diff != "" {
					t.Errorf("POST %s mismatch (-want +got):\n%s", a.name, diff)
				}
				ids = append(ids, a.body["id"].(string))
			}
			slices.Sort(ids)

			for _, bad := range []struct {
				name   string
				path   string
				body   map[string]any
				status int
			}{
				{"a member already there", members, map[string]any{"id": "groupB", "type": "externalGroup"}, http.StatusConflict},
				{"a user already there, by default type", members, map[string]any{"id": "e811976d-83df-4cbd-8b9b-5215b18aa874"}, http.StatusConflict},
				{"an external group id breaking the rule", members, map[string]any{"id": "group B", "type": "externalGroup"}, http.StatusBadRequest},
				{"an unknownFutureValue", members, map[string]any{"id": "x", "type": "unknownFutureValue"}, http.StatusBadRequest},
				{"an unknown type", members, map[string]any{"id": "x", "type": "robot"}, http.StatusBadRequest},
				{"no id", members, map[string]any{"type": "user"}, http.StatusBadRequest},
				{"a member of a missing group", groups + "/nosuchgroup/members", map[string]any{"id": "x"}, http.StatusNotFound},
			} {
				if r := e.do(call{method: "POST", path: bad.path, body: bad.body}); r.status != bad.status {
					t.Errorf("POST %s = %d %s, want %d", bad.name, r.status, r.body, bad.status)
				}
			}

			// Pages of $top, by id, each with the count when asked for.
			var listed []string
			next := members + "?$top=2&$count=true"
			for pages := 0; next != ""; pages++ {
				if pages > len(ids) {
					t.Fatalf("more than %d pages of %d members", pages, len(ids))
				}
				r := e.do(call{method: "GET", path: next})
				if r.status != http.StatusOK {
					t.Fatalf("GET %s = %d %s", next, r.status, r.body)
				}
				m := r.json(t)
				if m["@odata.context"] != wantContext || m["@odata.count"] != float64(len(ids)) {
					t.Errorf("GET %s: @odata.context %v, @odata.count %v; want %s, %d", next, m["@odata.context"], m["@odata.count"], wantContext, len(ids))
				}
				page := m["value"].([]any)
				if len(page) > 2 {
					t.Errorf("GET %s: %d members, want 2 at most", next, len(page))
				}
				for _, x := range page {
					listed = append(listed, x.(map[string]any)["id"].(string))
				}
				next, _ = m["@odata.nextLink"].(string)
				next = strings.TrimPrefix(next, e.srv.URL)
			}
			if !slices.Equal(listed, ids) {
				t.Errorf("members listed = %v, want %v", listed, ids)
			}
			if r := e.do(call{method: "GET", path: members}); strings.Contains(string(r.body), "@odata.count") || strings.Contains(string(r.body), "nextLink") {
				t.Errorf("GET members without $top and $count = %s, want one page without a count", r.body)
			}
			countIs := func(when string, want int) {
				t.Helper()
				r := e.do(call{method: "GET", path: members + "/$count"})
				if r.status != http.StatusOK || string(r.body) != itoa(want) || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
					t.Errorf("%s: GET $count = %d %q (%s), want 200 %d as text/plain", when, r.status, r.body, r.header.Get("Content-Type"), want)
				}
			}
			countIs("after the POSTs", len(ids))
			for _, q := range []string{"$top=0", "$top=1000", "$top=x", "$skiptoken=!!", "$skiptoken=", "$count=maybe"} {
				if r := e.do(call{method: "GET", path: members + "?" + q}); r.status != http.StatusBadRequest {
					t.Errorf("GET members?%s = %d %s, want 400", q, r.status, r.body)
				}
			}

			// A cycle: A holds B, and B holds A.
			if r := e.do(call{method: "POST", path: groups + "/groupB/members", body: map[string]any{"id": "groupA", "type": "externalGroup"}}); r.status != http.StatusCreated {
				t.Errorf("POST groupA into groupB, which is in groupA = %d %s, want 201", r.status, r.body)
			}

			r := e.do(call{method: "DELETE", path: members + "/" + ids[0]})
			if r.status != http.StatusNoContent || len(r.body) != 0 {
				t.Errorf("DELETE member = %d %q, want 204 without a body", r.status, r.body)
			}
			countIs("after a DELETE", len(ids)-1)
			for _, c := range []struct{ name, path string }{
				{"again", members + "/" + ids[0]},
				{"never a member", members + "/nobody"},
				{"of a missing group", groups + "/nosuchgroup/members/" + ids[1]},
			} {
				if r := e.do(call{method: "DELETE", path: c.path}); r.status != http.StatusNotFound || r.errorCode(t) != "itemNotFound" {
					t.Errorf("DELETE member %s = %d %s, want 404", c.name, r.status, r.body)
				}
			}

			// Deleting A deletes its members, not the groups that hold it.
			if r := e.do(call{method: "DELETE", path: groups + "/groupA"}); r.status != http.StatusNoContent {
				t.Fatalf("DELETE groupA = %d %s", r.status, r.body)
			}
			for _, path := range []string{members, members + "/$count"} {
				if r := e.do(call{method: "GET", path: path}); r.status != http.StatusNotFound {
					t.Errorf("GET %s of a deleted group = %d %s, want 404", path, r.status, r.body)
				}
			}
			r = e.do(call{method: "GET", path: groups + "/groupB/members"})
			if v := r.json(t)["value"].([]any); len(v) != 1 || v[0].(map[string]any)["id"] != "groupA" {
				t.Errorf("groupB's members after groupA's deletion = %s, want groupA still", r.body)
			}
			// A new group of the same id starts empty.
			if r := e.do(call{method: "POST", path: groups, body: map[string]any{"id": "groupA"}}); r.status != http.StatusCreated {
				t.Fatalf("POST groupA again = %d %s", r.status, r.body)
			}
			countIs("in a new group of a deleted one's id", 0)
		})
	}
}
