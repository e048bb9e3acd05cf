package contract

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/graphconn/graphconn/store"
)

// ticketSchema has a property of every type.
var ticketSchema = &store.Schema{BaseType: "microsoft.graph.externalItem", Properties: []store.Property{
	{Name: "title", Type: store.TypeString, IsSearchable: true, IsRetrievable: true},
	{Name: "priority", Type: store.TypeInt64, IsQueryable: true},
	{Name: "score", Type: store.TypeDouble},
	{Name: "created", Type: store.TypeDateTime},
	{Name: "closed", Type: store.TypeBoolean},
	{Name: "tags", Type: store.TypeStringCollection},
	{Name: "counts", Type: store.TypeInt64Collection},
	{Name: "weights", Type: store.TypeDoubleCollection},
	{Name: "dates", Type: store.TypeDateTimeCollection},
	{Name: "owner", Type: store.TypePrincipal},
	{Name: "reviewers", Type: store.TypePrincipalCollection},
}}

// decodeProps decodes properties as CheckRequest does: json.Number numbers.
func decodeProps(t *testing.T, s string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return m
}

func TestItemSchemaCheck(t *testing.T) {
	is := CompileItemSchema(ticketSchema)
	tests := []struct {
		name  string
		props string
		want  string // a part of the message; "" for valid
	}{
		{"every type", `{"title":"Error","priority":3,"score":1.5,"created":"2026-11-30T12:00:00Z","closed":false,
			"tags@odata.type":"Collection(String)","tags":["a","b"],"counts@odata.type":"Collection(Int64)","counts":[1,2],
			"weights@odata.type":"#Collection(Double)","weights":[0.5],"dates@odata.type":"Collection(DateTimeOffset)","dates":["2026-01-01T00:00:00Z"],
			"owner":{"upn":"jane@contoso.com"},"reviewers":[{"entraId":"e811976d-83df-4cbd-8b9b-5215b18aa874"}]}`, ""},
		{"name in another case", `{"Title":"Error"}`, ""},
		{"null is no value", `{"title":null}`, ""},
		{"int64 as 1.0", `{"priority":1.0}`, ""},
		{"int64 at its maximum", `{"priority":9223372036854775807}`, ""},
		{"int64 past its maximum", `{"priority":9223372036854775808}`, "registered as int64, but the item sends the number 9223372036854775808, outside the 64-bit range"},
		{"int64 below its minimum", `{"priority":-9223372036854775809}`, "outside the 64-bit range"},
		{"int64 with a fraction", `{"priority":1.5}`, "registered as int64, but the item sends the number 1.5"},
		{"int64 as a string", `{"priority":"3"}`, `registered as int64, but the item sends the string "3"`},
		{"string as a number", `{"title":3}`, "'title' is registered as string, but the item sends the number 3"},
		{"dateTime not ISO 8601", `{"created":"30/11/2026"}`, `registered as dateTime, but the item sends the string "30/11/2026"`},
		{"boolean as a string", `{"closed":"false"}`, "registered as boolean"},
		{"collection as a scalar", `{"tags":"a"}`, "registered as stringCollection"},
		{"collection of the wrong kind", `{"counts":[1,"2"]}`, "an array of 2 (integer, string)"},
		{"collection of int64 past the range", `{"counts":[1,9223372036854775808]}`, "registered as int64Collection"},
		{"collection holding null", `{"tags":["a",null]}`, "registered as stringCollection"},
		{"nested collection", `{"tags":[["a"]]}`, "registered as stringCollection"},
		{"unknown property", `{"nope":1}`, "The property 'nope' is not in the connection's schema."},
		{"annotation of another type", `{"tags@odata.type":"Collection(Int64)","tags":["a"]}`, "annotate it 'Collection(String)'"},
		{"annotation not a string", `{"tags@odata.type":3,"tags":["a"]}`, "is the number 3"},
		{"annotation of an unknown property", `{"nope@odata.type":"String"}`, "names the property 'nope', which is not in the connection's schema"},
		{"another annotation", `{"title@odata.etag":"x"}`, "only '@odata.type' is"},
		{"principal with an unknown member", `{"owner":{"name":"Jane"}}`, "registered as principal"},
		{"principal as a string", `{"owner":"jane"}`, "registered as principal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := is.Check(decodeProps(t, tt.props))
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Check() = %v, want nil", err)
			case tt.want != "" && err == nil:
				t.Errorf("Check() = nil, want an error with %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Errorf("Check() = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

// Check gives kin-openapi's verdict on the schema as one object (Object),
// but where it is stricter on purpose: int64 values past 2^53, which
// kin-openapi compares as float64, and annotations naming another type.
func TestItemSchemaAgreesWithKinOpenAPI(t *testing.T) {
	is := CompileItemSchema(ticketSchema)
	values := []string{`"x"`, `""`, `3`, `-1`, `1.5`, `1e3`, `true`, `null`, `{}`, `[]`, `["a"]`, `[1,2]`, `[1.5]`, `[true]`,
		`["2026-11-30T12:00:00Z"]`, `"2026-11-30T12:00:00Z"`, `"2026-11-30"`, `{"upn":"a"}`, `[{"upn":"a"}]`, `{"x":1}`}
	for _, p := range ticketSchema.Properties {
		for _, v := range values {
			props := decodeProps(t, `{"`+p.Name+`":`+v+`}`)
			ours := is.Check(props)
			theirs := is.Object.VisitJSON(props, openapi3.VisitAsRequest(), openapi3.MultiErrors())
			if (ours == nil) != (theirs == nil) {
				t.Errorf("%s = %s: Check() = %v, kin-openapi = %v", p.Name, v, ours, theirs)
			}
		}
	}
	props := decodeProps(t, `{"unknown":1}`)
	if ours, theirs := is.Check(props), is.Object.VisitJSON(props); ours == nil || theirs == nil {
		t.Errorf("an unknown property: Check() = %v, kin-openapi = %v; want both to refuse it", ours, theirs)
	}
}

func TestItemSchemaMessageQuotesShortly(t *testing.T) {
	is := CompileItemSchema(ticketSchema)
	long := bytes.Repeat([]byte("x"), 10000)
	err := is.Check(map[string]any{"priority": string(long)})
	if err == nil || len(err.Error()) > 300 {
		t.Errorf("Check() = %d bytes of message, want an error of at most 300", len(err.Error()))
	}
}
