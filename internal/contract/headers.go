package contract

import (
	"fmt"
	"net/http"
	"sort"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
)

// responseHeaders checks a response's headers against those its response
// declares, as openapi3filter.ValidateResponse does, with the same errors,
// for the headers that are plain strings (every one of openapi.yaml's):
// the header's first value is the string that the header's schema checks.
// ValidateResponse works that out anew for each header of each response
// (its serialization method, its decoder, a sorted copy of the names),
// which cost a third of a response's validation.
type responseHeaders struct {
	headers []responseHeader // sorted by name, as ValidateResponse visits them
}

type responseHeader struct {
	name      string // as the contract spells it
	canonical string // its key in http.Header
	required  bool
	schema    *openapi3.Schema
	// accepts, when not nil, is a quicker check of a value that answers
	// VisitJSON's verdict when it accepts: VisitJSON runs only to explain
	// a refusal.
	accepts func(string) bool
}

// compileResponseHeaders returns the checks of resp's headers, or nil when
// one of them is not a plain string, and so is left to ValidateResponse.
// With stringsOnly (an OpenAPI 3.0 document, whose header values are
// visited with no options), a header whose schema has no enum is checked by
// kin-openapi's VisitJSONString first: for such a schema VisitJSON does
// the same checks of a string (lengths, pattern, format) after work that
// finds nothing to check (the schema's subschemas, an enum), which was
// half of a header's check.
func compileResponseHeaders(resp *openapi3.Response, stringsOnly bool) *responseHeaders {
	rh := &responseHeaders{}
	for name, ref := range resp.Headers {
		if name == "Content-Type" {
			continue // ValidateResponse skips it too: the media type decides
		}
		h := ref.Value
		if h == nil || h.Content != nil || h.Schema == nil || h.Schema.Value == nil {
			return nil
		}
		if sm, err := h.SerializationMethod(); err != nil || sm.Style != openapi3.SerializationSimple || sm.Explode {
			return nil
		}
		s := h.Schema.Value
		if !s.Type.Is(openapi3.TypeString) || len(s.AllOf)+len(s.AnyOf)+len(s.OneOf) > 0 || s.Not != nil {
			return nil
		}
		header := responseHeader{name: name, canonical: http.CanonicalHeaderKey(name), required: h.Required, schema: s}
		if stringsOnly && len(s.Enum) == 0 && s.Always == nil && s.Type.Is(openapi3.TypeString) {
			header.accepts = func(v string) bool { return s.VisitJSONString(v) == nil }
		}
		rh.headers = append(rh.headers, header)
	}
	sort.Slice(rh.headers, func(i, j int) bool { return rh.headers[i].name < rh.headers[j].name })
	return rh
}

// check is ValidateResponse's loop over the headers.
func (rh *responseHeaders) check(in *responseInput, opts []openapi3.SchemaValidationOption) error {
	for i := range rh.headers {
		h := &rh.headers[i]
		values, found := in.header[h.canonical]
		var value any // nil for a header given with no value, as kin-openapi decodes it
		if len(values) > 0 {
			value = values[0]
		}
		switch {
		case found:
			if v, ok := value.(string); ok && h.accepts != nil && h.accepts(v) {
				continue
			}
			if err := h.schema.VisitJSON(value, opts...); err != nil {
				return &openapi3filter.ResponseError{Input: in.input(), Reason: fmt.Sprintf("response header %q doesn't match schema", h.name), Err: err}
			}
		case h.required:
			return &openapi3filter.ResponseError{Input: in.input(), Reason: fmt.Sprintf("response header %q missing", h.name)}
		}
	}
	return nil
}
