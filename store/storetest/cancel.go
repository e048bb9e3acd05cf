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
					return s.CreateConnection(ctx, &store.Connection{ID: "new-" + c.name, Name: "New"})
				}, func() bool { return isNotFound(s.Connection(bg, "new-"+c.name)) }},
				{"Connection", func() error { _, err := s.Connection(ctx, conn); return err }, nil},
				{"Connections", func() error { _, _, err := s.Connections(ctx, "", store.Page{Limit: 10}); return err }, nil},
				{"UpdateConnection", func() error {
					_, err := s.UpdateConnection(ctx, conn, store.ConnectionUpdate{Name: ptr("Renamed")})
					return err
				}, func() bool {
					got, err := s.Connection(bg, conn)
					return err == nil && got.Name == "Contoso "+conn
				}},
				{"DeleteConnection", func() error { return s.DeleteConnection(ctx, gone, nil) },
					func() bool { _, err := s.Connection(bg, gone); return err == nil }},
				{"CreateOperation", func() error {
					return s.CreateOperation(ctx, &store.Operation{ConnectionID: conn, ID: "new", Status: store.StatusUnspecified})
				}, func() bool { return isNotFound(s.Operation(bg, conn, "new")) }},
				{"Operation", func() error { _, err := s.Operation(ctx, conn, "op1"); return err }, nil},
				{"Operations", func() error { _, _, err := s.Operations(ctx, conn, nil, store.Page{Limit: 10}); return err }, nil},
				{"UpdateOperation", func() error {
					_, err := s.UpdateOperation(ctx, conn, "op1", store.OperationUpdate{Status: ptr(store.StatusInProgress)})
					return err
				}, func() bool {
					got, err := s.Operation(bg, conn, "op1")
					return err == nil && got.Status == store.StatusUnspecified
				}},
				{"DeleteOperation", func() error { return s.DeleteOperation(ctx, conn, "op2", nil) },
					func() bool { _, err := s.Operation(bg, conn, "op2"); return err == nil }},
				{"Schema", func() error {
					_, err := s.Schema(ctx, conn)
					if store.KindOf(err) == store.NotFound {
						return nil // conn has no schema: the call was answered
					}
					return err
				}, nil},
				{"RegisterSchema", func() error { _, err := s.RegisterSchema(ctx, conn, validSchema(), nil, due); return err },
					func() bool {
						ops, _, err := s.Operations(bg, conn, ptr(store.StatusInProgress), store.Page{Limit: 10})
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
