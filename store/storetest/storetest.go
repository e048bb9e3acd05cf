// Package storetest is the conformance suite that every store.Store
// implementation must pass.
package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
		{"UpdateConnection", testUpdateConnection},
		{"DeleteConnectionCascades", testDeleteConnection},
		{"ListConnections", testListConnections},
		{"CreateOperation", testCreateOperation},
		{"UpdateOperation", testUpdateOperation},
		{"UpdateTerminalOperation", testUpdateTerminal},
		{"IfMatch", testIfMatch},
		{"ConcurrentIfMatch", testConcurrentIfMatch},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"ListOperations", testListOperations},
		{"DeleteOperation", testDeleteOperation},
		{"RegisterSchema", testRegisterSchema},
		{"FailedRegistration", testFailedRegistration},
		{"ClientFinishesFirst", testClientFinishesFirst},
		{"ClientUpdatesWithoutFinishing", testClientUpdatesWithoutFinishing},
		{"ClientUpdatesAfterTheWorker", testClientUpdatesAfterTheWorker},
		{"FinishDueExactlyOnce", testFinishDueExactlyOnce},
		{"EndedContext", testEndedContext},
	}
	tests = append(tests, tenantTests...)
	tests = append(tests, settingsTests...)
	tests = append(tests, itemTests...)
	tests = append(tests, searchTests...)
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

var ctx = context.Background()

// Tenant is the tenant of Seed's connection and of the suite's, but for the
// tests of tenants themselves.
const Tenant = "4c1e3b7a-2f0d-4e5b-9a8c-6d7e8f9a0b1c"

const tenant = Tenant

var approx = cmpopts.EquateApproxTime(time.Microsecond)

// sameSchema compares schemas but for when they were registered.
var sameSchema = cmpopts.IgnoreFields(store.Schema{}, "Registered")

func mustCreateConnection(t *testing.T, s store.Store, id string) *store.Connection {
	t.Helper()
	c := &store.Connection{ID: id, Name: "Contoso " + id}
	if err := s.CreateConnection(ctx, tenant, c); err != nil {
		t.Fatalf("CreateConnection(%q) = %v", id, err)
	}
	return c
}

func mustCreateOperation(t *testing.T, s store.Store, connID, id string, status store.OperationStatus) *store.Operation {
	t.Helper()
	op := &store.Operation{ConnectionID: connID, ID: id, Status: status}
	if err := s.CreateOperation(ctx, tenant, op); err != nil {
		t.Fatalf("CreateOperation(%+v) = %v", op, err)
	}
	return op
}

func wantKind(t *testing.T, call string, err error, want store.Kind) {
	t.Helper()
	if got := store.KindOf(err); err == nil || got != want {
		t.Errorf("%s = %v (kind %v), want kind %v", call, err, got, want)
	}
}

func ptr[T any](v T) *T { return &v }

func testCreateConnection(t *testing.T, s store.Store) {
	c := &store.Connection{ID: "contosohr", Name: "Contoso HR", Description: "HR data", Owner: "app1"}
	if err := s.CreateConnection(ctx, tenant, c); err != nil {
		t.Fatalf("CreateConnection() = %v", err)
	}
	if c.State != store.ConnectionDraft || c.Version == 0 || c.Created.IsZero() {
		t.Errorf("CreateConnection() set State %q, Version %d, Created %v; want draft, a version and a time", c.State, c.Version, c.Created)
	}
	got, err := s.Connection(ctx, tenant, "contosohr")
	if err != nil {
		t.Fatalf("Connection() = %v", err)
	}
	if diff := cmp.Diff(c, got, approx); diff != "" {
		t.Errorf("Connection() mismatch (-want +got):\n%s", diff)
	}
	wantKind(t, "CreateConnection(duplicate)", s.CreateConnection(ctx, tenant, &store.Connection{ID: "contosohr", Name: "Other"}), store.Exist)
	if got, _ := s.Connection(ctx, tenant, "contosohr"); got == nil || got.Name != "Contoso HR" {
		t.Errorf("after a duplicate CreateConnection, Connection() = %+v, want the original", got)
	}
	_, err = s.Connection(ctx, tenant, "missing")
	wantKind(t, "Connection(missing)", err, store.NotFound)
}

