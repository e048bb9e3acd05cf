package storetest

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/graphconn/graphconn/store"
)

// ItemInspector is what the item tests ask of a store beyond store.Store,
// to see what the interface does not show. A store's tests implement it
// (on the store itself, in a _test.go file of its package) and check at
// compile time that they do; the cases that need it fail on a store
// without it.
type ItemInspector interface {
	// ItemWriterStats returns the statistics of the store.Writer that
	// applies PutItem's batches.
	ItemWriterStats() store.WriterStats
	// Rows counts the rows of a table of the store, in every tenant.
	Rows(t *testing.T, table string) int64
}

// itemTests are the cases of the conformance suite about items, external
// groups, their members and activities (store.ItemStore).
var itemTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"PutItemCreatesThenReplaces", testPutItem},
	{"ItemNotFound", testItemNotFound},
	{"UpdateItem", testUpdateItem},
	{"DeleteItem", testDeleteItem},
	{"CountItems", testCountItems},
	{"DeleteConnectionCascadesToItems", testDeleteConnectionCascadesToItems},
	{"Groups", testGroups},
	{"Members", testMembers},
	{"MembersPaging", testMembersPaging},
	{"MembersCycle", testMembersCycle},
	{"Activities", testActivities},
	{"ConcurrentPutItems", testConcurrentPutItems},
	{"ConcurrentPutItemsOfOneID", testConcurrentPutItemsOfOneID},
	{"ItemLimit", testItemLimit},
	{"ConcurrentPutItemsAtTheLimit", testConcurrentPutItemsAtTheLimit},
	{"ItemsTenants", testItemsTenants},
}

func inspector(t *testing.T, s store.Store) ItemInspector {
	t.Helper()
	in, ok := s.(ItemInspector)
	if !ok {
		t.Fatalf("the store %T is no storetest.ItemInspector", s)
	}
	return in
}

// contosoItem is an item of connection connID whose properties hold
// non-ASCII text, escapes and members out of order: every store returns
// them byte for byte.
func contosoItem(connID, id string) *store.Item {
	return &store.Item{
		ConnectionID: connID,
		ID:           id,
		ACL: []store.ACE{
			{Type: "user", Value: "e811976d-83df-4cbd-8b9b-5215b18aa874", AccessType: "grant", IdentitySource: "azureActiveDirectory"},
			{Type: "externalGroup", Value: "contoso-hr_all", AccessType: "deny"},
			{Type: "everyone", Value: "72f988bf-86f1-41af-91ab-2d7cd011db47", AccessType: "grant"},
		},
		Properties: json.RawMessage(`{"title":"Ünïcødé ✓ 日本語 😀","z":1,"a":[3,1,2],"b":{"y":null,"x":1.50},"esc":"\u00e9\"\\/<>&","tags@odata.type":"Collection(String)","tags":["b","a"]}`),
		Content:    &store.Content{Type: "text", Value: "Der Bär läuft — 熊が走る"},
		Label:      json.RawMessage(`{"sensitivityLabelId":"f0e1","displayName":"Vertraulich"}`),
	}
}

func mustPutItem(t *testing.T, s store.Store, tn string, it *store.Item) bool {
	t.Helper()
	created, err := s.PutItem(ctx, tn, it, 0)
	if err != nil {
		t.Fatalf("PutItem(%s, %s/%s) = %v", tn, it.ConnectionID, it.ID, err)
	}
	return created
}

func testPutItem(t *testing.T, s store.Store) {
	mustCreateConnection(t, s, "contosohr")
	it := contosoItem("contosohr", "item1")
	want := string(it.Properties)
	before := time.Now()
	if created := mustPutItem(t, s, tenant, it); !created {
		t.Errorf("PutItem(new item) = created false, want true")
	}
	if it.Tenant != tenant || it.Version == 0 || it.Created.Before(before.Add(-time.Second)) || !it.Modified.Equal(it.Created) {
		t.Errorf("PutItem(new item) set Tenant %q, Version %d, Created %v, Modified %v; want the tenant, a version, now twice",
			it.Tenant, it.Version, it.Created, it.Modified)
	}
	got, err := s.Item(ctx, tenant, "contosohr", "item1")
	if err != nil {
		t.Fatalf("Item() = %v", err)
	}
	if diff := cmp.Diff(it, got, approx); diff != "" {
		t.Errorf("Item() mismatch (-put +read):\n%s", diff)
	}
	if string(got.Properties) != want {
		t.Errorf("Item().Properties = %s, want the bytes given, %s", got.Properties, want)
	}

	// A replace keeps Created, moves the version, and replaces everything
	// else as a whole: content and label removed, an empty ACL.
	first := *it
	again := &store.Item{ConnectionID: "contosohr", ID: "item1", ACL: []store.ACE{}, Properties: json.RawMessage(`{"title":"v2"}`)}
	if created := mustPutItem(t, s, tenant, again); created {
		t.Errorf("PutItem(existing item) = created true, want false")
	}
	if again.Version <= first.Version || !again.Created.Equal(first.Created) || again.Modified.Before(first.Modified) {
		t.Errorf("PutItem(existing item) set Version %d, Created %v, Modified %v; want a version above %d, Created %v kept, a later Modified",
			again.Version, again.Created, again.Modified, first.Version, first.Created)
	}
	got, err = s.Item(ctx, tenant, "contosohr", "item1")
	if err != nil {
		t.Fatalf("Item() after the replace = %v", err)
	}
	if diff := cmp.Diff(again, got, approx); diff != "" {
		t.Errorf("Item() after the replace mismatch (-put +read):\n%s", diff)
	}

	// And back: each replace has a version of its own.
	third := contosoItem("contosohr", "item1")
	if created := mustPutItem(t, s, tenant, third); created || third.Version <= again.Version {
		t.Errorf("PutItem(existing item) again = created %v, version %d; want false, a version above %d", created, third.Version, again.Version)
	}
	if got, err := s.Item(ctx, tenant, "contosohr", "item1"); err != nil || string(got.Properties) != want || !cmp.Equal(got, third, approx) {
		t.Errorf("Item() after the third put = %+v, %v; want %+v", got, err, third)
	}
}

