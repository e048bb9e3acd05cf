package contract

import (
	"encoding/json"
	"math"

	"github.com/getkin/kin-openapi/openapi3"
)

// MaxBytesExtension bounds a schema that JSON Schema cannot (a free-form
// object): its value, written as encoding/json writes it, is at most that
// many bytes. The server that takes such a value checks it.
const MaxBytesExtension = "x-graphconn-maxBytes"

// MaxJSONBytes returns the most bytes that a JSON value of schema s can
// take, as encoding/json writes it (a UTF-16 code unit of a string escaped
// as \uXXXX at worst), and false when s does not bound it: a string
// without maxLength or enum, an array without maxItems, an object open to
// other properties.
func MaxJSONBytes(s *openapi3.Schema) (int64, bool) {
	return maxJSONBytes(s, map[*openapi3.Schema]bool{})
}

func maxJSONBytes(s *openapi3.Schema, visiting map[*openapi3.Schema]bool) (int64, bool) {
	if s == nil || visiting[s] {
		return 0, false // no schema, or a recursive one
	}
	if v, ok := s.Extensions[MaxBytesExtension]; ok {
		// A free-form value bounded by the server (see MaxBytesExtension).
		n, ok := v.(float64)
		return int64(n), ok
	}
	visiting[s] = true
	defer delete(visiting, s)
	var n int64
	if s.Nullable {
		n = int64(len("null"))
	}
	if len(s.Enum) > 0 {
		for _, e := range s.Enum {
			b, err := json.Marshal(e)
			if err != nil {
				return 0, false
			}
			n = max(n, int64(len(b))*6) // escaped at worst
		}
		return n, true
	}
	if len(s.OneOf)+len(s.AnyOf) > 0 {
		for _, ref := range append(s.OneOf, s.AnyOf...) {
			m, ok := maxJSONBytes(ref.Value, visiting)
			if !ok {
				return 0, false
			}
			n = max(n, m)
		}
		return n, true
	}
	if len(s.AllOf) > 0 {
		// Each part describes the same value: the tightest bound holds.
		best, found := int64(math.MaxInt64), false
		for _, ref := range s.AllOf {
			if m, ok := maxJSONBytes(ref.Value, visiting); ok {
				best, found = min(best, m), true
			}
		}
		return max(n, best), found
	}
	switch {
	case s.Type.Is(openapi3.TypeString):
		if s.MaxLength == nil {
			return 0, false
		}
		return max(n, 2+6*int64(*s.MaxLength)), true
	case s.Type.Is(openapi3.TypeInteger):
		return max(n, 20), true
	case s.Type.Is(openapi3.TypeNumber):
		return max(n, 32), true
	case s.Type.Is(openapi3.TypeBoolean):
		return max(n, 5), true
	case s.Type.Is(openapi3.TypeArray):
		if s.MaxItems == nil || s.Items == nil {
			return 0, false
		}
		item, ok := maxJSONBytes(s.Items.Value, visiting)
		if !ok {
			return 0, false
		}
		return max(n, 2+int64(*s.MaxItems)*(item+1)), true
	case s.Type.Is(openapi3.TypeObject) || len(s.Properties) > 0:
		if s.AdditionalProperties.Has == nil || *s.AdditionalProperties.Has || s.AdditionalProperties.Schema != nil {
			return 0, false
		}
		total := int64(2)
		for name, ref := range s.Properties {
			v, ok := maxJSONBytes(ref.Value, visiting)
			if !ok {
				return 0, false
			}
			key, _ := json.Marshal(name)
			total += int64(len(key))*6 + 1 + v + 1 // "name":value,
		}
		return max(n, total), true
	}
	return 0, false
}