func testUpdateConnection(t *testing.T, s store.Store) {
	c := mustCreateConnection(t, s, "contosohr")
	got, err := s.UpdateConnection(ctx, tenant, "contosohr", store.ConnectionUpdate{Description: ptr("new")})
	if err != nil {
		t.Fatalf("UpdateConnection() = %v", err)
	}
	if got.Name != c.Name || got.Description != "new" || got.Version <= c.Version {
		t.Errorf("UpdateConnection(description) = %+v; want name kept, description new, version above %d", got, c.Version)
	}
	_, err = s.UpdateConnection(ctx, tenant, "contosohr", store.ConnectionUpdate{Name: ptr("x"), IfMatch: []int64{c.Version}})
	wantKind(t, "UpdateConnection(stale If-Match)", err, store.PreconditionFailed)
	got2, err := s.UpdateConnection(ctx, tenant, "contosohr", store.ConnectionUpdate{Name: ptr("Renamed"), IfMatch: []int64{c.Version, got.Version}})
	if err != nil || got2.Name != "Renamed" {
		t.Errorf("UpdateConnection(current If-Match) = %+v, %v; want renamed", got2, err)
	}
	_, err = s.UpdateConnection(ctx, tenant, "missing", store.ConnectionUpdate{Name: ptr("x")})
	wantKind(t, "UpdateConnection(missing)", err, store.NotFound)
}

func testDeleteConnection(t *testing.T, s store.Store) {
	mustCreateConnection(t, s, "contosohr")
	mustCreateOperation(t, s, "contosohr", "op1", store.StatusInProgress)
	if _, err := s.RegisterSchema(ctx, tenant, "contosohr", validSchema(), nil, time.Now()); err != nil {
		t.Fatalf("RegisterSchema() = %v", err)
	}
	if _, err := s.FinishDue(ctx, time.Now().Add(time.Second)); err != nil {
		t.Fatalf("FinishDue() = %v", err)
	}
	c, _ := s.Connection(ctx, tenant, "contosohr")
	wantKind(t, "DeleteConnection(stale If-Match)", s.DeleteConnection(ctx, tenant, "contosohr", []int64{c.Version - 1}), store.PreconditionFailed)
	if err := s.DeleteConnection(ctx, tenant, "contosohr", []int64{c.Version}); err != nil {
		t.Fatalf("DeleteConnection() = %v", err)
	}
	_, err := s.Connection(ctx, tenant, "contosohr")
	wantKind(t, "Connection(deleted)", err, store.NotFound)
	_, err = s.Operation(ctx, tenant, "contosohr", "op1")
	wantKind(t, "Operation(of deleted connection)", err, store.NotFound)
	_, err = s.Schema(ctx, tenant, "contosohr")
	wantKind(t, "Schema(of deleted connection)", err, store.NotFound)
	wantKind(t, "DeleteConnection(again)", s.DeleteConnection(ctx, tenant, "contosohr", nil), store.NotFound)

	// A re-created connection starts empty, with a version never seen before.
	again := mustCreateConnection(t, s, "contosohr")
	if again.Version == c.Version {
		t.Errorf("re-created connection has version %d, the same as the deleted one", again.Version)
	}
	ops, _, err := s.Operations(ctx, tenant, "contosohr", nil, store.Page{Limit: 10})
	if err != nil || len(ops) != 0 {
		t.Errorf("Operations(re-created) = %d operations, %v; want none", len(ops), err)
	}
}

func testListConnections(t *testing.T, s store.Store) {
	var all, ofA []string
	for i := range 7 {
		id := fmt.Sprintf("conn%02d", i)
		owner := "appB"
		if i%3 == 0 {
			owner = "appA"
			ofA = append(ofA, id)
		}
		if err := s.CreateConnection(ctx, tenant, &store.Connection{ID: id, Name: id, Owner: owner}); err != nil {
			t.Fatalf("CreateConnection(%s) = %v", id, err)
		}
		all = append(all, id)
	}
	tests := []struct {
		name, owner string
		limit       int
		want        []string
	}{
		{"all in pages of 3", "", 3, all},
		{"all in one page", "", 100, all},
		{"appA's in pages of 1", "appA", 1, ofA},
		{"nobody's", "appC", 2, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			after := ""
			for pages := 0; ; pages++ {
				if pages > 10 {
					t.Fatal("Connections() does not stop paging")
				}
				list, next, err := s.Connections(ctx, tenant, tt.owner, store.Page{Limit: tt.limit, After: after})
				if err != nil {
					t.Fatalf("Connections() = %v", err)
				}
				for _, c := range list {
					if tt.owner != "" && c.Owner != tt.owner {
						t.Errorf("Connections(%q) returned %s of %q", tt.owner, c.ID, c.Owner)
					}
					got = append(got, c.ID)
				}
				if next == "" {
					break
				}
				after = next
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("paging through Connections(%q) mismatch (-want +got):\n%s", tt.owner, diff)
			}
		})
	}
}

