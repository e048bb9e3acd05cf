package storetest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/graphconn/graphconn/store"
)

// The tenants of the tests of tenants: GUIDs in the canonical form that the
// server gives the store.
const (
	tenantA = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	tenantB = "0b5d2c1e-3f4a-4b6c-8d7e-9f0a1b2c3d4e"
	tenantC = "e3c4b5a6-9788-4f01-a2b3-c4d5e6f70819" // has no connection
)

// tenantTests are the cases of the conformance suite about tenants.
var tenantTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"TenantsShareIDs", testTenantsShareIDs},
	{"TenantsCannotReachEachOther", testTenantsCannotReachEachOther},
	{"TenantsConcurrentUpdates", testTenantsConcurrentUpdates},
}

// Two tenants each have a connection "contosohr", with an operation "op1"
// and a schema, and each sees, changes, finishes and deletes its own only.
func testTenantsShareIDs(t *testing.T, s store.Store) {
	schemaOf := map[string]*store.Schema{tenantA: validSchema(), tenantB: {BaseType: "microsoft.graph.externalItem",
		Properties: []store.Property{{Name: "onlyInB", Type: store.TypeString, IsRetrievable: true}}}}
	created := map[string]*store.Connection{}
	for _, tn := range []string{tenantA, tenantB} {
		c := &store.Connection{ID: "contosohr", Name: "HR of " + tn, Owner: "app1"}
		if err := s.CreateConnection(ctx, tn, c); err != nil {
			t.Fatalf("CreateConnection(%s, contosohr) = %v", tn, err)
		}
		if c.Tenant != tn {
			t.Errorf("CreateConnection(%s) set Tenant %q", tn, c.Tenant)
		}
		created[tn] = c
		if err := s.CreateOperation(ctx, tn, &store.Operation{ConnectionID: "contosohr", ID: "op1", Status: store.StatusInProgress}); err != nil {
			t.Fatalf("CreateOperation(%s, contosohr, op1) = %v", tn, err)
		}
		if _, err := s.RegisterSchema(ctx, tn, "contosohr", schemaOf[tn], nil, time.Now()); err != nil {
			t.Fatalf("RegisterSchema(%s) = %v", tn, err)
		}
	}
	wantKind(t, "CreateConnection(tenant A, contosohr again)", s.CreateConnection(ctx, tenantA, &store.Connection{ID: "contosohr", Name: "x"}), store.Exist)

	// The worker finishes both registrations, each in its own tenant.
	finished := map[string]bool{}
	for range 2 {
		op, err := s.FinishDue(ctx, time.Now().Add(time.Second))
		if err != nil || op == nil || op.ConnectionID != "contosohr" || op.Status != store.StatusCompleted {
			t.Fatalf("FinishDue() = %+v, %v; want a registration of contosohr completed", op, err)
		}
		finished[op.Tenant] = true
	}
	if !finished[tenantA] || !finished[tenantB] {
		t.Errorf("FinishDue() finished the registrations of %v, want tenants A and B", finished)
	}

	for _, tn := range []string{tenantA, tenantB} {
		got, err := s.Connection(ctx, tn, "contosohr")
		if err != nil || got.Tenant != tn || got.Name != "HR of "+tn || got.State != store.ConnectionReady {
			t.Errorf("Connection(%s, contosohr) = %+v, %v; want the tenant's own, ready", tn, got, err)
		}
		list, _, err := s.Connections(ctx, tn, "", store.Page{Limit: 10})
		if err != nil || len(list) != 1 || list[0].Name != "HR of "+tn || list[0].Tenant != tn {
			t.Errorf("Connections(%s) = %v, %v; want the tenant's one connection", tn, list, err)
		}
		if sch, err := s.Schema(ctx, tn, "contosohr"); err != nil || !cmp.Equal(sch, schemaOf[tn], sameSchema) {
			t.Errorf("Schema(%s) = %+v, %v; want the tenant's own %+v", tn, sch, err, schemaOf[tn])
		}
		ops, _, err := s.Operations(ctx, tn, "contosohr", nil, store.Page{Limit: 10})
		if err != nil || len(ops) != 2 {
			t.Errorf("Operations(%s) = %d operations, %v; want op1 and the registration", tn, len(ops), err)
		}
		for _, op := range ops {
			if op.Tenant != tn {
				t.Errorf("Operations(%s) returned %s of tenant %q", tn, op.ID, op.Tenant)
			}
		}
	}

	// Changing A's leaves B's as they were.
	beforeB, err := s.Operation(ctx, tenantB, "contosohr", "op1")
	if err != nil {
		t.Fatalf("Operation(B) = %v", err)
	}
	if _, err := s.UpdateOperation(ctx, tenantA, "contosohr", "op1", store.OperationUpdate{Status: ptr(store.StatusFailed)}); err != nil {
		t.Fatalf("UpdateOperation(A) = %v", err)
	}
	if _, err := s.UpdateConnection(ctx, tenantA, "contosohr", store.ConnectionUpdate{Name: ptr("renamed in A")}); err != nil {
		t.Fatalf("UpdateConnection(A) = %v", err)
	}
	if got, err := s.Operation(ctx, tenantB, "contosohr", "op1"); err != nil || !cmp.Equal(got, beforeB) {
		t.Errorf("Operation(B) after A's update = %+v, %v; want %+v", got, err, beforeB)
	}
	if got, err := s.Connection(ctx, tenantB, "contosohr"); err != nil || got.Name != "HR of "+tenantB {
		t.Errorf("Connection(B) after A's update = %+v, %v; want its own name", got, err)
	}

	// Deleting B's leaves A's whole.
	if err := s.DeleteConnection(ctx, tenantB, "contosohr", nil); err != nil {
		t.Fatalf("DeleteConnection(B) = %v", err)
	}
	if _, err := s.Connection(ctx, tenantB, "contosohr"); store.KindOf(err) != store.NotFound {
		t.Errorf("Connection(B) after its deletion = %v, want NotFound", err)
	}
	if got, err := s.Operation(ctx, tenantA, "contosohr", "op1"); err != nil || got.Status != store.StatusFailed {
		t.Errorf("Operation(A) after B's deletion = %+v, %v; want it kept", got, err)
	}
	if sch, err := s.Schema(ctx, tenantA, "contosohr"); err != nil || !cmp.Equal(sch, schemaOf[tenantA], sameSchema) {
		t.Errorf("Schema(A) after B's deletion = %+v, %v; want it kept", sch, err)
	}
}

