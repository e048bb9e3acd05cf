package contract

import (
	"fmt"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// Every string and every array of openapi.yaml is bounded (a string by
// maxLength or an enum, an array by maxItems), so that no request and no
// answer is larger than the contract says; and every request body is
// bounded before it is decoded (shapeOf).
func TestEveryStringAndArrayIsBounded(t *testing.T) {
	// Bounded otherwise, and never refused for its length.
	exempt := map[string]bool{
		"client-request-id": true, // replaced by the request-id past 128 characters (server/requestid.go)
	}
	c := testContract(t)
	seen := map[*openapi3.Schema]bool{}
	var check func(where string, ref *openapi3.SchemaRef)
	check = func(where string, ref *openapi3.SchemaRef) {
		if ref == nil || ref.Value == nil || seen[ref.Value] {
			return
		}
		s := ref.Value
		seen[s] = true
		if _, ok := s.Extensions[MaxBytesExtension]; ok {
			return // bounded by the server
		}
		switch {
		case s.Type.Is(openapi3.TypeString) && s.MaxLength == nil && len(s.Enum) == 0:
			t.Errorf("%s: a string without maxLength", where)
		case s.Type.Is(openapi3.TypeArray) && s.MaxItems == nil:
			t.Errorf("%s: an array without maxItems", where)
		}
		for name, p := range s.Properties {
			check(where+"."+name, p)
		}
		check(where+"[]", s.Items)
		for i, list := range [][]*openapi3.SchemaRef{s.AllOf, s.AnyOf, s.OneOf} {
			for j, x := range list {
				check(fmt.Sprintf("%s/%d/%d", where, i, j), x)
			}
		}
	}
	spec := c.Spec()
	for name, ref := range spec.Components.Schemas {
		check("schema "+name, ref)
	}
	for _, op := range c.Operations() {
		for _, p := range append(op.route.PathItem.Parameters, op.route.Operation.Parameters...) {
			if !exempt[p.Value.Name] {
				check(op.ID+" parameter "+p.Value.Name, p.Value.Schema)
			}
		}
		for status, resp := range op.route.Operation.Responses.Map() {
			for name, h := range resp.Value.Headers {
				check(op.ID+" "+status+" header "+name, h.Value.Schema)
			}
		}
		if op.body != nil && op.shape == nil {
			t.Errorf("%s: the request body has no shape", op.ID)
		}
	}
}
