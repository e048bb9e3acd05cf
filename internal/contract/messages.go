package contract

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/graphconn/graphconn/internal/jsonvalue"
)

// Error is a request that breaks the contract.
type Error struct {
	// Message says what was wrong, in words fit for the client.
	Message string
	// Err is kin-openapi's error (or jsonvalue's).
	Err error
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Err }

// Message is what a client is told of a request error of kin-openapi's:
// the property or the parameter, and what was wrong with it.
func Message(err error) string {
	var re *openapi3filter.RequestError
	if !errors.As(err, &re) {
		return "The request is invalid: " + err.Error()
	}
	var se *openapi3.SchemaError
	switch {
	case errors.As(re.Err, &se):
		if re.Parameter != nil {
			return fmt.Sprintf("Invalid value for parameter '%s': %s", re.Parameter.Name, se.Reason)
		}
		return schemaMessage(se)
	case re.Parameter != nil:
		return fmt.Sprintf("Invalid value for parameter '%s': %s", re.Parameter.Name, re.Error())
	case errors.Is(re.Err, openapi3filter.ErrInvalidRequired):
		return "A request body is required."
	case re.RequestBody != nil:
		var pe *openapi3filter.ParseError
		if errors.As(re.Err, &pe) || re.Reason == "failed to decode request body" {
			return "The request body is not valid JSON."
		}
	}
	return "The request is invalid: " + re.Error()
}

// strictMessage is what a client is told of a body that DecodeStrict
// refused; a value outside the body's shape is worded as kin-openapi's
// error for it is (Message).
func strictMessage(err error) string {
	var je *jsonvalue.Error
	if errors.As(err, &je) {
		return je.Message
	}
	var be *jsonvalue.BoundError
	if !errors.As(err, &be) {
		return "The request body is not valid JSON."
	}
	switch be.Kind {
	case jsonvalue.UnknownProperty:
		name := be.Shape.Name
		if name == "" {
			name = "object"
		}
		return fmt.Sprintf("The property '%s' does not exist on type '%s'.", truncate(joinPath(be.Path), 200), name)
	case jsonvalue.TooManyItems:
		return propertyMessage(be.Path, fmt.Sprintf("maximum number of items is %d", be.Shape.MaxItems))
	}
	return propertyMessage(be.Path, fmt.Sprintf("maximum string length is %d", be.Shape.MaxLength))
}

// propertyMessage says what is wrong with the value at path.
func propertyMessage(path []string, reason string) string {
	if len(path) == 0 {
		return "The request body is invalid: " + reason
	}
	return fmt.Sprintf("Invalid value for property '%s': %s", joinPath(path), reason)
}

// shapeOf bounds the values of schema s (see jsonvalue.Shape): closed
// objects, and the maxItems and maxLength of arrays and strings. Schemas
// that combine others bound nothing, but for an allOf whose parts all add
// only constraints (required, a description) to one part: the idioms that
// give a $ref a description, or make its properties required.
func shapeOf(s *openapi3.Schema, seen map[*openapi3.Schema]*jsonvalue.Shape) *jsonvalue.Shape {
	if s == nil {
		return nil
	}
	own := *s
	own.AllOf = nil
	if len(s.AllOf) > 0 && !structural(&own) {
		var only *openapi3.Schema
		for _, part := range s.AllOf {
			if structural(part.Value) {
				if only != nil {
					return nil
				}
				only = part.Value
			}
		}
		return shapeOf(only, seen)
	}
	if len(s.AllOf)+len(s.AnyOf)+len(s.OneOf) > 0 || s.Not != nil {
		return nil
	}
	if sh, ok := seen[s]; ok {
		return sh
	}
	sh := &jsonvalue.Shape{Name: s.Title, MaxItems: -1, MaxLength: -1}
	seen[s] = sh
	if s.Type.Is(openapi3.TypeString) && s.MaxLength != nil {
		sh.MaxLength = int(*s.MaxLength)
	}
	if s.Type.Is(openapi3.TypeArray) {
		if s.MaxItems != nil {
			sh.MaxItems = int(*s.MaxItems)
		}
		if s.Items != nil {
			sh.Items = shapeOf(s.Items.Value, seen)
		}
	}
	if len(s.Properties) > 0 || s.Type.Is(openapi3.TypeObject) {
		sh.Properties = map[string]*jsonvalue.Shape{}
		for name, p := range s.Properties {
			sh.Properties[name] = shapeOf(p.Value, seen)
		}
		sh.Closed = s.AdditionalProperties.Has != nil && !*s.AdditionalProperties.Has
	}
	return sh
}

// structural reports whether s says what a value is made of, rather than
// only constraining it.
func structural(s *openapi3.Schema) bool {
	return s.Type != nil || len(s.Properties) > 0 || s.Items != nil || s.AdditionalProperties.Has != nil ||
		s.AdditionalProperties.Schema != nil || len(s.AllOf)+len(s.AnyOf)+len(s.OneOf) > 0 || s.Not != nil ||
		s.MaxLength != nil || s.MaxItems != nil
}

func schemaMessage(se *openapi3.SchemaError) string {
	// allOf, anyOf and oneOf wrap the error of the subschema, which says
	// best what was wrong; kin-openapi gives it the whole path too.
	for {
		var inner *openapi3.SchemaError
		if !errors.As(se.Origin, &inner) {
			break
		}
		se = inner
	}
	path := se.JSONPointer()
	if obj, ok := se.Value.(map[string]any); ok && se.SchemaField == "properties" {
		if name := unknownProperty(obj, se.Schema); name != "" {
			typ := se.Schema.Title
			if typ == "" {
				typ = "object"
			}
			return fmt.Sprintf("The property '%s' does not exist on type '%s'.", joinPath(append(path, name)), typ)
		}
	}
	return propertyMessage(path, se.Reason)
}

func unknownProperty(obj map[string]any, schema *openapi3.Schema) string {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		if _, ok := schema.Properties[k]; !ok {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return ""
	}
	sort.Strings(keys)
	return truncate(keys[0], 100)
}

// joinPath writes a JSON pointer as a property path: error.details[0].source.
func joinPath(p []string) string {
	var b strings.Builder
	for i, s := range p {
		if _, err := strconv.Atoi(s); err == nil && i > 0 {
			b.WriteString("[" + s + "]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s)
	}
	return b.String()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// jsonMarshal encodes a body value as kin-openapi's JSON body encoder does.
func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

// internStrings collects the property names and the string enum values of
// the contract's schemas, each boxed once: nearly every string of a body is
// one of them, and jsonvalue shares them instead of allocating each.
func internStrings(spec *openapi3.T) map[string]any {
	m := map[string]any{}
	seen := map[*openapi3.Schema]bool{}
	var walk func(*openapi3.SchemaRef)
	walk = func(ref *openapi3.SchemaRef) {
		if ref == nil || ref.Value == nil || seen[ref.Value] {
			return
		}
		s := ref.Value
		seen[s] = true
		for name, p := range s.Properties {
			m[name] = name
			walk(p)
		}
		for _, e := range s.Enum {
			if str, ok := e.(string); ok {
				m[str] = str
			}
		}
		walk(s.Items)
		walk(s.Not)
		walk(s.AdditionalProperties.Schema)
		for _, list := range [][]*openapi3.SchemaRef{s.AllOf, s.AnyOf, s.OneOf} {
			for _, x := range list {
				walk(x)
			}
		}
	}
	for _, ref := range spec.Components.Schemas {
		walk(ref)
	}
	return m
}