func testItemNotFound(t *testing.T, s store.Store) {
	mustCreateConnection(t, s, "contosohr")
	mustPutItem(t, s, tenant, contosoItem("contosohr", "item1"))
	tests := []struct {
		name, tenant, conn, id string
		want                   error
	}{
		{"missing item", tenant, "contosohr", "nope", store.ItemNotFound("nope")},
		{"missing connection", tenant, "nope", "item1", store.ConnectionNotFound("nope")},
		{"another tenant's", tenantC, "contosohr", "item1", store.ConnectionNotFound("contosohr")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, c := range []struct {
				name string
				call func() error
			}{
				{"Item", func() error { _, err := s.Item(ctx, tt.tenant, tt.conn, tt.id); return err }},
				{"UpdateItem", func() error {
					_, err := s.UpdateItem(ctx, tt.tenant, tt.conn, tt.id, store.ItemUpdate{Properties: json.RawMessage(`{}`)})
					return err
				}},
				{"DeleteItem", func() error { return s.DeleteItem(ctx, tt.tenant, tt.conn, tt.id) }},
				{"AddActivities", func() error { return s.AddActivities(ctx, tt.tenant, tt.conn, tt.id, []store.Activity{viewed(0)}) }},
			} {
				if err := c.call(); store.KindOf(err) != store.NotFound || err.Error() != tt.want.Error() {
					t.Errorf("%s(%s, %s, %s) = %v, want NotFound %q", c.name, tt.tenant, tt.conn, tt.id, err, tt.want)
				}
			}
		})
	}
	if _, err := s.PutItem(ctx, tenant, contosoItem("nope", "item1"), 0); store.KindOf(err) != store.NotFound || err.Error() != store.ConnectionNotFound("nope").Error() {
		t.Errorf("PutItem(missing connection) = %v, want NotFound %q", err, store.ConnectionNotFound("nope"))
	}
	if got, err := s.Item(ctx, tenant, "contosohr", "item1"); err != nil || got.ID != "item1" {
		t.Errorf("Item(item1) after the calls that found nothing = %+v, %v; want it", got, err)
	}
}

func testUpdateItem(t *testing.T, s store.Store) {
	mustCreateConnection(t, s, "contosohr")
	prev := contosoItem("contosohr", "item1")
	mustPutItem(t, s, tenant, prev)
	acl := []store.ACE{{Type: "group", Value: "1e2f", AccessType: "grant"}}
	props := json.RawMessage(`{"title":"Neu","ä":[true,false]}`)
	content := &store.Content{Type: "html", Value: "<p>neu</p>"}
	label := json.RawMessage(`{"sensitivityLabelId":"a1"}`)
	// Each step applies to the item as the one before left it.
	steps := []struct {
		name   string
		update store.ItemUpdate
		apply  func(it *store.Item)
	}{
		{"nothing", store.ItemUpdate{}, func(*store.Item) {}},
		{"acl", store.ItemUpdate{ACL: acl}, func(it *store.Item) { it.ACL = acl }},
		{"properties", store.ItemUpdate{Properties: props}, func(it *store.Item) { it.Properties = props }},
		{"content", store.ItemUpdate{SetContent: true, Content: content}, func(it *store.Item) { it.Content = content }},
		{"content removed", store.ItemUpdate{SetContent: true}, func(it *store.Item) { it.Content = nil }},
		{"label", store.ItemUpdate{SetLabel: true, Label: label}, func(it *store.Item) { it.Label = label }},
		{"label removed", store.ItemUpdate{SetLabel: true}, func(it *store.Item) { it.Label = nil }},
		{"content given without SetContent is ignored", store.ItemUpdate{Content: content}, func(*store.Item) {}},
		{"empty acl", store.ItemUpdate{ACL: []store.ACE{}}, func(it *store.Item) { it.ACL = []store.ACE{} }},
		{"everything", store.ItemUpdate{ACL: acl, Properties: json.RawMessage(`{"title":"alles"}`), SetContent: true, Content: content, SetLabel: true, Label: label},
			func(it *store.Item) {
				it.ACL, it.Properties, it.Content, it.Label = acl, json.RawMessage(`{"title":"alles"}`), content, label
			}},
	}
	for _, st := range steps {
		want := *prev
		st.apply(&want)
		got, err := s.UpdateItem(ctx, tenant, "contosohr", "item1", st.update)
		if err != nil {
			t.Fatalf("step %q: UpdateItem() = %v", st.name, err)
		}
		if got.Version <= prev.Version || got.Modified.Before(prev.Modified) {
			t.Errorf("step %q: UpdateItem() = version %d, modified %v; want a version above %d, modified not before %v",
				st.name, got.Version, got.Modified, prev.Version, prev.Modified)
		}
		want.Version, want.Modified = got.Version, got.Modified
		if diff := cmp.Diff(&want, got, approx); diff != "" {
			t.Errorf("step %q: UpdateItem() mismatch (-want +got):\n%s", st.name, diff)
		}
		read, err := s.Item(ctx, tenant, "contosohr", "item1")
		if err != nil {
			t.Fatalf("Item() = %v", err)
		}
		if diff := cmp.Diff(got, read, approx); diff != "" {
			t.Errorf("step %q: Item() differs from what UpdateItem returned (-update +read):\n%s", st.name, diff)
		}
		prev = got
	}
	if n, err := s.CountItems(ctx, tenant, "contosohr"); err != nil || n != 1 {
		t.Errorf("CountItems() after the updates = %d, %v; want 1", n, err)
	}
}

func testDeleteItem(t *testing.T, s store.Store) {
	mustCreateConnection(t, s, "contosohr")
	mustPutItem(t, s, tenant, contosoItem("contosohr", "item1"))
	mustPutItem(t, s, tenant, contosoItem("contosohr", "item2"))
	if err := s.AddActivities(ctx, tenant, "contosohr", "item1", []store.Activity{viewed(0), viewed(1)}); err != nil {
		t.Fatalf("AddActivities() = %v", err)
	}
	if err := s.AddActivities(ctx, tenant, "contosohr", "item2", []store.Activity{viewed(2)}); err != nil {
		t.Fatalf("AddActivities() = %v", err)
	}
	if err := s.DeleteItem(ctx, tenant, "contosohr", "item1"); err != nil {
		t.Fatalf("DeleteItem() = %v", err)
	}
	_, err := s.Item(ctx, tenant, "contosohr", "item1")
	wantKind(t, "Item(deleted)", err, store.NotFound)
	wantKind(t, "DeleteItem(again)", s.DeleteItem(ctx, tenant, "contosohr", "item1"), store.NotFound)
	if _, err := s.Item(ctx, tenant, "contosohr", "item2"); err != nil {
		t.Errorf("Item(item2) after item1's deletion = %v", err)
	}
	if n, err := s.CountItems(ctx, tenant, "contosohr"); err != nil || n != 1 {
		t.Errorf("CountItems() after a deletion = %d, %v; want 1", n, err)
	}
	if n := inspector(t, s).Rows(t, "activities"); n != 1 {
		t.Errorf("after DeleteItem, %d activities are stored, want 1: item2's", n)
	}
	// A new item of the same id starts anew.
	it := contosoItem("contosohr", "item1")
	if created := mustPutItem(t, s, tenant, it); !created {
		t.Errorf("PutItem(deleted id) = created false, want true")
	}
	if n, err := s.CountItems(ctx, tenant, "contosohr"); err != nil || n != 2 {
		t.Errorf("CountItems() after a re-creation = %d, %v; want 2", n, err)
	}
}

