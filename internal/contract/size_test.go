package contract

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

func TestMaxJSONBytes(t *testing.T) {
	c := testContract(t)
	for _, name := range []string{"microsoft.graph.externalConnection", "microsoft.graph.connectionOperation", "odata.error"} {
		t.Run(name, func(t *testing.T) {
			s := c.Spec().Components.Schemas[name].Value
			n, ok := MaxJSONBytes(s)
			if !ok {
				t.Fatalf("MaxJSONBytes(%s) = unbounded, want a bound", name)
			}
			// The largest value the sample maker makes, every string at
			// its maxLength of characters that encoding/json escapes,
			// fits.
			v := largest(s)
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(b)) > n {
				t.Errorf("MaxJSONBytes(%s) = %d, but a value takes %d", name, n, len(b))
			}
		})
	}
	if _, ok := MaxJSONBytes(openapi3.NewStringSchema()); ok {
		t.Error("MaxJSONBytes(a string without maxLength) is bounded, want unbounded")
	}
	if _, ok := MaxJSONBytes(openapi3.NewArraySchema().WithItems(openapi3.NewBoolSchema())); ok {
		t.Error("MaxJSONBytes(an array without maxItems) is bounded, want unbounded")
	}
}

// largest makes a value of s with every string at its maxLength of '<'
// (which encoding/json writes as \u003c) and every array at its maxItems.
func largest(s *openapi3.Schema) any {
	switch {
	case len(s.Enum) > 0:
		return s.Enum[0]
	case len(s.AllOf) > 0:
		return largest(s.AllOf[0].Value)
	case s.Type.Is(openapi3.TypeString):
		return strings.Repeat("<", int(*s.MaxLength))
	case s.Type.Is(openapi3.TypeArray):
		items := make([]any, *s.MaxItems)
		for i := range items {
			items[i] = largest(s.Items.Value)
		}
		return items
	case s.Type.Is(openapi3.TypeObject):
		out := map[string]any{}
		for name, p := range s.Properties {
			out[name] = largest(p.Value)
		}
		return out
	}
	return 1
}
