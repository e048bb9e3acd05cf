package server

import (
	"reflect"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/graphconn/graphconn/gen"
	"github.com/graphconn/graphconn/internal/contract"
)

// Handlers decode request bodies into the generated types (decodeBody),
// which drop what they have no field for. A property that openapi.yaml adds
// to a schema that a request body uses must have its field, or this fails.
func TestGeneratedTypesKnowEveryRequestProperty(t *testing.T) {
	types := map[string]reflect.Type{
		"microsoft.graph.connectionOperation": reflect.TypeFor[gen.MicrosoftGraphConnectionOperation](),
		"microsoft.graph.errorDetail":         reflect.TypeFor[gen.MicrosoftGraphErrorDetail](),
		"microsoft.graph.innerErrorDetail":    reflect.TypeFor[gen.MicrosoftGraphInnerErrorDetail](),
		"microsoft.graph.externalConnection":  reflect.TypeFor[gen.MicrosoftGraphExternalConnection](),
		"microsoft.graph.schema":              reflect.TypeFor[gen.MicrosoftGraphSchema](),
		"microsoft.graph.property":            reflect.TypeFor[gen.MicrosoftGraphProperty](),
		// Today's shapes (/v1.0, /beta).
		"microsoft.graph.externalConnectors.connectionOperation": reflect.TypeFor[gen.MicrosoftGraphExternalConnectorsConnectionOperation](),
		"microsoft.graph.externalConnectors.externalConnection":  reflect.TypeFor[gen.MicrosoftGraphExternalConnectorsExternalConnection](),
		"microsoft.graph.externalConnectors.schema":              reflect.TypeFor[gen.MicrosoftGraphExternalConnectorsSchema](),
		"microsoft.graph.externalConnectors.property":            reflect.TypeFor[gen.MicrosoftGraphExternalConnectorsProperty](),
		"microsoft.graph.publicError":                            reflect.TypeFor[gen.MicrosoftGraphPublicError](),
		"microsoft.graph.publicErrorDetail":                      reflect.TypeFor[gen.MicrosoftGraphPublicErrorDetail](),
		"microsoft.graph.publicInnerError":                       reflect.TypeFor[gen.MicrosoftGraphPublicInnerError](),
		"microsoft.graph.externalConnectors.configuration":       reflect.TypeFor[gen.MicrosoftGraphExternalConnectorsConfiguration](),
		"microsoft.graph.externalConnectors.activitySettings":    reflect.TypeFor[gen.MicrosoftGraphExternalConnectorsActivitySettings](),
		"microsoft.graph.externalConnectors.itemIdResolver":      reflect.TypeFor[gen.MicrosoftGraphExternalConnectorsItemIdResolver](),
		"microsoft.graph.externalConnectors.urlMatchInfo":        reflect.TypeFor[gen.MicrosoftGraphExternalConnectorsUrlMatchInfo](),
		"microsoft.graph.externalConnectors.searchSettings":      reflect.TypeFor[gen.MicrosoftGraphExternalConnectorsSearchSettings](),
		"microsoft.graph.externalConnectors.displayTemplate":     reflect.TypeFor[gen.MicrosoftGraphExternalConnectorsDisplayTemplate](),
		"microsoft.graph.externalConnectors.propertyRule":        reflect.TypeFor[gen.MicrosoftGraphExternalConnectorsPropertyRule](),
		// Beta's connection.
		"beta.microsoft.graph.externalConnectors.externalConnection": reflect.TypeFor[gen.BetaMicrosoftGraphExternalConnectorsExternalConnection](),
		"microsoft.graph.externalConnectors.complianceSettings":      reflect.TypeFor[gen.MicrosoftGraphExternalConnectorsComplianceSettings](),
		// Items, groups, activities.
		"microsoft.graph.externalConnectors.externalItem":                           reflect.TypeFor[gen.MicrosoftGraphExternalConnectorsExternalItem](),
		"microsoft.graph.externalConnectors.externalItemUpdate":                     reflect.TypeFor[gen.MicrosoftGraphExternalConnectorsExternalItemUpdate](),
		"microsoft.graph.externalConnectors.acl":                                    reflect.TypeFor[gen.MicrosoftGraphExternalConnectorsAcl](),
		"microsoft.graph.externalConnectors.externalItemContent":                    reflect.TypeFor[gen.MicrosoftGraphExternalConnectorsExternalItemContent](),
		"microsoft.graph.externalConnectors.externalItemInformationProtectionLabel": reflect.TypeFor[gen.MicrosoftGraphExternalConnectorsExternalItemInformationProtectionLabel](),
		"microsoft.graph.externalConnectors.externalGroup":                          reflect.TypeFor[gen.MicrosoftGraphExternalConnectorsExternalGroup](),
		"microsoft.graph.externalConnectors.identity":                               reflect.TypeFor[gen.MicrosoftGraphExternalConnectorsIdentity](),
		"microsoft.graph.externalConnectors.addActivitiesRequest":                   reflect.TypeFor[gen.MicrosoftGraphExternalConnectorsAddActivitiesRequest](),
		"microsoft.graph.externalConnectors.externalActivity":                       reflect.TypeFor[gen.MicrosoftGraphExternalConnectorsExternalActivity](),
		// Search.
		"microsoft.graph.searchQueryRequest":          reflect.TypeFor[gen.MicrosoftGraphSearchQueryRequest](),
		"microsoft.graph.searchRequest":               reflect.TypeFor[gen.MicrosoftGraphSearchRequest](),
		"microsoft.graph.searchQuery":                 reflect.TypeFor[gen.MicrosoftGraphSearchQuery](),
		"microsoft.graph.sortProperty":                reflect.TypeFor[gen.MicrosoftGraphSortProperty](),
		"microsoft.graph.aggregationOption":           reflect.TypeFor[gen.MicrosoftGraphAggregationOption](),
		"microsoft.graph.bucketAggregationDefinition": reflect.TypeFor[gen.MicrosoftGraphBucketAggregationDefinition](),
	}
	spec, err := LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	checked := map[string]bool{}
	var check func(where string, ref *openapi3.SchemaRef)
	check = func(where string, ref *openapi3.SchemaRef) {
		if ref == nil || ref.Value == nil {
			return
		}
		if ref.Ref != "" {
			name := strings.TrimPrefix(ref.Ref, "#/components/schemas/")
			if checked[name] {
				return
			}
			checked[name] = true
			// An open object of no declared properties decodes into a map,
			// which keeps every property.
			open := len(ref.Value.Properties) == 0 && (ref.Value.AdditionalProperties.Schema != nil ||
				ref.Value.AdditionalProperties.Has != nil && *ref.Value.AdditionalProperties.Has)
			if !open && (ref.Value.Type.Is(openapi3.TypeObject) || len(ref.Value.Properties) > 0 || len(ref.Value.AllOf) > 0) {
				typ, ok := types[name]
				if !ok {
					t.Errorf("%s: schema %s has no generated type in this test's table", where, name)
					return
				}
				fields := jsonFields(typ)
				for prop := range properties(ref.Value) {
					if !fields[prop] {
						t.Errorf("%s: property %q of %s has no field in %v", where, prop, name, typ)
					}
				}
			}
		}
		s := ref.Value
		for prop, p := range properties(s) {
			check(where+"."+prop, p)
		}
		check(where+"[]", s.Items)
	}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			if op.RequestBody == nil {
				continue
			}
			for _, mt := range op.RequestBody.Value.Content {
				check(method+" "+path, mt.Schema)
			}
		}
	}
	if len(checked) < 3 {
		t.Fatalf("checked %v, want the schemas of every request body", checked)
	}
}

