// Package storetest is the conformance suite that every store.Store
// implementation must pass.
package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/graphconn/graphconn/store"
)

// Opener returns a new, empty store for one test; the suite closes it.
type Opener func(t *testing.T) store.Store

// Run runs the conformance suite against the stores that open returns.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"CreateConnection", testCreateConnection},
		{"CreateOperation", testCreateOperation},
		{"UpdateOperation", testUpdateOperation},
		{"ConcurrentUpdates", testConcurrentUpdates},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close() = %v", err)
				}
			})
			tt.fn(t, s)
		})
	}
}

func mustCreateConnection(t *testing.T, s store.Store, id string) {
	t.Helper()
	c := &store.Connection{ID: id, Name: "Contoso " + id, State: store.ConnectionDraft}
	if err := s.CreateConnection(context.Background(), c); err != nil {
		t.Fatalf("CreateConnection(%q) = %v", id, err)
	}
}

func mustCreateOperation(t *testing.T, s store.Store, op *store.Operation) {
	t.Helper()
	if err := s.CreateOperation(context.Background(), op); err != nil {
		t.Fatalf("CreateOperation(%+v) = %v", op, err)
	}
}

func wantKind(t *testing.T, call string, err error, want store.Kind) {
	t.Helper()
	if got := store.KindOf(err); err == nil || got != want {
		t.Errorf("%s = %v (kind %v), want kind %v", call, err, got, want)
	}
}

func testCreateConnection(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := &store.Connection{ID: "contosohr", Name: "Contoso HR", Description: "HR data", State: store.ConnectionDraft}
	if err := s.CreateConnection(ctx, c); err != nil {
		t.Fatalf("CreateConnection() = %v", err)
	}
	if c.Version != 1 || c.Created.IsZero() {
		t.Errorf("CreateConnection() set Version %d, Created %v; want 1 and a time", c.Version, c.Created)
	}
	got, err := s.Connection(ctx, "contosohr")
	if err != nil {
		t.Fatalf("Connection() = %v", err)
	}
	if diff := cmp.Diff(c, got, cmpopts.EquateApproxTime(0)); diff != "" {
		t.Errorf("Connection() mismatch (-want +got):\n%s", diff)
	}
	dup := &store.Connection{ID: "contosohr", Name: "Other", State: store.ConnectionDraft}
	wantKind(t, "CreateConnection(duplicate)", s.CreateConnection(ctx, dup), store.Conflict)
	if got, _ := s.Connection(ctx, "contosohr"); got == nil || got.Name != "Contoso HR" {
		t.Errorf("after a duplicate CreateConnection, Connection() = %+v, want the original", got)
	}
	_, err = s.Connection(ctx, "missing")
	wantKind(t, "Connection(missing)", err, store.NotFound)
}

func testCreateOperation(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustCreateConnection(t, s, "contosohr")
	op := &store.Operation{
		ConnectionID: "contosohr", ID: "op1", Status: store.StatusFailed,
		Error: &store.ErrorDetail{Code: "E1", Message: "boom", Details: []store.InnerErrorDetail{{Source: "properties/0"}}},
	}
	mustCreateOperation(t, s, op)
	got, err := s.Operation(ctx, "contosohr", "op1")
	if err != nil {
		t.Fatalf("Operation() = %v", err)
	}
	if diff := cmp.Diff(op, got, cmpopts.EquateApproxTime(0)); diff != "" {
		t.Errorf("Operation() mismatch (-want +got):\n%s", diff)
	}

	tests := []struct {
		name string
		op   store.Operation
		want store.Kind
	}{
		{"missing connection", store.Operation{ConnectionID: "nope", ID: "op2", Status: store.StatusUnspecified}, store.NotFound},
		{"duplicate id", store.Operation{ConnectionID: "contosohr", ID: "op1", Status: store.StatusUnspecified}, store.Conflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantKind(t, "CreateOperation()", s.CreateOperation(ctx, &tt.op), tt.want)
		})
	}
	for _, key := range [][2]string{{"contosohr", "missing"}, {"nope", "op1"}} {
		_, err := s.Operation(ctx, key[0], key[1])
		wantKind(t, fmt.Sprintf("Operation(%q, %q)", key[0], key[1]), err, store.NotFound)
	}
}

func testUpdateOperation(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustCreateConnection(t, s, "contosohr")
	failed, completed := store.StatusFailed, store.StatusCompleted
	detail := &store.ErrorDetail{Code: "E1", Message: "boom"}

	// Each step applies to the result of the one before it.
	steps := []struct {
		name       string
		update     store.OperationUpdate
		wantStatus store.OperationStatus
		wantError  *store.ErrorDetail
	}{
		{"nothing", store.OperationUpdate{}, store.StatusInProgress, nil},
		{"status and error", store.OperationUpdate{Status: &failed, SetError: true, Error: detail}, store.StatusFailed, detail},
		{"status only keeps error", store.OperationUpdate{Status: &completed}, store.StatusCompleted, detail},
		{"clear error", store.OperationUpdate{SetError: true}, store.StatusCompleted, nil},
	}
	mustCreateOperation(t, s, &store.Operation{ConnectionID: "contosohr", ID: "op1", Status: store.StatusInProgress})
	for i, st := range steps {
		got, err := s.UpdateOperation(ctx, "contosohr", "op1", st.update)
		if err != nil {
			t.Fatalf("step %q: UpdateOperation() = %v", st.name, err)
		}
		if got.Status != st.wantStatus || !cmp.Equal(got.Error, st.wantError) || got.Version != int64(i+2) {
			t.Errorf("step %q: UpdateOperation() = status %q, error %+v, version %d; want %q, %+v, %d",
				st.name, got.Status, got.Error, got.Version, st.wantStatus, st.wantError, i+2)
		}
		read, err := s.Operation(ctx, "contosohr", "op1")
		if err != nil {
			t.Fatalf("Operation() = %v", err)
		}
		if diff := cmp.Diff(got, read, cmpopts.EquateApproxTime(0)); diff != "" {
			t.Errorf("step %q: Operation() differs from what UpdateOperation returned (-update +read):\n%s", st.name, diff)
		}
	}
	_, err := s.UpdateOperation(ctx, "contosohr", "missing", store.OperationUpdate{Status: &failed})
	wantKind(t, "UpdateOperation(missing operation)", err, store.NotFound)
	_, err = s.UpdateOperation(ctx, "nope", "op1", store.OperationUpdate{Status: &failed})
	wantKind(t, "UpdateOperation(missing connection)", err, store.NotFound)
}

func testConcurrentUpdates(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustCreateConnection(t, s, "contosohr")
	mustCreateOperation(t, s, &store.Operation{ConnectionID: "contosohr", ID: "op1", Status: store.StatusInProgress})
	const n = 32
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status := store.StatusCompleted
			_, err := s.UpdateOperation(ctx, "contosohr", "op1", store.OperationUpdate{Status: &status})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent UpdateOperation() = %v", err)
		}
	}
	got, err := s.Operation(ctx, "contosohr", "op1")
	if err != nil {
		t.Fatalf("Operation() = %v", err)
	}
	if got.Version != n+1 {
		t.Errorf("after %d updates, Version = %d, want %d (an update was lost)", n, got.Version, n+1)
	}
}