func testCreateOperation(t *testing.T, s store.Store) {
	mustCreateConnection(t, s, "contosohr")
	op := &store.Operation{
		ConnectionID: "contosohr", ID: "op1", Status: store.StatusFailed,
		Error: &store.ErrorDetail{Code: "E1", Message: "boom", Details: []store.InnerErrorDetail{{Source: "properties/0"}}},
	}
	if err := s.CreateOperation(ctx, tenant, op); err != nil {
		t.Fatalf("CreateOperation() = %v", err)
	}
	got, err := s.Operation(ctx, tenant, "contosohr", "op1")
	if err != nil {
		t.Fatalf("Operation() = %v", err)
	}
	if diff := cmp.Diff(op, got, approx); diff != "" {
		t.Errorf("Operation() mismatch (-want +got):\n%s", diff)
	}
	tests := []struct {
		name string
		op   store.Operation
		want store.Kind
	}{
		{"missing connection", store.Operation{ConnectionID: "nope", ID: "op2", Status: store.StatusUnspecified}, store.NotFound},
		{"duplicate id", store.Operation{ConnectionID: "contosohr", ID: "op1", Status: store.StatusUnspecified}, store.Exist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantKind(t, "CreateOperation()", s.CreateOperation(ctx, tenant, &tt.op), tt.want)
		})
	}
	for _, key := range [][2]string{{"contosohr", "missing"}, {"nope", "op1"}} {
		_, err := s.Operation(ctx, tenant, key[0], key[1])
		wantKind(t, fmt.Sprintf("Operation(%q, %q)", key[0], key[1]), err, store.NotFound)
	}
}

func testUpdateOperation(t *testing.T, s store.Store) {
	mustCreateConnection(t, s, "contosohr")
	detail := &store.ErrorDetail{Code: "E1", Message: "boom", Details: []store.InnerErrorDetail{{Source: "s"}}}
	// Each step applies to the result of the one before it.
	steps := []struct {
		name       string
		update     store.OperationUpdate
		wantStatus store.OperationStatus
		wantError  *store.ErrorDetail
	}{
		{"nothing", store.OperationUpdate{}, store.StatusInProgress, nil},
		{"error only", store.OperationUpdate{SetError: true, Error: detail}, store.StatusInProgress, detail},
		{"status only keeps the error", store.OperationUpdate{Status: ptr(store.StatusUnspecified)}, store.StatusUnspecified, detail},
		{"clear the error", store.OperationUpdate{SetError: true}, store.StatusUnspecified, nil},
		{"status and error", store.OperationUpdate{Status: ptr(store.StatusFailed), SetError: true, Error: detail}, store.StatusFailed, detail},
		{"the same terminal values again", store.OperationUpdate{Status: ptr(store.StatusFailed), SetError: true, Error: detail}, store.StatusFailed, detail},
	}
	prev := mustCreateOperation(t, s, "contosohr", "op1", store.StatusInProgress)
	for _, st := range steps {
		got, err := s.UpdateOperation(ctx, tenant, "contosohr", "op1", st.update)
		if err != nil {
			t.Fatalf("step %q: UpdateOperation() = %v", st.name, err)
		}
		if got.Status != st.wantStatus || !cmp.Equal(got.Error, st.wantError) || got.Version <= prev.Version {
			t.Errorf("step %q: UpdateOperation() = status %q, error %+v, version %d; want %q, %+v, a version above %d",
				st.name, got.Status, got.Error, got.Version, st.wantStatus, st.wantError, prev.Version)
		}
		read, err := s.Operation(ctx, tenant, "contosohr", "op1")
		if err != nil {
			t.Fatalf("Operation() = %v", err)
		}
		if diff := cmp.Diff(got, read, approx); diff != "" {
			t.Errorf("step %q: Operation() differs from what UpdateOperation returned (-update +read):\n%s", st.name, diff)
		}
		prev = got
	}
	_, err := s.UpdateOperation(ctx, tenant, "contosohr", "missing", store.OperationUpdate{Status: ptr(store.StatusFailed)})
	wantKind(t, "UpdateOperation(missing operation)", err, store.NotFound)
	_, err = s.UpdateOperation(ctx, tenant, "nope", "op1", store.OperationUpdate{Status: ptr(store.StatusFailed)})
	wantKind(t, "UpdateOperation(missing connection)", err, store.NotFound)
}

