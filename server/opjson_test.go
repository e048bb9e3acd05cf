package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/graphconn/graphconn/gen"
	"github.com/graphconn/graphconn/store"
)

// appendOperationJSON writes what Echo's c.JSON writes for operationToAPI.
func TestAppendOperationJSON(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		ctx  string
		op   store.Operation
	}{
		{"no error", "http://localhost:8080/$metadata#external/connections('c')/operations/$entity",
			store.Operation{ConnectionID: "c", ID: "2d1f1f4e-6f7c-4b8e-9d7a-0c6b7f0e1a2b", Status: store.StatusInProgress, Version: 1796049077131265484, Created: now, Modified: now}},
		{"error without details", "http://h/$metadata#connections('c')/operations/$entity",
			store.Operation{ID: "o", Status: store.StatusFailed, Version: 2, Error: &store.ErrorDetail{Code: "InvalidSchema", Message: "The schema is invalid."}}},
		{"error with empty details", "x", store.Operation{ID: "o", Status: store.StatusFailed, Version: 3,
			Error: &store.ErrorDetail{Code: "", Message: "", Details: []store.InnerErrorDetail{}}}},
		{"error with details", "x", store.Operation{ID: "o", Status: store.StatusFailed, Version: 4,
			Error: &store.ErrorDetail{Code: "E", Message: "m", Details: []store.InnerErrorDetail{{Source: "a"}, {Source: ""}, {Source: "properties[0].name"}}}}},
		{"strings that encoding/json escapes", `http://h/$metadata#external/connections('<a&b>')/operations/$entity`,
			store.Operation{ID: "o\"\\/\t\n\r\b\f\x00\x1f", Status: "inprogress", Version: -1,
				Error: &store.ErrorDetail{Code: "é€😀\u2028\u2029", Message: "bad \xff\xfe utf-8", Details: []store.InnerErrorDetail{{Source: "<script>&amp;"}}}}},
		{"zero values", "", store.Operation{}},
	}
	for _, tt := range tests {
		for _, graph := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, today's shape %v", tt.name, graph), func(t *testing.T) {
				var out any
				if graph {
					o := graphOperationToAPI(&tt.op)
					o.OdataContext = &tt.ctx
					out = o
				} else {
					o := operationToAPI(&tt.op)
					o.OdataContext = &tt.ctx
					out = o
				}
				var want bytes.Buffer
				if err := json.NewEncoder(&want).Encode(out); err != nil {
					t.Fatal(err)
				}
				if got := appendOperationJSON(nil, graph, tt.ctx, etag(tt.op.Version), &tt.op); string(got) != want.String() {
					t.Errorf("appendOperationJSON() =\n%s\nwant (encoding/json)\n%s", got, want.String())
				}
			})
		}
	}
}

// The encoder names every field of the generated types: a property added
// to openapi.yaml must be added to it too.
func TestAppendOperationJSONKnowsEveryField(t *testing.T) {
	for typ, want := range map[reflect.Type][]string{
		reflect.TypeFor[gen.MicrosoftGraphConnectionOperation]():                   {"@odata.context", "@odata.etag", "@odata.type", "error", "id", "status"},
		reflect.TypeFor[gen.MicrosoftGraphExternalConnectorsConnectionOperation](): {"@odata.context", "@odata.etag", "@odata.type", "error", "id", "status"},
		reflect.TypeFor[gen.MicrosoftGraphErrorDetail]():                           {"@odata.type", "details", "errorCode", "message"},
		reflect.TypeFor[gen.MicrosoftGraphInnerErrorDetail]():                      {"@odata.type", "source"},
	} {
		var got []string
		for f := range typ.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			got = append(got, name)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("JSON fields of %s = %v, want %v (update appendOperationJSON)", typ, got, want)
		}
	}
}
