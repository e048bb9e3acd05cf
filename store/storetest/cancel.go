package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/graphconn/graphconn/store"
)

// testEndedContext calls every method with a context that has ended, as a
// request's does when its client goes away or its deadline passes. A store
// may finish a call regardless (a point read is not worth cancelling), but
// one that gives up returns Unavailable, whatever the engine, with the
// context's error in its chain, and changes nothing.
func testEndedContext(t *testing.T, s store.Store) {
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	expired, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel()

	for _, c := range []struct {
		name string
		ctx  context.Context
	}{{"Canceled", cancelled}, {"DeadlineExceeded", expired}} {
		t.Run(c.name, func(t *testing.T) {
			// Each case has its own data, so that a call one store
			// finishes does not change what the next case starts from.
			ctx, conn, gone := c.ctx, "c-"+c.name, "gone-"+c.name
			bg := context.Background()
			mustCreateConnection(t, s, conn)
			mustCreateConnection(t, s, gone)
			mustCreateOperation(t, s, conn, "op1", store.StatusUnspecified)
			mustCreateOperation(t, s, conn, "op2", store.StatusUnspecified)
			for _, id := range []string{"item1", "item2"} {
				mustPutItem(t, s, tenant, contosoItem(conn, id))
			}
			for _, id := range []string{"g1", "g2"} {
				mustCreateGroup(t, s, conn, id)
			}
			for _, id := range []string{"u1", "u2"} {
				if err := s.AddMember(bg, tenant, conn, "g1", &store.Member{ID: id, Type: "user"}); err != nil {
					t.Fatalf("AddMember(%s) = %v", id, err)
				}
			}
			due := time.Now().Add(-time.Second)
			calls := []struct {
				name string
				call func() error
				// unchanged reports, with a context that has not ended,
				// whether the store is as it was before the call.
				unchanged func() bool
			}{
				{"CreateConnection", func() error {
					return s.CreateConnection(ctx, tenant, &store.Connection{ID: "new-" + c.name, Name: "New"})
				}, func() bool { return isNotFound(s.Connection(bg, tenant, "new-"+c.name)) }},
				{"Connection", func() error { _, err := s.Connection(ctx, tenant, conn); return err }, nil},
				{"Connections", func() error { _, _, err := s.Connections(ctx, tenant, "", store.Page{Limit: 10}); return err }, nil},
				{"UpdateConnection", func() error {
					_, err := s.UpdateConnection(ctx, tenant, conn, store.ConnectionUpdate{Name: ptr("Renamed")})
					return err
				}, func() bool {
					got, err := s.Connection(bg, tenant, conn)
					return err == nil && got.Name == "Contoso "+conn
				}},
				{"DeleteConnection", func() error { return s.DeleteConnection(ctx, tenant, gone, nil) },
					func() bool { _, err := s.Connection(bg, tenant, gone); return err == nil }},
				{"CreateOperation", func() error {
					return s.CreateOperation(ctx, tenant, &store.Operation{ConnectionID: conn, ID: "new", Status: store.StatusUnspecified})
				}, func() bool { return isNotFound(s.Operation(bg, tenant, conn, "new")) }},
				{"Operation", func() error { _, err := s.Operation(ctx, tenant, conn, "op1"); return err }, nil},
				{"Operations", func() error { _, _, err := s.Operations(ctx, tenant, conn, nil, store.Page{Limit: 10}); return err }, nil},
				{"UpdateOperation", func() error {
					_, err := s.UpdateOperation(ctx, tenant, conn, "op1", store.OperationUpdate{Status: ptr(store.StatusInProgress)})
					return err
				}, func() bool {
					got, err := s.Operation(bg, tenant, conn, "op1")
					return err == nil && got.Status == store.StatusUnspecified
				}},
				{"DeleteOperation", func() error { return s.DeleteOperation(ctx, tenant, conn, "op2", nil) },
					func() bool { _, err := s.Operation(bg, tenant, conn, "op2"); return err == nil }},
				{"Schema", func() error {
					_, err := s.Schema(ctx, tenant, conn)
					if store.KindOf(err) == store.NotFound {
						return nil // conn has no schema: the call was answered
					}
					return err
				}, nil},
				{"RegisterSchema", func() error { _, err := s.RegisterSchema(ctx, tenant, conn, validSchema(), nil, due); return err },
					func() bool {
						ops, _, err := s.Operations(bg, tenant, conn, ptr(store.StatusInProgress), store.Page{Limit: 10})
						return err == nil && len(ops) == 0
					}},
				{"PendingOperations", func() error { _, err := s.PendingOperations(ctx); return err }, nil},
				{"NextDue", func() error { _, _, err := s.NextDue(ctx); return err }, nil},
				{"FinishDue", func() error { _, err := s.FinishDue(ctx, time.Now()); return err }, nil},
				{"PutItem", func() error { _, err := s.PutItem(ctx, tenant, contosoItem(conn, "new"), 0); return err },
					func() bool { return isNotFound(s.Item(bg, tenant, conn, "new")) }},
				{"PutItem(replace)", func() error {
					it := contosoItem(conn, "item1")
					it.Properties = json.RawMessage(`{"title":"replaced"}`)
					_, err := s.PutItem(ctx, tenant, it, 0)
					return err
				}, func() bool {
					got, err := s.Item(bg, tenant, conn, "item1")
					return err == nil && string(got.Properties) == string(contosoItem(conn, "item1").Properties)
				}},
				{"Item", func() error { _, err := s.Item(ctx, tenant, conn, "item1"); return err }, nil},
				{"UpdateItem", func() error {
					_, err := s.UpdateItem(ctx, tenant, conn, "item1", store.ItemUpdate{Properties: json.RawMessage(`{"title":"updated"}`)})
					return err
				}, func() bool {
					got, err := s.Item(bg, tenant, conn, "item1")
					return err == nil && string(got.Properties) == string(contosoItem(conn, "item1").Properties)
				}},
				{"DeleteItem", func() error { return s.DeleteItem(ctx, tenant, conn, "item2") },
					func() bool { _, err := s.Item(bg, tenant, conn, "item2"); return err == nil }},
				{"CountItems", func() error { _, err := s.CountItems(ctx, tenant, conn); return err }, nil},
				{"AddActivities", func() error { return s.AddActivities(ctx, tenant, conn, "item1", []store.Activity{viewed(0)}) }, nil},
				{"CreateGroup", func() error {
					return s.CreateGroup(ctx, tenant, &store.ExternalGroup{ConnectionID: conn, ID: "new", DisplayName: "New"})
				}, func() bool { return isNotFound(s.Group(bg, tenant, conn, "new")) }},
				{"Group", func() error { _, err := s.Group(ctx, tenant, conn, "g1"); return err }, nil},
				{"UpdateGroup", func() error {
					_, err := s.UpdateGroup(ctx, tenant, conn, "g1", store.GroupUpdate{DisplayName: ptr("Renamed")})
					return err
				}, func() bool {
					got, err := s.Group(bg, tenant, conn, "g1")
					return err == nil && got.DisplayName == "Group g1"
				}},
				{"DeleteGroup", func() error { return s.DeleteGroup(ctx, tenant, conn, "g2") },
					func() bool { _, err := s.Group(bg, tenant, conn, "g2"); return err == nil }},
				{"AddMember", func() error { return s.AddMember(ctx, tenant, conn, "g1", &store.Member{ID: "new", Type: "user"}) },
					func() bool { return !hasMember(s, conn, "g1", "new") }},
				{"Members", func() error { _, _, err := s.Members(ctx, tenant, conn, "g1", store.Page{Limit: 10}); return err }, nil},
				{"CountMembers", func() error { _, err := s.CountMembers(ctx, tenant, conn, "g1"); return err }, nil},
				{"RemoveMember", func() error { return s.RemoveMember(ctx, tenant, conn, "g1", "u2") },
					func() bool { return hasMember(s, conn, "g1", "u2") }},
			}
			for _, tt := range calls {
				err := tt.call()
				if err == nil {
					continue
				}
				if got := store.KindOf(err); got != store.Unavailable || !errors.Is(err, ctx.Err()) {
					t.Errorf("%s(ended context) = %v (kind %v), want kind %v wrapping %v", tt.name, err, got, store.Unavailable, ctx.Err())
				}
				if tt.unchanged != nil && !tt.unchanged() {
					t.Errorf("%s(ended context) = %v, and the store changed", tt.name, err)
				}
			}
		})
	}
}

func isNotFound[T any](_ T, err error) bool { return store.KindOf(err) == store.NotFound }

// hasMember reports whether the group has the member.
func hasMember(s store.Store, connID, groupID, id string) bool {
	list, _, err := s.Members(context.Background(), tenant, connID, groupID, store.Page{Limit: 100})
	if err != nil {
		return false
	}
	for _, m := range list {
		if m.ID == id {
			return true
		}
	}
	return false
}