// An update applies whatever the operation's status: a completed or failed
// operation takes a new status and error as any other, at a new version.
func testUpdateTerminal(t *testing.T, s store.Store) {
	mustCreateConnection(t, s, "contosohr")
	boom := &store.ErrorDetail{Code: "E1", Message: "boom", Details: []store.InnerErrorDetail{{Source: "properties/0"}}}
	late := &store.ErrorDetail{Code: "E2", Message: "found late"}
	tests := []struct {
		name       string
		status     store.OperationStatus // the operation's before the update
		err        *store.ErrorDetail    // and its error
		update     store.OperationUpdate
		wantStatus store.OperationStatus
		wantError  *store.ErrorDetail
	}{
		{"failed to completed", store.StatusFailed, boom,
			store.OperationUpdate{Status: ptr(store.StatusCompleted)}, store.StatusCompleted, boom},
		{"failed to completed, error cleared", store.StatusFailed, boom,
			store.OperationUpdate{Status: ptr(store.StatusCompleted), SetError: true}, store.StatusCompleted, nil},
		{"completed to failed with an error", store.StatusCompleted, nil,
			store.OperationUpdate{Status: ptr(store.StatusFailed), SetError: true, Error: late}, store.StatusFailed, late},
		{"failed, error cleared", store.StatusFailed, boom,
			store.OperationUpdate{SetError: true}, store.StatusFailed, nil},
		{"failed, error replaced", store.StatusFailed, boom,
			store.OperationUpdate{SetError: true, Error: late}, store.StatusFailed, late},
		{"completed, error set", store.StatusCompleted, nil,
			store.OperationUpdate{SetError: true, Error: late}, store.StatusCompleted, late},
		{"completed to inprogress", store.StatusCompleted, nil,
			store.OperationUpdate{Status: ptr(store.StatusInProgress)}, store.StatusInProgress, nil},
		{"failed to inprogress keeps the error", store.StatusFailed, boom,
			store.OperationUpdate{Status: ptr(store.StatusInProgress)}, store.StatusInProgress, boom},
		{"failed to unspecified, error cleared", store.StatusFailed, boom,
			store.OperationUpdate{Status: ptr(store.StatusUnspecified), SetError: true}, store.StatusUnspecified, nil},
		{"completed, the same status again", store.StatusCompleted, nil,
			store.OperationUpdate{Status: ptr(store.StatusCompleted)}, store.StatusCompleted, nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := &store.Operation{ConnectionID: "contosohr", ID: fmt.Sprint("op", i), Status: tt.status, Error: tt.err}
			if err := s.CreateOperation(ctx, tenant, before); err != nil {
				t.Fatalf("CreateOperation(%+v) = %v", before, err)
			}
			got, err := s.UpdateOperation(ctx, tenant, "contosohr", before.ID, tt.update)
			if err != nil {
				t.Fatalf("UpdateOperation() = %v, want success", err)
			}
			if got.Status != tt.wantStatus || !cmp.Equal(got.Error, tt.wantError) || got.Version <= before.Version {
				t.Errorf("UpdateOperation() = status %q, error %+v, version %d; want %q, %+v, a version above %d",
					got.Status, got.Error, got.Version, tt.wantStatus, tt.wantError, before.Version)
			}
			read, err := s.Operation(ctx, tenant, "contosohr", before.ID)
			if err != nil {
				t.Fatalf("Operation() = %v", err)
			}
			if diff := cmp.Diff(got, read, approx); diff != "" {
				t.Errorf("Operation() differs from what UpdateOperation returned (-update +read):\n%s", diff)
			}
		})
	}
}

func testIfMatch(t *testing.T, s store.Store) {
	mustCreateConnection(t, s, "contosohr")
	op := mustCreateOperation(t, s, "contosohr", "op1", store.StatusInProgress)
	_, err := s.UpdateOperation(ctx, tenant, "contosohr", "op1", store.OperationUpdate{Status: ptr(store.StatusCompleted), IfMatch: []int64{op.Version + 1}})
	wantKind(t, "UpdateOperation(wrong If-Match)", err, store.PreconditionFailed)
	_, err = s.UpdateOperation(ctx, tenant, "contosohr", "op1", store.OperationUpdate{Status: ptr(store.StatusCompleted), IfMatch: []int64{}})
	wantKind(t, "UpdateOperation(empty If-Match list)", err, store.PreconditionFailed)
	got, err := s.UpdateOperation(ctx, tenant, "contosohr", "op1", store.OperationUpdate{Status: ptr(store.StatusCompleted), IfMatch: []int64{op.Version}})
	if err != nil || got.Status != store.StatusCompleted {
		t.Fatalf("UpdateOperation(current If-Match) = %+v, %v", got, err)
	}
	// A terminal operation holds to If-Match as any other.
	_, err = s.UpdateOperation(ctx, tenant, "contosohr", "op1", store.OperationUpdate{Status: ptr(store.StatusFailed), IfMatch: []int64{op.Version}})
	wantKind(t, "UpdateOperation(stale If-Match on a completed operation)", err, store.PreconditionFailed)
	if read, err := s.Operation(ctx, tenant, "contosohr", "op1"); err != nil || read.Status != store.StatusCompleted || read.Version != got.Version {
		t.Errorf("Operation() after a stale If-Match = %+v, %v; want it completed at version %d", read, err, got.Version)
	}
	again, err := s.UpdateOperation(ctx, tenant, "contosohr", "op1", store.OperationUpdate{Status: ptr(store.StatusFailed), IfMatch: []int64{got.Version}})
	if err != nil || again.Status != store.StatusFailed || again.Version <= got.Version {
		t.Errorf("UpdateOperation(current If-Match on a completed operation) = %+v, %v; want it failed at a version above %d", again, err, got.Version)
	}
}

