package sqlite_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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

// PutItem, the connectors' write, from many callers at once as in
// BenchmarkUpdateOperationParallel, each putting items of about 1 KB: new
// items, or replaces of one item of its own (the same item again, as a
// connector's crawl pushes it). With schema=indexed, the connection's
// schema makes the search index hold most of the item (benchSchema), with
// schema=none only its content and ACL. It reports the puts that shared a
// commit.
func BenchmarkPutItem(b *testing.B) {
	const perCPU = 32
	for _, sync := range []string{"FULL", "NORMAL"} {
		for _, schema := range []string{"none", "indexed"} {
			for _, kind := range []string{"new", "replace"} {
				b.Run("sync="+sync+"/schema="+schema+"/"+kind, func(b *testing.B) {
					db, _ := openBench(b, sync, 0)
					ctx := context.Background()
					if schema == "indexed" {
						registerBenchSchema(b, db)
					}
					var callers atomic.Int64
					before := db.ItemWriterStats()
					b.SetParallelism(perCPU)
					b.ReportAllocs()
					b.ResetTimer()
					b.RunParallel(func(pb *testing.PB) {
						c := callers.Add(1)
						for i := 0; pb.Next(); i++ {
							id := fmt.Sprintf("c%dn%d", c, i)
							if kind == "replace" {
								id = fmt.Sprint("c", c)
							}
							if _, err := db.PutItem(ctx, storetest.Tenant, benchItem(id), 0); err != nil {
								b.Errorf("PutItem() = %v", err)
								return
							}
						}
					})
					b.StopTimer()
					after := db.ItemWriterStats()
					if batches := after.Batches - before.Batches; batches > 0 {
						b.ReportMetric(float64(after.Values-before.Values)/float64(batches), "puts/commit")
					}
				})
			}
		}
	}
}

// registerBenchSchema registers the schema of benchItem's properties on
// connection "bench": the text ones searchable, the others queryable.
func registerBenchSchema(b *testing.B, db *sqlite.DB) {
	b.Helper()
	ctx := context.Background()
	schema := &store.Schema{BaseType: "microsoft.graph.externalItem", Properties: []store.Property{
		{Name: "title", Type: store.TypeString, IsSearchable: true, IsRetrievable: true, Labels: []string{"title"}},
		{Name: "description", Type: store.TypeString, IsSearchable: true, IsRetrievable: true},
		{Name: "authors", Type: store.TypeStringCollection, IsSearchable: true, IsRetrievable: true, Labels: []string{"authors"}},
		{Name: "tags", Type: store.TypeStringCollection, IsSearchable: true},
		{Name: "url", Type: store.TypeString, IsRetrievable: true, Labels: []string{"url"}},
		{Name: "createdBy", Type: store.TypeString, IsQueryable: true, IsRefinable: true},
		{Name: "fileExtension", Type: store.TypeString, IsQueryable: true, IsRefinable: true},
		{Name: "revision", Type: store.TypeInt64, IsQueryable: true},
		{Name: "lastModifiedDateTime", Type: store.TypeDateTime, IsQueryable: true},
	}}
	if _, err := db.RegisterSchema(ctx, storetest.Tenant, "bench", schema, nil, time.Now()); err != nil {
		b.Fatalf("RegisterSchema() = %v", err)
	}
	if _, err := db.FinishDue(ctx, time.Now().Add(time.Second)); err != nil {
		b.Fatalf("FinishDue() = %v", err)
	}
}

// benchItem is an item of connection "bench" of about 1 KB: three ACEs,
// a dozen properties and a short text.
func benchItem(id string) *store.Item {
	return &store.Item{
		ConnectionID: "bench",
		ID:           id,
		ACL: []store.ACE{
			{Type: "user", Value: "e811976d-83df-4cbd-8b9b-5215b18aa874", AccessType: "grant"},
			{Type: "group", Value: "1e2f3a4b-0000-4000-8000-000000000001", AccessType: "grant"},
			{Type: "externalGroup", Value: "finance", AccessType: "deny"},
		},
		Properties: benchProperties,
		Content:    &store.Content{Type: "text", Value: "The quarter's figures, in brief."},
	}
}

// benchProperties are the properties of benchItem, made once: the
// benchmark measures the store, not encoding/json.
var benchProperties = func() json.RawMessage {
	props, err := json.Marshal(map[string]any{
		"title":                "Quarterly report",
		"description":          strings.Repeat("A paragraph of the document's summary. ", 12),
		"url":                  "https://contoso.example/documents/q3",
		"createdBy":            "Adele Vance",
		"lastModifiedBy":       "Alex Wilber",
		"createdDateTime":      "2026-01-02T03:04:05Z",
		"lastModifiedDateTime": "2026-02-03T04:05:06Z",
		"fileName":             "q3.docx",
		"fileExtension":        "docx",
		"authors":              []string{"Adele Vance", "Alex Wilber", "Megan Bowen"},
		"tags":                 []string{"finance", "quarterly", "report"},
		"revision":             7,
	})
	if err != nil {
		panic(err)
	}
	return props
}()

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