// itemCount checks CountItems and the connection's ItemCount, read alone
// and in a list, against want.
func itemCount(t *testing.T, s store.Store, tn, connID string, want int64) {
	t.Helper()
	if n, err := s.CountItems(ctx, tn, connID); err != nil || n != want {
		t.Errorf("CountItems(%s) = %d, %v; want %d", connID, n, err, want)
	}
	if c, err := s.Connection(ctx, tn, connID); err != nil || c.ItemCount != want {
		t.Errorf("Connection(%s).ItemCount = %v, %v; want %d", connID, c, err, want)
	}
	list, _, err := s.Connections(ctx, tn, "", store.Page{Limit: 100})
	if err != nil {
		t.Fatalf("Connections() = %v", err)
	}
	for _, c := range list {
		if c.ID == connID && c.ItemCount != want {
			t.Errorf("Connections() lists %s with ItemCount %d, want %d", connID, c.ItemCount, want)
		}
	}
}

func testCountItems(t *testing.T, s store.Store) {
	mustCreateConnection(t, s, "contosohr")
	mustCreateConnection(t, s, "fabrikam")
	itemCount(t, s, tenant, "contosohr", 0)
	for i := range 5 {
		mustPutItem(t, s, tenant, contosoItem("contosohr", fmt.Sprint("item", i)))
	}
	mustPutItem(t, s, tenant, contosoItem("fabrikam", "item0"))
	itemCount(t, s, tenant, "contosohr", 5)
	itemCount(t, s, tenant, "fabrikam", 1)
	for i := range 3 { // replaces count nothing
		mustPutItem(t, s, tenant, contosoItem("contosohr", fmt.Sprint("item", i)))
	}
	if _, err := s.UpdateItem(ctx, tenant, "contosohr", "item0", store.ItemUpdate{SetLabel: true}); err != nil {
		t.Fatalf("UpdateItem() = %v", err)
	}
	itemCount(t, s, tenant, "contosohr", 5)
	for _, id := range []string{"item1", "item3"} {
		if err := s.DeleteItem(ctx, tenant, "contosohr", id); err != nil {
			t.Fatalf("DeleteItem(%s) = %v", id, err)
		}
	}
	wantKind(t, "DeleteItem(missing)", s.DeleteItem(ctx, tenant, "contosohr", "item1"), store.NotFound)
	if _, err := s.PutItem(ctx, tenant, contosoItem("nope", "item9"), 0); store.KindOf(err) != store.NotFound {
		t.Errorf("PutItem(missing connection) = %v, want NotFound", err)
	}
	itemCount(t, s, tenant, "contosohr", 3)
	itemCount(t, s, tenant, "fabrikam", 1)
	_, err := s.CountItems(ctx, tenant, "nope")
	wantKind(t, "CountItems(missing connection)", err, store.NotFound)
	_, err = s.CountItems(ctx, tenantC, "contosohr")
	wantKind(t, "CountItems(another tenant's connection)", err, store.NotFound)
	// Updates of the connection keep its count.
	if c, err := s.UpdateConnection(ctx, tenant, "contosohr", store.ConnectionUpdate{Name: ptr("renamed")}); err != nil || c.ItemCount != 3 {
		t.Errorf("UpdateConnection() = %+v, %v; want ItemCount 3", c, err)
	}
}

func viewed(i int) store.Activity {
	return store.Activity{
		Type:          "viewed",
		StartDateTime: time.Date(2026, 1, 2, 3, 4, 5, i, time.UTC),
		PerformedBy:   store.Member{ID: "e811976d-83df-4cbd-8b9b-5215b18aa874", Type: "user"},
	}
}

func testDeleteConnectionCascadesToItems(t *testing.T, s store.Store) {
	in := inspector(t, s)
	for _, id := range []string{"contosohr", "fabrikam"} {
		mustCreateConnection(t, s, id)
		for i := range 3 {
			item := fmt.Sprint("item", i)
			mustPutItem(t, s, tenant, contosoItem(id, item))
			if err := s.AddActivities(ctx, tenant, id, item, []store.Activity{viewed(i), viewed(i + 1)}); err != nil {
				t.Fatalf("AddActivities(%s, %s) = %v", id, item, err)
			}
		}
		for _, g := range []string{"ga", "gb"} {
			if err := s.CreateGroup(ctx, tenant, &store.ExternalGroup{ConnectionID: id, ID: g, DisplayName: g}); err != nil {
				t.Fatalf("CreateGroup(%s, %s) = %v", id, g, err)
			}
			for _, m := range []*store.Member{{ID: "u1", Type: "user"}, {ID: "ga", Type: "externalGroup"}} {
				if err := s.AddMember(ctx, tenant, id, g, m); err != nil {
					t.Fatalf("AddMember(%s, %s, %s) = %v", id, g, m.ID, err)
				}
			}
		}
	}
	tables := map[string]int64{"items": 6, "external_groups": 4, "group_members": 8, "activities": 12}
	for table, n := range tables {
		if got := in.Rows(t, table); got != n {
			t.Fatalf("%s holds %d rows before the deletion, want %d", table, got, n)
		}
	}
	if err := s.DeleteConnection(ctx, tenant, "contosohr", nil); err != nil {
		t.Fatalf("DeleteConnection() = %v", err)
	}
	for table, n := range tables {
		if got := in.Rows(t, table); got != n/2 {
			t.Errorf("%s holds %d rows after the deletion of one of two connections, want %d", table, got, n/2)
		}
	}

	// The connection made again with the same id has none of them.
	mustCreateConnection(t, s, "contosohr")
	itemCount(t, s, tenant, "contosohr", 0)
	_, err := s.Item(ctx, tenant, "contosohr", "item0")
	wantKind(t, "Item(of the deleted connection)", err, store.NotFound)
	_, err = s.Group(ctx, tenant, "contosohr", "ga")
	wantKind(t, "Group(of the deleted connection)", err, store.NotFound)
	wantKind(t, "AddActivities(on an item of the deleted connection)", s.AddActivities(ctx, tenant, "contosohr", "item0", []store.Activity{viewed(0)}), store.NotFound)
	if created := mustPutItem(t, s, tenant, contosoItem("contosohr", "item0")); !created {
		t.Errorf("PutItem(an id of the deleted connection) = created false, want true")
	}
	itemCount(t, s, tenant, "contosohr", 1)
	itemCount(t, s, tenant, "fabrikam", 3)
	if n, err := s.CountMembers(ctx, tenant, "fabrikam", "ga"); err != nil || n != 2 {
		t.Errorf("CountMembers(fabrikam, ga) = %d, %v; want 2 kept", n, err)
	}
}