func testConcurrentIfMatch(t *testing.T, s store.Store) {
	mustCreateConnection(t, s, "contosohr")
	op := mustCreateOperation(t, s, "contosohr", "op1", store.StatusUnspecified)
	const n = 16
	var wins, fails atomic.Int32
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.UpdateOperation(ctx, tenant, "contosohr", "op1", store.OperationUpdate{Status: ptr(store.StatusInProgress), IfMatch: []int64{op.Version}})
			switch store.KindOf(err) {
			case store.PreconditionFailed:
				fails.Add(1)
			default:
				if err != nil {
					t.Errorf("UpdateOperation() = %v", err)
				} else {
					wins.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 || fails.Load() != n-1 {
		t.Errorf("%d concurrent updates with one If-Match: %d won and %d failed, want 1 and %d", n, wins.Load(), fails.Load(), n-1)
	}
}

func testConcurrentUpdates(t *testing.T, s store.Store) {
	mustCreateConnection(t, s, "contosohr")
	mustCreateOperation(t, s, "contosohr", "op1", store.StatusInProgress)
	const n = 32
	var wg sync.WaitGroup
	versions := make(chan int64, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			op, err := s.UpdateOperation(ctx, tenant, "contosohr", "op1", store.OperationUpdate{SetError: true, Error: &store.ErrorDetail{Code: fmt.Sprint(i)}})
			if err != nil {
				t.Errorf("concurrent UpdateOperation() = %v", err)
				return
			}
			versions <- op.Version
		}()
	}
	wg.Wait()
	close(versions)
	seen := map[int64]bool{}
	for v := range versions {
		if seen[v] {
			t.Errorf("two concurrent updates returned version %d: one was lost", v)
		}
		seen[v] = true
	}
}

func testListOperations(t *testing.T, s store.Store) {
	mustCreateConnection(t, s, "contosohr")
	mustCreateConnection(t, s, "other")
	mustCreateOperation(t, s, "other", "x", store.StatusCompleted)
	var all, completed []string
	for i := range 9 {
		status := store.StatusInProgress
		if i%3 == 0 {
			status = store.StatusCompleted
		}
		id := fmt.Sprintf("op%d", i)
		mustCreateOperation(t, s, "contosohr", id, status)
		all = append(all, id)
		if status == store.StatusCompleted {
			completed = append(completed, id)
		}
	}
	tests := []struct {
		name   string
		status *store.OperationStatus
		limit  int
		want   []string
	}{
		{"all in pages of 2", nil, 2, all},
		{"all in one page", nil, 100, all},
		{"completed in pages of 1", ptr(store.StatusCompleted), 1, completed},
		{"none failed", ptr(store.StatusFailed), 5, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			after := ""
			for pages := 0; ; pages++ {
				if pages > 20 {
					t.Fatal("Operations() does not stop paging")
				}
				list, next, err := s.Operations(ctx, tenant, "contosohr", tt.status, store.Page{Limit: tt.limit, After: after})
				if err != nil {
					t.Fatalf("Operations() = %v", err)
				}
				if len(list) > tt.limit {
					t.Fatalf("Operations(limit %d) returned %d", tt.limit, len(list))
				}
				for _, op := range list {
					got = append(got, op.ID)
				}
				if next == "" {
					break
				}
				after = next
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("paging through Operations() mismatch (-want +got):\n%s", diff)
			}
		})
	}
	_, _, err := s.Operations(ctx, tenant, "nope", nil, store.Page{Limit: 5})
	wantKind(t, "Operations(missing connection)", err, store.NotFound)
	_, _, err = s.Operations(ctx, tenant, "contosohr", nil, store.Page{Limit: 5, After: "garbage"})
	wantKind(t, "Operations(bad page token)", err, store.Invalid)
}