// Whatever a tenant calls on another tenant's connection answers NotFound,
// in the words of a connection that does not exist, and changes nothing.
func testTenantsCannotReachEachOther(t *testing.T, s store.Store) {
	const id = "onlyina"
	c := &store.Connection{ID: id, Name: "A's", Owner: "app1"}
	if err := s.CreateConnection(ctx, tenantA, c); err != nil {
		t.Fatalf("CreateConnection(A) = %v", err)
	}
	op := &store.Operation{ConnectionID: id, ID: "op1", Status: store.StatusInProgress}
	if err := s.CreateOperation(ctx, tenantA, op); err != nil {
		t.Fatalf("CreateOperation(A) = %v", err)
	}
	if _, err := s.RegisterSchema(ctx, tenantA, id, validSchema(), nil, time.Now()); err != nil {
		t.Fatalf("RegisterSchema(A) = %v", err)
	}
	if _, err := s.FinishDue(ctx, time.Now().Add(time.Second)); err != nil {
		t.Fatalf("FinishDue() = %v", err)
	}
	// B has a connection of its own, so that its empty answers are not
	// those of an empty store.
	if err := s.CreateConnection(ctx, tenantB, &store.Connection{ID: "onlyinb", Name: "B's", Owner: "app1"}); err != nil {
		t.Fatalf("CreateConnection(B) = %v", err)
	}
	before := snapshot(t, s, tenantA, id)
	want := store.ConnectionNotFound(id).Error()

	for _, tn := range []string{tenantB, tenantC} {
		for _, tt := range []struct {
			name string
			call func() error
		}{
			{"Connection", func() error { _, err := s.Connection(ctx, tn, id); return err }},
			{"UpdateConnection", func() error {
				_, err := s.UpdateConnection(ctx, tn, id, store.ConnectionUpdate{Name: ptr("mine now")})
				return err
			}},
			{"UpdateConnection(If-Match)", func() error {
				_, err := s.UpdateConnection(ctx, tn, id, store.ConnectionUpdate{Name: ptr("mine now"), IfMatch: []int64{before.conn.Version}})
				return err
			}},
			{"DeleteConnection", func() error { return s.DeleteConnection(ctx, tn, id, nil) }},
			{"CreateOperation", func() error {
				return s.CreateOperation(ctx, tn, &store.Operation{ConnectionID: id, ID: "op2", Status: store.StatusUnspecified})
			}},
			{"CreateOperation(same id)", func() error {
				return s.CreateOperation(ctx, tn, &store.Operation{ConnectionID: id, ID: "op1", Status: store.StatusUnspecified})
			}},
			{"Operation", func() error { _, err := s.Operation(ctx, tn, id, "op1"); return err }},
			{"Operations", func() error { _, _, err := s.Operations(ctx, tn, id, nil, store.Page{Limit: 10}); return err }},
			{"UpdateOperation", func() error {
				_, err := s.UpdateOperation(ctx, tn, id, "op1", store.OperationUpdate{Status: ptr(store.StatusFailed)})
				return err
			}},
			{"UpdateOperation(If-Match)", func() error {
				_, err := s.UpdateOperation(ctx, tn, id, "op1", store.OperationUpdate{Status: ptr(store.StatusFailed), IfMatch: []int64{before.op.Version}})
				return err
			}},
			{"DeleteOperation", func() error { return s.DeleteOperation(ctx, tn, id, "op1", nil) }},
			{"Schema", func() error { _, err := s.Schema(ctx, tn, id); return err }},
			{"RegisterSchema", func() error {
				_, err := s.RegisterSchema(ctx, tn, id, validSchema(), nil, time.Now().Add(time.Hour))
				return err
			}},
		} {
			err := tt.call()
			if store.KindOf(err) != store.NotFound || err.Error() != want {
				t.Errorf("%s(tenant %s, %s) = %v (kind %v), want NotFound %q", tt.name, tn, id, err, store.KindOf(err), want)
			}
		}
		for _, owner := range []string{"", "app1"} {
			list, _, err := s.Connections(ctx, tn, owner, store.Page{Limit: 10})
			if err != nil {
				t.Fatalf("Connections(%s, %q) = %v", tn, owner, err)
			}
			for _, c := range list {
				if c.ID == id || c.Tenant != tn {
					t.Errorf("Connections(%s, %q) lists %s of tenant %q", tn, owner, c.ID, c.Tenant)
				}
			}
		}
	}
	if after := snapshot(t, s, tenantA, id); !cmp.Equal(before, after, cmp.AllowUnexported(state{})) {
		t.Errorf("another tenant's calls changed tenant A's connection:\nbefore %+v\nafter  %+v", before, after)
	}
	if n, err := s.PendingOperations(ctx); err != nil || n != 0 {
		t.Errorf("PendingOperations() = %d, %v; want 0: another tenant's RegisterSchema queued work", n, err)
	}
}

