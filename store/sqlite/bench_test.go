package sqlite_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/graphconn/graphconn/store"
	"github.com/graphconn/graphconn/store/sqlite"
	"github.com/graphconn/graphconn/store/storetest"
)

// The seed's write path: UpdateOperation, durable, on a real file. Every
// update changes the operation (its status goes between inprogress and
// unspecified), as the seed's PATCH does in bench/.
func BenchmarkUpdateOperation(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		b.Run("sync="+sync, func(b *testing.B) {
			db, ops := openBench(b, sync, 1)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				if _, err := db.UpdateOperation(ctx, storetest.Tenant, "bench", ops[0], update(i)); err != nil {
					b.Fatalf("UpdateOperation() = %v", err)
				}
				i++
			}
		})
	}
}

// Many requests at once, as a loaded server sees them: 32 goroutines per
// CPU, each updating an operation of its own.
func BenchmarkUpdateOperationParallel(b *testing.B) {
	const perCPU = 32
	for _, sync := range []string{"FULL", "NORMAL"} {
		b.Run("sync="+sync, func(b *testing.B) {
			n := perCPU * runtime.GOMAXPROCS(0)
			ops := make(chan string, n)
			db, ids := openBench(b, sync, n)
			for _, id := range ids {
				ops <- id
			}
			ctx := context.Background()
			b.SetParallelism(perCPU)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				id := <-ops
				for i := 0; pb.Next(); i++ {
					if _, err := db.UpdateOperation(ctx, storetest.Tenant, "bench", id, update(i)); err != nil {
						b.Errorf("UpdateOperation() = %v", err)
						return
					}
				}
			})
		})
	}
}

func update(i int) store.OperationUpdate {
	st := []store.OperationStatus{store.StatusInProgress, store.StatusUnspecified}[i%2]
	return store.OperationUpdate{Status: &st, SetError: i%2 == 1}
}

// openBench opens a store with the given synchronous setting, holding one
// connection and n operations on it.
func openBench(b *testing.B, sync string, n int) (*sqlite.DB, []string) {
	b.Helper()
	ctx := context.Background()
	db, err := sqlite.OpenWith(ctx, b.TempDir(), sqlite.Options{Synchronous: sync})
	if err != nil {
		b.Fatalf("OpenWith() = %v", err)
	}
	b.Cleanup(func() { db.Close() })
	if err := db.CreateConnection(ctx, storetest.Tenant, &store.Connection{ID: "bench", Name: "Bench"}); err != nil {
		b.Fatalf("CreateConnection() = %v", err)
	}
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("op%04d", i)
		if err := db.CreateOperation(ctx, storetest.Tenant, &store.Operation{ConnectionID: "bench", ID: ids[i], Status: store.StatusUnspecified}); err != nil {
			b.Fatalf("CreateOperation() = %v", err)
		}
	}
	return db, ids
}