func testDeleteOperation(t *testing.T, s store.Store) {
	mustCreateConnection(t, s, "contosohr")
	op := mustCreateOperation(t, s, "contosohr", "op1", store.StatusInProgress)
	wantKind(t, "DeleteOperation(stale If-Match)", s.DeleteOperation(ctx, tenant, "contosohr", "op1", []int64{op.Version + 1}), store.PreconditionFailed)
	if err := s.DeleteOperation(ctx, tenant, "contosohr", "op1", []int64{op.Version}); err != nil {
		t.Fatalf("DeleteOperation() = %v", err)
	}
	_, err := s.Operation(ctx, tenant, "contosohr", "op1")
	wantKind(t, "Operation(deleted)", err, store.NotFound)
	wantKind(t, "DeleteOperation(again)", s.DeleteOperation(ctx, tenant, "contosohr", "op1", nil), store.NotFound)
	wantKind(t, "DeleteOperation(missing connection)", s.DeleteOperation(ctx, tenant, "nope", "op1", nil), store.NotFound)
}

func validSchema() *store.Schema {
	return &store.Schema{BaseType: "microsoft.graph.externalItem", Properties: []store.Property{
		{Name: "title", Type: store.TypeString, IsSearchable: true, IsRetrievable: true, Labels: []string{"title"}},
		{Name: "priority", Type: store.TypeInt64, IsQueryable: true, IsRefinable: true, Aliases: []string{"rank"}},
	}}
}

func testRegisterSchema(t *testing.T, s store.Store) {
	c := mustCreateConnection(t, s, "contosohr")
	_, err := s.Schema(ctx, tenant, "contosohr")
	wantKind(t, "Schema(before registration)", err, store.NotFound)
	due := time.Now().Add(time.Hour)
	op, err := s.RegisterSchema(ctx, tenant, "contosohr", validSchema(), nil, due)
	if err != nil {
		t.Fatalf("RegisterSchema() = %v", err)
	}
	if op.Status != store.StatusInProgress || op.ID == "" {
		t.Errorf("RegisterSchema() = %+v, want an operation in progress", op)
	}
	_, err = s.RegisterSchema(ctx, tenant, "contosohr", validSchema(), nil, due)
	wantKind(t, "RegisterSchema(while one is in progress)", err, store.Conflict)
	if n, err := s.PendingOperations(ctx); n != 1 || err != nil {
		t.Errorf("PendingOperations() = %d, %v; want 1", n, err)
	}
	_, err = s.RegisterSchema(ctx, tenant, "nope", validSchema(), nil, due)
	wantKind(t, "RegisterSchema(missing connection)", err, store.NotFound)

	next, ok, err := s.NextDue(ctx)
	if err != nil || !ok || next.Sub(due).Abs() > time.Microsecond {
		t.Errorf("NextDue() = %v, %v, %v; want %v", next, ok, err, due)
	}
	if got, err := s.FinishDue(ctx, time.Now()); err != nil || got != nil {
		t.Errorf("FinishDue(before due) = %+v, %v; want nothing", got, err)
	}
	done, err := s.FinishDue(ctx, due)
	if err != nil || done == nil || done.ID != op.ID || done.Status != store.StatusCompleted || done.Error != nil {
		t.Fatalf("FinishDue(at due) = %+v, %v; want operation %s completed", done, err, op.ID)
	}
	if got, err := s.Operation(ctx, tenant, "contosohr", op.ID); err != nil || got.Status != store.StatusCompleted {
		t.Errorf("Operation() after FinishDue = %+v, %v; want completed", got, err)
	}
	got, err := s.Schema(ctx, tenant, "contosohr")
	if err != nil || !cmp.Equal(got, validSchema(), sameSchema) {
		t.Errorf("Schema() = %+v, %v; want the registered schema", got, err)
	}
	if err == nil && (got.Registered.Before(op.Created) || got.Registered.After(time.Now())) {
		t.Errorf("Schema().Registered = %v, want a time between the registration's start, %v, and now", got.Registered, op.Created)
	}
	if got, err := s.Connection(ctx, tenant, "contosohr"); err != nil || got.State != store.ConnectionReady || got.Version <= c.Version {
		t.Errorf("Connection() after registration = %+v, %v; want ready with a new version", got, err)
	}
	if _, ok, err := s.NextDue(ctx); ok || err != nil {
		t.Errorf("NextDue() after the last registration = %v, %v; want none", ok, err)
	}
	if n, err := s.PendingOperations(ctx); n != 0 || err != nil {
		t.Errorf("PendingOperations() after the last registration = %d, %v; want 0", n, err)
	}
	// A second registration is allowed once the first is done; its schema
	// has a time of its own.
	if _, err := s.RegisterSchema(ctx, tenant, "contosohr", validSchema(), nil, due); err != nil {
		t.Fatalf("RegisterSchema(after the first finished) = %v", err)
	}
	if _, err := s.FinishDue(ctx, due); err != nil {
		t.Fatalf("FinishDue(the second registration) = %v", err)
	}
	if again, err := s.Schema(ctx, tenant, "contosohr"); err != nil || !again.Registered.After(got.Registered) {
		t.Errorf("Schema() after a second registration = %+v, %v; want one registered after %v", again, err, got.Registered)
	}
}