func testGroups(t *testing.T, s store.Store) {
	mustCreateConnection(t, s, "contosohr")
	mustCreateConnection(t, s, "fabrikam")
	g := &store.ExternalGroup{ConnectionID: "contosohr", ID: "contoso-hr_all", DisplayName: "Alle Mitarbeiter", Description: "HR ✓"}
	if err := s.CreateGroup(ctx, tenant, g); err != nil {
		t.Fatalf("CreateGroup() = %v", err)
	}
	if g.Tenant != tenant || g.Version == 0 || g.Created.IsZero() || !g.Modified.Equal(g.Created) {
		t.Errorf("CreateGroup() set Tenant %q, Version %d, Created %v, Modified %v; want the tenant, a version and a time", g.Tenant, g.Version, g.Created, g.Modified)
	}
	got, err := s.Group(ctx, tenant, "contosohr", g.ID)
	if err != nil {
		t.Fatalf("Group() = %v", err)
	}
	if diff := cmp.Diff(g, got, approx); diff != "" {
		t.Errorf("Group() mismatch (-created +read):\n%s", diff)
	}
	err = s.CreateGroup(ctx, tenant, &store.ExternalGroup{ConnectionID: "contosohr", ID: g.ID, DisplayName: "Other"})
	wantKind(t, "CreateGroup(duplicate)", err, store.Exist)
	if got, _ := s.Group(ctx, tenant, "contosohr", g.ID); got == nil || got.DisplayName != g.DisplayName {
		t.Errorf("after a duplicate CreateGroup, Group() = %+v, want the original", got)
	}
	wantKind(t, "CreateGroup(missing connection)", s.CreateGroup(ctx, tenant, &store.ExternalGroup{ConnectionID: "nope", ID: "g", DisplayName: "G"}), store.NotFound)
	// Another connection may have a group of the same id.
	if err := s.CreateGroup(ctx, tenant, &store.ExternalGroup{ConnectionID: "fabrikam", ID: g.ID, DisplayName: "Fabrikam's"}); err != nil {
		t.Errorf("CreateGroup(same id, another connection) = %v", err)
	}

	prev := got
	steps := []struct {
		name  string
		u     store.GroupUpdate
		name2 string
		desc  string
	}{
		{"nothing", store.GroupUpdate{}, "Alle Mitarbeiter", "HR ✓"},
		{"display name", store.GroupUpdate{DisplayName: ptr("All staff")}, "All staff", "HR ✓"},
		{"description", store.GroupUpdate{Description: ptr("")}, "All staff", ""},
		{"both", store.GroupUpdate{DisplayName: ptr("Everyone"), Description: ptr("all of them")}, "Everyone", "all of them"},
	}
	for _, st := range steps {
		got, err := s.UpdateGroup(ctx, tenant, "contosohr", g.ID, st.u)
		if err != nil {
			t.Fatalf("step %q: UpdateGroup() = %v", st.name, err)
		}
		if got.DisplayName != st.name2 || got.Description != st.desc || got.Version <= prev.Version || !got.Created.Equal(prev.Created) {
			t.Errorf("step %q: UpdateGroup() = %+v; want %q, %q, a version above %d, Created kept", st.name, got, st.name2, st.desc, prev.Version)
		}
		if read, err := s.Group(ctx, tenant, "contosohr", g.ID); err != nil || !cmp.Equal(read, got, approx) {
			t.Errorf("step %q: Group() = %+v, %v; want what UpdateGroup returned, %+v", st.name, read, err, got)
		}
		prev = got
	}

	for _, key := range [][2]string{{"contosohr", "missing"}, {"nope", g.ID}} {
		want := store.GroupNotFound(key[1])
		if key[0] == "nope" {
			want = store.ConnectionNotFound("nope")
		}
		for _, c := range []struct {
			name string
			call func() error
		}{
			{"Group", func() error { _, err := s.Group(ctx, tenant, key[0], key[1]); return err }},
			{"UpdateGroup", func() error {
				_, err := s.UpdateGroup(ctx, tenant, key[0], key[1], store.GroupUpdate{DisplayName: ptr("x")})
				return err
			}},
			{"DeleteGroup", func() error { return s.DeleteGroup(ctx, tenant, key[0], key[1]) }},
		} {
			if err := c.call(); store.KindOf(err) != store.NotFound || err.Error() != want.Error() {
				t.Errorf("%s(%s, %s) = %v, want NotFound %q", c.name, key[0], key[1], err, want)
			}
		}
	}

	if err := s.DeleteGroup(ctx, tenant, "contosohr", g.ID); err != nil {
		t.Fatalf("DeleteGroup() = %v", err)
	}
	_, err = s.Group(ctx, tenant, "contosohr", g.ID)
	wantKind(t, "Group(deleted)", err, store.NotFound)
	wantKind(t, "DeleteGroup(again)", s.DeleteGroup(ctx, tenant, "contosohr", g.ID), store.NotFound)
	if got, err := s.Group(ctx, tenant, "fabrikam", g.ID); err != nil || got.DisplayName != "Fabrikam's" {
		t.Errorf("Group(fabrikam's) after the deletion of contosohr's = %+v, %v; want it kept", got, err)
	}
	// A group made again with a deleted id starts anew.
	again := &store.ExternalGroup{ConnectionID: "contosohr", ID: g.ID, DisplayName: "Again"}
	if err := s.CreateGroup(ctx, tenant, again); err != nil || again.Version == prev.Version {
		t.Errorf("CreateGroup(deleted id) = %v, version %d; want a version other than %d", err, again.Version, prev.Version)
	}
}