// properties returns the properties of s and of its allOf.
func properties(s *openapi3.Schema) map[string]*openapi3.SchemaRef {
	out := map[string]*openapi3.SchemaRef{}
	for name, p := range s.Properties {
		out[name] = p
	}
	for _, ref := range s.AllOf {
		for name, p := range properties(ref.Value) {
			out[name] = p
		}
	}
	return out
}

// jsonFields returns the JSON names of a struct's fields.
func jsonFields(typ reflect.Type) map[string]bool {
	out := map[string]bool{}
	for f := range typ.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out[name] = true
		}
	}
	return out
}

// checkSettings bounds a displayTemplate's layout by maxLayoutBytes, which
// must be what openapi.yaml says (x-graphconn-maxBytes).
func TestLayoutBoundIsTheContracts(t *testing.T) {
	spec, err := LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	layout := spec.Components.Schemas["microsoft.graph.externalConnectors.displayTemplate"].Value.Properties["layout"].Value
	got, ok := layout.Extensions[contract.MaxBytesExtension].(float64)
	if !ok || int(got) != maxLayoutBytes {
		t.Errorf("openapi.yaml's layout %s = %v, want maxLayoutBytes (%d)", contract.MaxBytesExtension, layout.Extensions[contract.MaxBytesExtension], maxLayoutBytes)
	}
}