func testFailedRegistration(t *testing.T, s store.Store) {
	mustCreateConnection(t, s, "contosohr")
	failure := &store.ErrorDetail{Code: "InvalidSchema", Message: "bad", Details: []store.InnerErrorDetail{{Source: "properties/0"}}}
	op, err := s.RegisterSchema(ctx, tenant, "contosohr", validSchema(), failure, time.Now())
	if err != nil {
		t.Fatalf("RegisterSchema() = %v", err)
	}
	done, err := s.FinishDue(ctx, time.Now().Add(time.Second))
	if err != nil || done == nil || done.ID != op.ID || done.Status != store.StatusFailed || !cmp.Equal(done.Error, failure) {
		t.Fatalf("FinishDue() = %+v, %v; want operation %s failed with %+v", done, err, op.ID, failure)
	}
	_, err = s.Schema(ctx, tenant, "contosohr")
	wantKind(t, "Schema(after a failed registration)", err, store.NotFound)
	if c, _ := s.Connection(ctx, tenant, "contosohr"); c == nil || c.State != store.ConnectionDraft {
		t.Errorf("Connection() after a failed registration = %+v, want draft", c)
	}
}

// A client's terminal write ends the registration before the worker's turn:
// the worker leaves the operation as the client set it, whatever the client
// writes after, and the schema is not applied.
func testClientFinishesFirst(t *testing.T, s store.Store) {
	clientErr := &store.ErrorDetail{Code: "Cancelled", Message: "cancelled by the client"}
	tests := []struct {
		name       string
		updates    []store.OperationUpdate // the client's, in order; the first is terminal
		wantStatus store.OperationStatus
		wantError  *store.ErrorDetail
	}{
		{"failed with an error", []store.OperationUpdate{
			{Status: ptr(store.StatusFailed), SetError: true, Error: clientErr},
		}, store.StatusFailed, clientErr},
		{"completed", []store.OperationUpdate{
			{Status: ptr(store.StatusCompleted)},
		}, store.StatusCompleted, nil},
		{"failed, then completed without the error", []store.OperationUpdate{
			{Status: ptr(store.StatusFailed), SetError: true, Error: clientErr},
			{Status: ptr(store.StatusCompleted), SetError: true},
		}, store.StatusCompleted, nil},
		{"completed, then inprogress again", []store.OperationUpdate{
			{Status: ptr(store.StatusCompleted)},
			{Status: ptr(store.StatusInProgress)},
		}, store.StatusInProgress, nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := fmt.Sprint("conn", i)
			mustCreateConnection(t, s, conn)
			op, err := s.RegisterSchema(ctx, tenant, conn, validSchema(), nil, time.Now())
			if err != nil {
				t.Fatalf("RegisterSchema() = %v", err)
			}
			for _, u := range tt.updates {
				if _, err := s.UpdateOperation(ctx, tenant, conn, op.ID, u); err != nil {
					t.Fatalf("UpdateOperation(%+v) = %v", u, err)
				}
			}
			if n, err := s.PendingOperations(ctx); err != nil || n != 0 {
				t.Errorf("PendingOperations() = %d, %v; want 0", n, err)
			}
			if done, err := s.FinishDue(ctx, time.Now().Add(time.Second)); err != nil || done != nil {
				t.Errorf("FinishDue() after the client's terminal write = %+v, %v; want nothing to finish", done, err)
			}
			got, err := s.Operation(ctx, tenant, conn, op.ID)
			if err != nil || got.Status != tt.wantStatus || !cmp.Equal(got.Error, tt.wantError) {
				t.Errorf("Operation() = %+v, %v; want the client's %q, %+v kept", got, err, tt.wantStatus, tt.wantError)
			}
			_, err = s.Schema(ctx, tenant, conn)
			wantKind(t, "Schema(after the client ended the registration)", err, store.NotFound)
			if c, err := s.Connection(ctx, tenant, conn); err != nil || c.State != store.ConnectionDraft {
				t.Errorf("Connection() = %+v, %v; want still draft", c, err)
			}
		})
	}
}