func mustCreateGroup(t *testing.T, s store.Store, connID, id string) {
	t.Helper()
	if err := s.CreateGroup(ctx, tenant, &store.ExternalGroup{ConnectionID: connID, ID: id, DisplayName: "Group " + id}); err != nil {
		t.Fatalf("CreateGroup(%s, %s) = %v", connID, id, err)
	}
}

func testMembers(t *testing.T, s store.Store) {
	mustCreateConnection(t, s, "contosohr")
	mustCreateGroup(t, s, "contosohr", "ga")
	mustCreateGroup(t, s, "contosohr", "gb")
	members := []*store.Member{
		{ID: "e811976d-83df-4cbd-8b9b-5215b18aa874", Type: "user", IdentitySource: "azureActiveDirectory"},
		{ID: "1e2f3a4b-0000-4000-8000-000000000001", Type: "group"},
		{ID: "gb", Type: "externalGroup", IdentitySource: "external"},
	}
	for _, m := range members {
		if err := s.AddMember(ctx, tenant, "contosohr", "ga", m); err != nil {
			t.Fatalf("AddMember(%+v) = %v", m, err)
		}
	}
	list, next, err := s.Members(ctx, tenant, "contosohr", "ga", store.Page{Limit: 10})
	want := []*store.Member{members[1], members[0], members[2]} // in id order
	if err != nil || next != "" {
		t.Fatalf("Members() = next %q, %v; want one page", next, err)
	}
	if diff := cmp.Diff(want, list); diff != "" {
		t.Errorf("Members() mismatch (-want +got):\n%s", diff)
	}
	if n, err := s.CountMembers(ctx, tenant, "contosohr", "ga"); err != nil || n != 3 {
		t.Errorf("CountMembers(ga) = %d, %v; want 3", n, err)
	}
	if n, err := s.CountMembers(ctx, tenant, "contosohr", "gb"); err != nil || n != 0 {
		t.Errorf("CountMembers(gb) = %d, %v; want 0", n, err)
	}

	err = s.AddMember(ctx, tenant, "contosohr", "ga", &store.Member{ID: members[0].ID, Type: "group"})
	wantKind(t, "AddMember(a member again)", err, store.Exist)
	// The same member in another group is another row.
	if err := s.AddMember(ctx, tenant, "contosohr", "gb", &store.Member{ID: members[0].ID, Type: "user"}); err != nil {
		t.Errorf("AddMember(ga's member to gb) = %v", err)
	}

	notFound := []struct {
		name      string
		conn, grp string
		want      error
	}{
		{"missing group", "contosohr", "nope", store.GroupNotFound("nope")},
		{"missing connection", "nope", "ga", store.ConnectionNotFound("nope")},
	}
	for _, tt := range notFound {
		for _, c := range []struct {
			name string
			call func() error
		}{
			{"AddMember", func() error { return s.AddMember(ctx, tenant, tt.conn, tt.grp, &store.Member{ID: "u9", Type: "user"}) }},
			{"Members", func() error { _, _, err := s.Members(ctx, tenant, tt.conn, tt.grp, store.Page{Limit: 10}); return err }},
			{"CountMembers", func() error { _, err := s.CountMembers(ctx, tenant, tt.conn, tt.grp); return err }},
			{"RemoveMember", func() error { return s.RemoveMember(ctx, tenant, tt.conn, tt.grp, members[0].ID) }},
		} {
			if err := c.call(); store.KindOf(err) != store.NotFound || err.Error() != tt.want.Error() {
				t.Errorf("%s (%s) = %v, want NotFound %q", c.name, tt.name, err, tt.want)
			}
		}
	}

	if err := s.RemoveMember(ctx, tenant, "contosohr", "ga", members[0].ID); err != nil {
		t.Fatalf("RemoveMember() = %v", err)
	}
	err = s.RemoveMember(ctx, tenant, "contosohr", "ga", members[0].ID)
	if want := store.MemberNotFound("ga", members[0].ID); store.KindOf(err) != store.NotFound || err.Error() != want.Error() {
		t.Errorf("RemoveMember(again) = %v, want NotFound %q", err, want)
	}
	if n, err := s.CountMembers(ctx, tenant, "contosohr", "ga"); err != nil || n != 2 {
		t.Errorf("CountMembers(ga) after a removal = %d, %v; want 2", n, err)
	}
	if n, err := s.CountMembers(ctx, tenant, "contosohr", "gb"); err != nil || n != 1 {
		t.Errorf("CountMembers(gb) after a removal from ga = %d, %v; want 1", n, err)
	}

	// Deleting a group takes its members, and only its own.
	if err := s.DeleteGroup(ctx, tenant, "contosohr", "ga"); err != nil {
		t.Fatalf("DeleteGroup(ga) = %v", err)
	}
	mustCreateGroup(t, s, "contosohr", "ga")
	if n, err := s.CountMembers(ctx, tenant, "contosohr", "ga"); err != nil || n != 0 {
		t.Errorf("CountMembers(ga made again) = %d, %v; want 0", n, err)
	}
	if n, err := s.CountMembers(ctx, tenant, "contosohr", "gb"); err != nil || n != 1 {
		t.Errorf("CountMembers(gb) after ga's deletion = %d, %v; want 1", n, err)
	}
}

