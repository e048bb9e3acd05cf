package store

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// PropertyType is the data type of a schema property.
type PropertyType string

// The property types.
const (
	TypeString              PropertyType = "string"
	TypeInt64               PropertyType = "int64"
	TypeDouble              PropertyType = "double"
	TypeDateTime            PropertyType = "dateTime"
	TypeBoolean             PropertyType = "boolean"
	TypeStringCollection    PropertyType = "stringCollection"
	TypeInt64Collection     PropertyType = "int64Collection"
	TypeDoubleCollection    PropertyType = "doubleCollection"
	TypeDateTimeCollection  PropertyType = "dateTimeCollection"
	TypePrincipal           PropertyType = "principal"
	TypePrincipalCollection PropertyType = "principalCollection"
)

// Schema is a connection's schema: the properties of its external items.
type Schema struct {
	BaseType   string     `json:"baseType"`
	Properties []Property `json:"properties"`
	// Registered is when the registration of the schema completed, as the
	// store read it (zero on a schema not yet stored): with the tenant and
	// the connection, it names one registered schema, which callers may
	// compile once and reuse.
	Registered time.Time `json:"-"`
}

// Property is one property of a Schema.
type Property struct {
	Name                 string       `json:"name"`
	Type                 PropertyType `json:"type"`
	Description          string       `json:"description,omitempty"`
	IsSearchable         bool         `json:"isSearchable,omitempty"`
	IsQueryable          bool         `json:"isQueryable,omitempty"`
	IsRetrievable        bool         `json:"isRetrievable,omitempty"`
	IsRefinable          bool         `json:"isRefinable,omitempty"`
	IsExactMatchRequired bool         `json:"isExactMatchRequired,omitempty"`
	Labels               []string     `json:"labels,omitempty"`
	Aliases              []string     `json:"aliases,omitempty"`
}

// labelTypes are the property types each semantic label may go on.
var labelTypes = map[string][]PropertyType{
	"title":                {TypeString},
	"url":                  {TypeString},
	"createdBy":            {TypeString},
	"lastModifiedBy":       {TypeString},
	"authors":              {TypeString, TypeStringCollection},
	"createdDateTime":      {TypeDateTime},
	"lastModifiedDateTime": {TypeDateTime},
	"fileName":             {TypeString},
	"fileExtension":        {TypeString},
	"iconUrl":              {TypeString},
	"containerName":        {TypeString},
	"containerUrl":         {TypeString},
}

func isText(t PropertyType) bool { return t == TypeString || t == TypeStringCollection }

// ValidateSchema checks the rules of Graph's schema that relate one field to
// another, which openapi.yaml cannot express; the contract checks the rest
// (names, types, labels, counts). It returns nil for a valid schema, and
// otherwise what is wrong, one detail per broken rule, each message naming
// the property and the rule.
func ValidateSchema(s *Schema) *ErrorDetail {
	var msgs []string
	var details []InnerErrorDetail
	fail := func(source, format string, args ...any) {
		msgs = append(msgs, fmt.Sprintf(format, args...))
		details = append(details, InnerErrorDetail{Source: source})
	}
	names := map[string]int{}  // lower-case name or alias → property index
	labels := map[string]int{} // label → property index
	for i, p := range s.Properties {
		src := fmt.Sprintf("properties/%d", i)
		for _, n := range append([]string{p.Name}, p.Aliases...) {
			key := strings.ToLower(n)
			if j, ok := names[key]; ok && j != i {
				fail(src, "The name or alias '%s' of property '%s' is already used by property '%s'.", n, p.Name, s.Properties[j].Name)
				continue
			}
			names[key] = i
		}
		if p.IsSearchable && !isText(p.Type) {
			fail(src+"/isSearchable", "Property '%s' is searchable, but only string and stringCollection properties can be.", p.Name)
		}
		if p.IsSearchable && p.IsRefinable {
			fail(src+"/isRefinable", "Property '%s' is both searchable and refinable; it can be only one of them.", p.Name)
		}
		if p.IsRefinable && p.Type == TypeBoolean {
			fail(src+"/isRefinable", "Property '%s' is refinable, but a boolean property cannot be (RefinerShouldNotBeOfType).", p.Name)
		}
		if len(p.Labels) > 0 && !p.IsRetrievable {
			fail(src+"/isRetrievable", "Property '%s' has a label, so it must be retrievable.", p.Name)
		}
		if p.IsExactMatchRequired && (p.IsSearchable || !isText(p.Type)) {
			fail(src+"/isExactMatchRequired", "Property '%s' requires an exact match, which only non-searchable string and stringCollection properties can.", p.Name)
		}
		for _, l := range p.Labels {
			if j, ok := labels[l]; ok {
				fail(src+"/labels", "The label '%s' of property '%s' is already on property '%s'.", l, p.Name, s.Properties[j].Name)
				continue
			}
			labels[l] = i
			if types, ok := labelTypes[l]; ok && !slices.Contains(types, p.Type) {
				fail(src+"/labels", "The label '%s' cannot go on property '%s' of type %s.", l, p.Name, p.Type)
			}
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return &ErrorDetail{Code: "InvalidSchema", Message: strings.Join(msgs, " "), Details: details}
}