// A client's update that does not finish a registration (a status that is
// not terminal, or none) leaves it to the worker.
func testClientUpdatesWithoutFinishing(t *testing.T, s store.Store) {
	mustCreateConnection(t, s, "contosohr")
	op, err := s.RegisterSchema(ctx, tenant, "contosohr", validSchema(), nil, time.Now())
	if err != nil {
		t.Fatalf("RegisterSchema() = %v", err)
	}
	for _, u := range []store.OperationUpdate{
		{Status: ptr(store.StatusInProgress)},
		{Status: ptr(store.StatusUnspecified), SetError: true},
		{SetError: true, Error: &store.ErrorDetail{Message: "still working"}},
	} {
		if _, err := s.UpdateOperation(ctx, tenant, "contosohr", op.ID, u); err != nil {
			t.Fatalf("UpdateOperation(%+v) = %v", u, err)
		}
	}
	if n, err := s.PendingOperations(ctx); err != nil || n != 1 {
		t.Errorf("PendingOperations() = %d, %v; want 1", n, err)
	}
	done, err := s.FinishDue(ctx, time.Now().Add(time.Second))
	if err != nil || done == nil || done.ID != op.ID || done.Status != store.StatusCompleted {
		t.Fatalf("FinishDue() = %+v, %v; want operation %s completed", done, err, op.ID)
	}
	if c, _ := s.Connection(ctx, tenant, "contosohr"); c == nil || c.State != store.ConnectionReady {
		t.Errorf("Connection() = %+v, want ready", c)
	}
}

// A client's update of a registration that the worker has finished changes
// the operation only: the schema stays applied and the connection ready.
func testClientUpdatesAfterTheWorker(t *testing.T, s store.Store) {
	mustCreateConnection(t, s, "contosohr")
	op, err := s.RegisterSchema(ctx, tenant, "contosohr", validSchema(), nil, time.Now())
	if err != nil {
		t.Fatalf("RegisterSchema() = %v", err)
	}
	done, err := s.FinishDue(ctx, time.Now().Add(time.Second))
	if err != nil || done == nil || done.ID != op.ID || done.Status != store.StatusCompleted {
		t.Fatalf("FinishDue() = %+v, %v; want operation %s completed", done, err, op.ID)
	}
	clientErr := &store.ErrorDetail{Code: "Late", Message: "failed by the client after the fact"}
	got, err := s.UpdateOperation(ctx, tenant, "contosohr", op.ID, store.OperationUpdate{Status: ptr(store.StatusFailed), SetError: true, Error: clientErr})
	if err != nil || got.Status != store.StatusFailed || !cmp.Equal(got.Error, clientErr) || got.Version <= done.Version {
		t.Fatalf("UpdateOperation(failed) of the finished registration = %+v, %v; want it failed with %+v at a version above %d", got, err, clientErr, done.Version)
	}
	if again, err := s.FinishDue(ctx, time.Now().Add(time.Second)); err != nil || again != nil {
		t.Errorf("FinishDue() again = %+v, %v; want nothing to finish", again, err)
	}
	if sc, err := s.Schema(ctx, tenant, "contosohr"); err != nil || !cmp.Equal(sc, validSchema(), sameSchema) {
		t.Errorf("Schema() = %+v, %v; want the registered schema kept", sc, err)
	}
	if c, err := s.Connection(ctx, tenant, "contosohr"); err != nil || c.State != store.ConnectionReady {
		t.Errorf("Connection() = %+v, %v; want still ready", c, err)
	}
}

func testFinishDueExactlyOnce(t *testing.T, s store.Store) {
	const conns = 8
	for i := range conns {
		id := fmt.Sprintf("conn%d", i)
		mustCreateConnection(t, s, id)
		if _, err := s.RegisterSchema(ctx, tenant, id, validSchema(), nil, time.Now()); err != nil {
			t.Fatalf("RegisterSchema(%s) = %v", id, err)
		}
	}
	var mu sync.Mutex
	finished := map[string]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				op, err := s.FinishDue(ctx, time.Now().Add(time.Second))
				if err != nil {
					t.Errorf("FinishDue() = %v", err)
					return
				}
				if op == nil {
					return
				}
				mu.Lock()
				finished[op.ConnectionID+"/"+op.ID]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(finished) != conns {
		t.Errorf("%d registrations finished, want %d", len(finished), conns)
	}
	for k, n := range finished {
		if n != 1 {
			t.Errorf("registration %s finished %d times, want once", k, n)
		}
	}
}