func testMembersPaging(t *testing.T, s store.Store) {
	mustCreateConnection(t, s, "contosohr")
	mustCreateGroup(t, s, "contosohr", "ga")
	mustCreateGroup(t, s, "contosohr", "gb")
	// Added out of order; listed in byte order of their ids ('Z' < 'a').
	for _, id := range []string{"m07", "m01", "Z9", "m05", "m02", "m10", "m03", "m04", "m06", "m08", "m09", "a-1"} {
		if err := s.AddMember(ctx, tenant, "contosohr", "ga", &store.Member{ID: id, Type: "user"}); err != nil {
			t.Fatalf("AddMember(%s) = %v", id, err)
		}
	}
	if err := s.AddMember(ctx, tenant, "contosohr", "gb", &store.Member{ID: "m015", Type: "user"}); err != nil {
		t.Fatalf("AddMember(gb) = %v", err)
	}
	all := []string{"Z9", "a-1", "m01", "m02", "m03", "m04", "m05", "m06", "m07", "m08", "m09", "m10"}
	for _, limit := range []int{1, 2, 5, 12, 100} {
		t.Run(fmt.Sprint("limit ", limit), func(t *testing.T) {
			var got []string
			after := ""
			for pages := 0; ; pages++ {
				if pages > len(all) {
					t.Fatal("Members() does not stop paging")
				}
				list, next, err := s.Members(ctx, tenant, "contosohr", "ga", store.Page{Limit: limit, After: after})
				if err != nil {
					t.Fatalf("Members(after %q) = %v", after, err)
				}
				if len(list) > limit {
					t.Errorf("Members(limit %d) returned %d", limit, len(list))
				}
				for _, m := range list {
					got = append(got, m.ID)
				}
				if next == "" {
					break
				}
				after = next
			}
			if diff := cmp.Diff(all, got); diff != "" {
				t.Errorf("paging through Members() mismatch (-want +got):\n%s", diff)
			}
		})
	}
	for _, after := range []string{"\xff\xfe", "a\x00b"} {
		_, _, err := s.Members(ctx, tenant, "contosohr", "ga", store.Page{Limit: 10, After: after})
		wantKind(t, fmt.Sprintf("Members(After %q)", after), err, store.Invalid)
	}
}

// External groups may contain each other; the store keeps the cycle as it
// is, and deleting one group leaves the other's row naming it.
func testMembersCycle(t *testing.T, s store.Store) {
	mustCreateConnection(t, s, "contosohr")
	mustCreateGroup(t, s, "contosohr", "ga")
	mustCreateGroup(t, s, "contosohr", "gb")
	for _, e := range [][2]string{{"ga", "gb"}, {"gb", "ga"}, {"ga", "ga"}} {
		if err := s.AddMember(ctx, tenant, "contosohr", e[0], &store.Member{ID: e[1], Type: "externalGroup"}); err != nil {
			t.Fatalf("AddMember(%s in %s) = %v", e[1], e[0], err)
		}
	}
	for g, want := range map[string][]*store.Member{
		"ga": {{ID: "ga", Type: "externalGroup"}, {ID: "gb", Type: "externalGroup"}},
		"gb": {{ID: "ga", Type: "externalGroup"}},
	} {
		list, _, err := s.Members(ctx, tenant, "contosohr", g, store.Page{Limit: 10})
		if err != nil || !cmp.Equal(list, want) {
			t.Errorf("Members(%s) = %v, %v; want %v", g, list, err, want)
		}
	}
	if err := s.DeleteGroup(ctx, tenant, "contosohr", "ga"); err != nil {
		t.Fatalf("DeleteGroup(ga) = %v", err)
	}
	list, _, err := s.Members(ctx, tenant, "contosohr", "gb", store.Page{Limit: 10})
	if want := []*store.Member{{ID: "ga", Type: "externalGroup"}}; err != nil || !cmp.Equal(list, want) {
		t.Errorf("Members(gb) after ga's deletion = %v, %v; want %v kept", list, err, want)
	}
}

func testActivities(t *testing.T, s store.Store) {
	in := inspector(t, s)
	mustCreateConnection(t, s, "contosohr")
	mustPutItem(t, s, tenant, contosoItem("contosohr", "item1"))
	acts := []store.Activity{
		viewed(0),
		{Type: "modified", StartDateTime: time.Now(), PerformedBy: store.Member{ID: "u2", Type: "user", IdentitySource: "external"}},
		{Type: "commented", StartDateTime: time.Now(), PerformedBy: store.Member{ID: "u3", Type: "user"}},
	}
	if err := s.AddActivities(ctx, tenant, "contosohr", "item1", acts); err != nil {
		t.Fatalf("AddActivities() = %v", err)
	}
	if err := s.AddActivities(ctx, tenant, "contosohr", "item1", nil); err != nil {
		t.Errorf("AddActivities(none) = %v", err)
	}
	if n := in.Rows(t, "activities"); n != 3 {
		t.Errorf("after AddActivities, %d activities are stored, want 3", n)
	}
	err := s.AddActivities(ctx, tenant, "contosohr", "nope", acts)
	if want := store.ItemNotFound("nope"); store.KindOf(err) != store.NotFound || err.Error() != want.Error() {
		t.Errorf("AddActivities(missing item) = %v, want NotFound %q", err, want)
	}
	wantKind(t, "AddActivities(none, missing item)", s.AddActivities(ctx, tenant, "contosohr", "nope", nil), store.NotFound)
	wantKind(t, "AddActivities(missing connection)", s.AddActivities(ctx, tenant, "nope", "item1", acts), store.NotFound)
	if n := in.Rows(t, "activities"); n != 3 {
		t.Errorf("after the AddActivities that found no item, %d activities are stored, want 3", n)
	}
	// An item's activities go with it.
	if err := s.DeleteItem(ctx, tenant, "contosohr", "item1"); err != nil {
		t.Fatalf("DeleteItem() = %v", err)
	}
	if n := in.Rows(t, "activities"); n != 0 {
		t.Errorf("after DeleteItem, %d activities are stored, want 0", n)
	}
}