// state is what a tenant has stored of a connection.
type state struct {
	conn   store.Connection
	op     store.Operation
	ops    int
	schema *store.Schema
}

func snapshot(t *testing.T, s store.Store, tn, id string) state {
	t.Helper()
	c, err := s.Connection(ctx, tn, id)
	if err != nil {
		t.Fatalf("Connection(%s, %s) = %v", tn, id, err)
	}
	op, err := s.Operation(ctx, tn, id, "op1")
	if err != nil {
		t.Fatalf("Operation(%s, %s, op1) = %v", tn, id, err)
	}
	ops, _, err := s.Operations(ctx, tn, id, nil, store.Page{Limit: 100})
	if err != nil {
		t.Fatalf("Operations(%s, %s) = %v", tn, id, err)
	}
	sch, err := s.Schema(ctx, tn, id)
	if err != nil {
		t.Fatalf("Schema(%s, %s) = %v", tn, id, err)
	}
	return state{conn: *c, op: *op, ops: len(ops), schema: sch}
}

// Concurrent updates of the operations with the same connection and
// operation ids in two tenants, which the stores apply in shared batches,
// each land on their own tenant's row.
func testTenantsConcurrentUpdates(t *testing.T, s store.Store) {
	tenants := []string{tenantA, tenantB}
	for _, tn := range tenants {
		if err := s.CreateConnection(ctx, tn, &store.Connection{ID: "c", Name: "C"}); err != nil {
			t.Fatalf("CreateConnection(%s) = %v", tn, err)
		}
		if err := s.CreateOperation(ctx, tn, &store.Operation{ConnectionID: "c", ID: "op", Status: store.StatusInProgress}); err != nil {
			t.Fatalf("CreateOperation(%s) = %v", tn, err)
		}
	}
	const n = 32
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			tn := tenants[i%2]
			code := fmt.Sprintf("%s/%d", tn, i)
			op, err := s.UpdateOperation(ctx, tn, "c", "op", store.OperationUpdate{SetError: true, Error: &store.ErrorDetail{Code: code}})
			if err != nil {
				t.Errorf("UpdateOperation(%s) = %v", tn, err)
				return
			}
			if op.Tenant != tn || op.Error == nil || op.Error.Code != code {
				t.Errorf("UpdateOperation(%s, code %s) returned tenant %q, error %+v; want its own update", tn, code, op.Tenant, op.Error)
			}
		})
	}
	wg.Wait()
	for _, tn := range tenants {
		op, err := s.Operation(ctx, tn, "c", "op")
		if err != nil || op.Error == nil || !strings.HasPrefix(op.Error.Code, tn+"/") {
			t.Errorf("Operation(%s) after the updates = %+v, %v; want the error of one of its own updates", tn, op, err)
		}
	}
}
