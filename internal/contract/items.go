package contract

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/graphconn/graphconn/store"
)

// ItemSchema checks the properties of external items against one schema
// that a connection registered: the run-time half of the contract, since a
// connection's schema is data, not part of openapi.yaml. It is compiled
// once per registered schema into kin-openapi schemas, one per property,
// and an item's values are checked with the same visitor that checks the
// document's bodies, so that the server has one notion of "valid".
type ItemSchema struct {
	props map[string]*itemProperty // by name, and by lower-case name
	// Object is the whole schema as one kin-openapi schema: an object of
	// the registered properties and their annotations, closed to others.
	// The checks use the per-property schemas, to name what is wrong;
	// Object documents and tests them.
	Object *openapi3.Schema
}

type itemProperty struct {
	store.Property
	schema *openapi3.Schema
	// annotations are the @odata.type values a client may send beside the
	// value, without their leading '#', in lower case.
	annotations []string
}

// principalSchema is a principal value: who someone is, in the external
// system or in Entra ID (Graph beta's microsoft.graph.externalConnectors.principal).
func principalSchema() *openapi3.Schema {
	s := openapi3.NewObjectSchema()
	for _, p := range []string{"@odata.type", "externalName", "externalId", "entraDisplayName", "entraId", "email", "upn", "tenantId"} {
		s.WithProperty(p, openapi3.NewStringSchema().WithMaxLength(1024))
	}
	s.AdditionalProperties = openapi3.AdditionalProperties{Has: openapi3.Ptr(false)}
	return s
}

// valueSchema is the kin-openapi schema of one value of type t.
func valueSchema(t store.PropertyType) *openapi3.Schema {
	switch t {
	case store.TypeString:
		return openapi3.NewStringSchema()
	case store.TypeInt64:
		return openapi3.NewInt64Schema().WithMin(math.MinInt64).WithMax(math.MaxInt64)
	case store.TypeDouble:
		return openapi3.NewFloat64Schema()
	case store.TypeDateTime:
		return openapi3.NewDateTimeSchema()
	case store.TypeBoolean:
		return openapi3.NewBoolSchema()
	case store.TypePrincipal:
		return principalSchema()
	case store.TypeStringCollection:
		return openapi3.NewArraySchema().WithItems(valueSchema(store.TypeString))
	case store.TypeInt64Collection:
		return openapi3.NewArraySchema().WithItems(valueSchema(store.TypeInt64))
	case store.TypeDoubleCollection:
		return openapi3.NewArraySchema().WithItems(valueSchema(store.TypeDouble))
	case store.TypeDateTimeCollection:
		return openapi3.NewArraySchema().WithItems(valueSchema(store.TypeDateTime))
	case store.TypePrincipalCollection:
		return openapi3.NewArraySchema().WithItems(principalSchema())
	}
	return nil
}

// annotationsOf are the @odata.type annotations that Graph's clients write
// beside a value of type t: the collections' (required by Graph's guide)
// and the primitive types' (which the SDKs write for non-ASCII strings).
func annotationsOf(t store.PropertyType) []string {
	switch t {
	case store.TypeString:
		return []string{"string"}
	case store.TypeInt64:
		return []string{"int64"}
	case store.TypeDouble:
		return []string{"double"}
	case store.TypeDateTime:
		return []string{"datetimeoffset"}
	case store.TypeBoolean:
		return []string{"boolean"}
	case store.TypePrincipal:
		return []string{"microsoft.graph.externalconnectors.principal"}
	case store.TypeStringCollection:
		return []string{"collection(string)", "collection(edm.string)"}
	case store.TypeInt64Collection:
		return []string{"collection(int64)", "collection(edm.int64)"}
	case store.TypeDoubleCollection:
		return []string{"collection(double)", "collection(edm.double)"}
	case store.TypeDateTimeCollection:
		return []string{"collection(datetimeoffset)", "collection(edm.datetimeoffset)"}
	case store.TypePrincipalCollection:
		return []string{"collection(microsoft.graph.externalconnectors.principal)"}
	}
	return nil
}

// CompileItemSchema compiles a registered schema.
func CompileItemSchema(s *store.Schema) *ItemSchema {
	is := &ItemSchema{props: make(map[string]*itemProperty, 2*len(s.Properties))}
	obj := openapi3.NewObjectSchema()
	obj.AdditionalProperties = openapi3.AdditionalProperties{Has: openapi3.Ptr(false)}
	for _, p := range s.Properties {
		ip := &itemProperty{Property: p, schema: valueSchema(p.Type), annotations: annotationsOf(p.Type)}
		if ip.schema == nil {
			continue // a type this server does not know has no values to check
		}
		ip.schema.Nullable = true // a null value is no value
		is.props[p.Name] = ip
		if _, ok := is.props[strings.ToLower(p.Name)]; !ok {
			is.props[strings.ToLower(p.Name)] = ip
		}
		obj.WithProperty(p.Name, ip.schema)
		obj.WithProperty(p.Name+"@odata.type", openapi3.NewStringSchema())
	}
	is.Object = obj
	return is
}

// PropertyError is a property of an item that breaks the registered schema.
type PropertyError struct {
	Property string // as the item names it
	Message  string // for the client: the property, its type and what was sent
}

func (e *PropertyError) Error() string { return e.Message }