// Many callers put items at once, as connectors push them: every item
// lands, each caller learns whether it created its item, the counts hold,
// and a put on a missing connection fails alone. The store's writer
// shares batches among the callers.
func testConcurrentPutItems(t *testing.T, s store.Store) {
	const callers, items = 64, 20
	in := inspector(t, s)
	mustCreateConnection(t, s, "contosohr")
	mustCreateConnection(t, s, "fabrikam")
	conns := []string{"contosohr", "fabrikam", "nope"} // nope does not exist
	before := in.ItemWriterStats()
	put := func(wantCreated bool) {
		var wg sync.WaitGroup
		for i := range callers {
			wg.Go(func() {
				conn := conns[i%len(conns)]
				for n := range items {
					it := contosoItem(conn, fmt.Sprintf("c%02dn%02d", i, n))
					it.Properties = json.RawMessage(fmt.Sprintf(`{"title":"%d/%d ✓","v":%t}`, i, n, wantCreated))
					created, err := s.PutItem(ctx, tenant, it, 0)
					if conn == "nope" {
						if store.KindOf(err) != store.NotFound {
							t.Errorf("PutItem(%s) on a missing connection = %v, want NotFound", it.ID, err)
						}
						continue
					}
					if err != nil || created != wantCreated {
						t.Errorf("PutItem(%s/%s) = created %v, %v; want %v", conn, it.ID, created, err, wantCreated)
					}
				}
			})
		}
		wg.Wait()
	}
	put(true)
	put(false) // every item again: replaces
	perConn := map[string]int64{}
	for i := range callers {
		perConn[conns[i%len(conns)]] += items
	}
	itemCount(t, s, tenant, "contosohr", perConn["contosohr"])
	itemCount(t, s, tenant, "fabrikam", perConn["fabrikam"])
	if n := in.Rows(t, "items"); n != perConn["contosohr"]+perConn["fabrikam"] {
		t.Errorf("items holds %d rows, want %d", n, perConn["contosohr"]+perConn["fabrikam"])
	}
	for _, key := range [][2]int{{0, 0}, {callers - 1, items - 1}, {31, 7}} {
		conn, id := conns[key[0]%len(conns)], fmt.Sprintf("c%02dn%02d", key[0], key[1])
		if conn == "nope" {
			continue
		}
		want := fmt.Sprintf(`{"title":"%d/%d ✓","v":false}`, key[0], key[1])
		if got, err := s.Item(ctx, tenant, conn, id); err != nil || string(got.Properties) != want {
			t.Errorf("Item(%s/%s) = %+v, %v; want properties %s", conn, id, got, err, want)
		}
	}
	after := in.ItemWriterStats()
	batches, values := after.Batches-before.Batches, after.Values-before.Values
	if values != 2*callers*items || after.Largest < 2 {
		t.Errorf("the items writer applied %d puts in %d batches, the largest of %d; want %d, and a batch of more than one",
			values, batches, after.Largest, 2*callers*items)
	}
	t.Logf("%d puts in %d batches, the largest of %d", values, batches, after.Largest)
}

// Many callers put the same new item at once: one of them creates it, and
// the connection counts it once, whether their puts share a batch or not.
func testConcurrentPutItemsOfOneID(t *testing.T, s store.Store) {
	const callers = 32
	mustCreateConnection(t, s, "contosohr")
	for round := range 3 {
		id := fmt.Sprint("shared", round)
		var created sync.WaitGroup
		var mu sync.Mutex
		creators := 0
		for range callers {
			created.Go(func() {
				c, err := s.PutItem(ctx, tenant, contosoItem("contosohr", id), 0)
				if err != nil {
					t.Errorf("PutItem(%s) = %v", id, err)
				}
				if c {
					mu.Lock()
					creators++
					mu.Unlock()
				}
			})
		}
		created.Wait()
		if creators != 1 {
			t.Errorf("%d concurrent PutItem(%s): %d created it, want 1", callers, id, creators)
		}
		itemCount(t, s, tenant, "contosohr", int64(round+1))
	}
}

// A connection at its limit refuses a new item (Full, with
// ItemLimitReached's message) and changes nothing, but takes a replace;
// a deletion makes room; without a limit (0) it takes any number.
func testItemLimit(t *testing.T, s store.Store) {
	const limit = 3
	mustCreateConnection(t, s, "contosohr")
	for i := range limit {
		if _, err := s.PutItem(ctx, tenant, contosoItem("contosohr", fmt.Sprint("item", i)), limit); err != nil {
			t.Fatalf("PutItem(item%d) under a limit of %d = %v", i, limit, err)
		}
	}
	_, err := s.PutItem(ctx, tenant, contosoItem("contosohr", "item9"), limit)
	if store.KindOf(err) != store.Full || err.Error() != store.ItemLimitReached("contosohr", limit).Error() {
		t.Errorf("PutItem(a new item past the limit) = %v, want Full: %v", err, store.ItemLimitReached("contosohr", limit))
	}
	wantKind(t, "Item(the refused item)", func() error { _, err := s.Item(ctx, tenant, "contosohr", "item9"); return err }(), store.NotFound)
	itemCount(t, s, tenant, "contosohr", limit)
	it := contosoItem("contosohr", "item0")
	it.Properties = json.RawMessage(`{"title":"replaced"}`)
	if created, err := s.PutItem(ctx, tenant, it, limit); err != nil || created {
		t.Errorf("PutItem(a replace at the limit) = created %v, %v; want false, nil", created, err)
	}
	if err := s.DeleteItem(ctx, tenant, "contosohr", "item1"); err != nil {
		t.Fatal(err)
	}
	if created, err := s.PutItem(ctx, tenant, contosoItem("contosohr", "item9"), limit); err != nil || !created {
		t.Errorf("PutItem(a new item after a deletion) = created %v, %v; want true, nil", created, err)
	}
	if created, err := s.PutItem(ctx, tenant, contosoItem("contosohr", "item10"), 0); err != nil || !created {
		t.Errorf("PutItem(a new item with no limit) = created %v, %v; want true, nil", created, err)
	}
	itemCount(t, s, tenant, "contosohr", limit+1)
}

// Many callers put new items at once into a connection with room for a
// few: exactly that many are created, whether their puts share a batch
// or not, and the others are refused, leaving nothing.
func testConcurrentPutItemsAtTheLimit(t *testing.T, s store.Store) {
	const callers, limit = 40, 7
	mustCreateConnection(t, s, "contosohr")
	var wg sync.WaitGroup
	var mu sync.Mutex
	created, refused := 0, 0
	for i := range callers {
		wg.Go(func() {
			c, err := s.PutItem(ctx, tenant, contosoItem("contosohr", fmt.Sprint("new", i)), limit)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && c:
				created++
			case store.KindOf(err) == store.Full:
				refused++
			default:
				t.Errorf("PutItem(new%d) = created %v, %v; want created or Full", i, c, err)
			}
		})
	}
	wg.Wait()
	if created != limit || refused != callers-limit {
		t.Errorf("%d concurrent new items under a limit of %d: %d created, %d refused; want %d, %d",
			callers, limit, created, refused, limit, callers-limit)
	}
	itemCount(t, s, tenant, "contosohr", limit)
	if in, ok := s.(ItemInspector); ok {
		if n := in.Rows(t, "items"); n != limit {
			t.Errorf("items holds %d rows, want %d", n, limit)
		}
	}
}

