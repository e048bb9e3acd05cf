package storetest

import (
	"context"
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
			mustCreateConnection(t, s, conn)
			mustCreateConnection(t, s, gone)
			mustCreateOperation(t, s, conn, "op1", store.StatusUnspecified)
			mustCreateOperation(t, s, conn, "op2", store.StatusUnspecified)
			bg := context.Background()
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