// Check checks an item's properties, decoded as CheckRequest decodes
// bodies (json.Number for numbers), against the schema. It returns nil, or
// a *PropertyError for the first property (in name order) that breaks it:
// a name the schema does not have, a value not of the registered type, an
// annotation of another type.
func (is *ItemSchema) Check(props map[string]any) error {
	names := make([]string, 0, len(props))
	for n := range props {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		v := props[name]
		if base, ok := strings.CutSuffix(name, "@odata.type"); ok {
			if err := is.checkAnnotation(name, base, v); err != nil {
				return err
			}
			continue
		}
		if strings.Contains(name, "@") {
			return &PropertyError{Property: name, Message: fmt.Sprintf("The annotation '%s' is not one Graph takes on an item's properties; only '@odata.type' is.", truncateID(name))}
		}
		p := is.lookup(name)
		if p == nil {
			return &PropertyError{Property: name, Message: fmt.Sprintf("The property '%s' is not in the connection's schema.", truncateID(name))}
		}
		if err := is.checkValue(name, p, v); err != nil {
			return err
		}
	}
	return nil
}

func (is *ItemSchema) lookup(name string) *itemProperty {
	if p, ok := is.props[name]; ok {
		return p
	}
	return is.props[strings.ToLower(name)]
}

func (is *ItemSchema) checkAnnotation(name, base string, v any) error {
	p := is.lookup(base)
	if p == nil {
		return &PropertyError{Property: name, Message: fmt.Sprintf("The annotation '%s' names the property '%s', which is not in the connection's schema.", truncateID(name), truncateID(base))}
	}
	s, ok := v.(string)
	want := strings.ToLower(strings.TrimPrefix(s, "#"))
	if ok {
		for _, a := range p.annotations {
			if want == a {
				return nil
			}
		}
	}
	return &PropertyError{Property: name, Message: fmt.Sprintf("The annotation '%s' is %s, but the property '%s' is registered as %s: annotate it '%s'.",
		truncateID(name), describe(v), p.Name, p.Type, annotationName(p.Type))}
}

func (is *ItemSchema) checkValue(name string, p *itemProperty, v any) error {
	err := p.schema.VisitJSON(v, openapi3.VisitAsRequest(), openapi3.MultiErrors())
	if err == nil {
		err = checkInt64s(p.Type, v)
	}
	if err == nil {
		return nil
	}
	return &PropertyError{Property: name, Message: fmt.Sprintf("The property '%s' is registered as %s, but the item sends %s.", truncateID(name), p.Type, describe(v))}
}

// checkInt64s checks that int64 values are integers within the 64-bit
// range exactly: the visitor compares them as float64, which cannot tell
// 2^63 from 2^63-1.
func checkInt64s(t store.PropertyType, v any) error {
	var values []any
	switch t {
	case store.TypeInt64:
		values = []any{v}
	case store.TypeInt64Collection:
		values, _ = v.([]any)
	default:
		return nil
	}
	for _, x := range values {
		if n, ok := x.(json.Number); ok && !isInt64(n) {
			return errors.New("not an int64")
		}
	}
	return nil
}

// isInt64 reports whether n is an integer of the 64-bit range, however
// written (1, 1.0, 1e3).
func isInt64(n json.Number) bool {
	if _, err := strconv.ParseInt(n.String(), 10, 64); err == nil {
		return true
	}
	f, _, err := big.ParseFloat(n.String(), 10, 256, big.ToNearestEven)
	if err != nil || !f.IsInt() {
		return false
	}
	_, acc := f.Int64()
	return acc == big.Exact
}

// annotationName is the annotation Graph's guide gives for type t.
func annotationName(t store.PropertyType) string {
	switch t {
	case store.TypeStringCollection:
		return "Collection(String)"
	case store.TypeInt64Collection:
		return "Collection(Int64)"
	case store.TypeDoubleCollection:
		return "Collection(Double)"
	case store.TypeDateTimeCollection:
		return "Collection(DateTimeOffset)"
	case store.TypePrincipalCollection:
		return "Collection(microsoft.graph.externalConnectors.principal)"
	case store.TypeDateTime:
		return "DateTimeOffset"
	case store.TypePrincipal:
		return "microsoft.graph.externalConnectors.principal"
	}
	s := string(t)
	return strings.ToUpper(s[:1]) + s[1:]
}

// describe says what a JSON value is, for a message: its kind and, when
// short, the value itself.
func describe(v any) string {
	const most = 64
	quote := func(b []byte) string {
		if len(b) > most {
			return string(b[:most]) + "…"
		}
		return string(b)
	}
	b, _ := json.Marshal(v)
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return "the string " + quote(b)
	case json.Number:
		if f, _, err := big.ParseFloat(x.String(), 10, 256, big.ToNearestEven); err == nil && f.IsInt() && !isInt64(x) {
			return "the number " + quote(b) + ", outside the 64-bit range"
		}
		return "the number " + quote(b)
	case bool:
		return "the boolean " + string(b)
	case []any:
		kinds := map[string]bool{}
		for _, e := range x {
			kinds[kindOf(e)] = true
		}
		list := make([]string, 0, len(kinds))
		for k := range kinds {
			list = append(list, k)
		}
		sort.Strings(list)
		if len(list) == 0 {
			return "an empty array"
		}
		return fmt.Sprintf("an array of %d (%s)", len(x), strings.Join(list, ", "))
	case map[string]any:
		return "an object"
	}
	return "a value"
}

func kindOf(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case json.Number:
		if isInt64(x) {
			return "integer"
		}
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "array"
	}
	return "object"
}

func truncateID(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