// Two tenants each have a connection "contosohr" with an item "item1" and a
// group "ga", and each reaches its own only; a tenant without the
// connection finds nothing, in the words of a missing connection, and
// changes nothing.
func testItemsTenants(t *testing.T, s store.Store) {
	for _, tn := range []string{tenantA, tenantB} {
		if err := s.CreateConnection(ctx, tn, &store.Connection{ID: "contosohr", Name: "HR of " + tn}); err != nil {
			t.Fatalf("CreateConnection(%s) = %v", tn, err)
		}
		it := contosoItem("contosohr", "item1")
		it.Properties = json.RawMessage(`{"of":"` + tn + `"}`)
		if created := mustPutItem(t, s, tn, it); !created || it.Tenant != tn {
			t.Errorf("PutItem(%s) = created %v, Tenant %q; want created in the tenant", tn, created, it.Tenant)
		}
		if err := s.CreateGroup(ctx, tn, &store.ExternalGroup{ConnectionID: "contosohr", ID: "ga", DisplayName: "of " + tn}); err != nil {
			t.Fatalf("CreateGroup(%s) = %v", tn, err)
		}
		if err := s.AddMember(ctx, tn, "contosohr", "ga", &store.Member{ID: "u-" + tn, Type: "user"}); err != nil {
			t.Fatalf("AddMember(%s) = %v", tn, err)
		}
	}
	for _, tn := range []string{tenantA, tenantB} {
		it, err := s.Item(ctx, tn, "contosohr", "item1")
		if err != nil || it.Tenant != tn || string(it.Properties) != `{"of":"`+tn+`"}` {
			t.Errorf("Item(%s) = %+v, %v; want the tenant's own", tn, it, err)
		}
		g, err := s.Group(ctx, tn, "contosohr", "ga")
		if err != nil || g.Tenant != tn || g.DisplayName != "of "+tn {
			t.Errorf("Group(%s) = %+v, %v; want the tenant's own", tn, g, err)
		}
		list, _, err := s.Members(ctx, tn, "contosohr", "ga", store.Page{Limit: 10})
		if err != nil || len(list) != 1 || list[0].ID != "u-"+tn {
			t.Errorf("Members(%s) = %v, %v; want the tenant's one member", tn, list, err)
		}
		itemCount(t, s, tn, "contosohr", 1)
	}
	// B's deletions leave A's whole.
	if err := s.DeleteItem(ctx, tenantB, "contosohr", "item1"); err != nil {
		t.Fatalf("DeleteItem(B) = %v", err)
	}
	if err := s.DeleteGroup(ctx, tenantB, "contosohr", "ga"); err != nil {
		t.Fatalf("DeleteGroup(B) = %v", err)
	}
	if _, err := s.Item(ctx, tenantA, "contosohr", "item1"); err != nil {
		t.Errorf("Item(A) after B's deletion = %v", err)
	}
	if n, err := s.CountMembers(ctx, tenantA, "contosohr", "ga"); err != nil || n != 1 {
		t.Errorf("CountMembers(A) after B's deletion = %d, %v; want 1", n, err)
	}
	itemCount(t, s, tenantA, "contosohr", 1)
	itemCount(t, s, tenantB, "contosohr", 0)

	// Tenant C has no connection contosohr.
	const tn = tenantC
	want := store.ConnectionNotFound("contosohr").Error()
	for _, c := range []struct {
		name string
		call func() error
	}{
		{"PutItem", func() error { _, err := s.PutItem(ctx, tn, contosoItem("contosohr", "item1"), 0); return err }},
		{"PutItem(new id)", func() error { _, err := s.PutItem(ctx, tn, contosoItem("contosohr", "item2"), 0); return err }},
		{"Item", func() error { _, err := s.Item(ctx, tn, "contosohr", "item1"); return err }},
		{"UpdateItem", func() error {
			_, err := s.UpdateItem(ctx, tn, "contosohr", "item1", store.ItemUpdate{Properties: json.RawMessage(`{}`)})
			return err
		}},
		{"DeleteItem", func() error { return s.DeleteItem(ctx, tn, "contosohr", "item1") }},
		{"CountItems", func() error { _, err := s.CountItems(ctx, tn, "contosohr"); return err }},
		{"CreateGroup", func() error {
			return s.CreateGroup(ctx, tn, &store.ExternalGroup{ConnectionID: "contosohr", ID: "gc", DisplayName: "C's"})
		}},
		{"CreateGroup(same id)", func() error {
			return s.CreateGroup(ctx, tn, &store.ExternalGroup{ConnectionID: "contosohr", ID: "ga", DisplayName: "C's"})
		}},
		{"Group", func() error { _, err := s.Group(ctx, tn, "contosohr", "ga"); return err }},
		{"UpdateGroup", func() error {
			_, err := s.UpdateGroup(ctx, tn, "contosohr", "ga", store.GroupUpdate{DisplayName: ptr("mine")})
			return err
		}},
		{"DeleteGroup", func() error { return s.DeleteGroup(ctx, tn, "contosohr", "ga") }},
		{"AddMember", func() error { return s.AddMember(ctx, tn, "contosohr", "ga", &store.Member{ID: "u9", Type: "user"}) }},
		{"Members", func() error { _, _, err := s.Members(ctx, tn, "contosohr", "ga", store.Page{Limit: 10}); return err }},
		{"CountMembers", func() error { _, err := s.CountMembers(ctx, tn, "contosohr", "ga"); return err }},
		{"RemoveMember", func() error { return s.RemoveMember(ctx, tn, "contosohr", "ga", "u-"+tenantA) }},
		{"AddActivities", func() error { return s.AddActivities(ctx, tn, "contosohr", "item1", []store.Activity{viewed(0)}) }},
	} {
		if err := c.call(); store.KindOf(err) != store.NotFound || err.Error() != want {
			t.Errorf("%s(tenant C) = %v (kind %v), want NotFound %q", c.name, err, store.KindOf(err), want)
		}
	}
	if it, err := s.Item(ctx, tenantA, "contosohr", "item1"); err != nil || string(it.Properties) != `{"of":"`+tenantA+`"}` {
		t.Errorf("Item(A) after tenant C's calls = %+v, %v; want it unchanged", it, err)
	}
	if g, err := s.Group(ctx, tenantA, "contosohr", "ga"); err != nil || g.DisplayName != "of "+tenantA {
		t.Errorf("Group(A) after tenant C's calls = %+v, %v; want it unchanged", g, err)
	}
	if n, err := s.CountMembers(ctx, tenantA, "contosohr", "ga"); err != nil || n != 1 {
		t.Errorf("CountMembers(A) after tenant C's calls = %d, %v; want 1", n, err)
	}
	itemCount(t, s, tenantA, "contosohr", 1)
	if n := inspector(t, s).Rows(t, "activities"); n != 0 {
		t.Errorf("after tenant C's AddActivities, %d activities are stored, want 0", n)
	}
}
