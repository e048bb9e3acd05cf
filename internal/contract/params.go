package contract

import (
	"net/http"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
)

// requestParams checks a request's parameters as openapi3filter
// ValidateRequest does (without security and body, which the validator
// checks on its own), with the same errors, for operations whose parameters
// are all plain strings in the path or a header, with no default: the
// parameter's value is the string that its schema checks. ValidateRequest
// works out each parameter's serialization method and decoder on every
// request.
type requestParams struct {
	params []requestParam // in ValidateRequest's order
}

type requestParam struct {
	p         *openapi3.Parameter
	canonical string // a header's key in http.Header
}

// compileRequestParams returns the checks of an operation's parameters (the
// path item's, unless the operation overrides them, then the operation's),
// or nil when one of them is not a plain string, and so is left to
// ValidateRequest.
func compileRequestParams(item *openapi3.PathItem, op *openapi3.Operation) *requestParams {
	var all []*openapi3.Parameter
	for _, ref := range item.Parameters {
		if op.Parameters == nil || op.Parameters.GetByInAndName(ref.Value.In, ref.Value.Name) == nil {
			all = append(all, ref.Value)
		}
	}
	for _, ref := range op.Parameters {
		all = append(all, ref.Value)
	}
	rp := &requestParams{}
	for _, p := range all {
		if p == nil || p.Content != nil || p.Schema == nil || p.Schema.Value == nil {
			return nil
		}
		if p.In != openapi3.ParameterInPath && p.In != openapi3.ParameterInHeader {
			return nil
		}
		if sm, err := p.SerializationMethod(); err != nil || sm.Style != openapi3.SerializationSimple || sm.Explode {
			return nil
		}
		s := p.Schema.Value
		if !s.Type.Is(openapi3.TypeString) || len(s.AllOf)+len(s.AnyOf)+len(s.OneOf) > 0 || s.Not != nil || s.Default != nil {
			return nil
		}
		rp.params = append(rp.params, requestParam{p: p, canonical: http.CanonicalHeaderKey(p.Name)})
	}
	return rp
}

// check is ValidateParameter for each parameter, in order.
func (rp *requestParams) check(in *requestInput, opts []openapi3.SchemaValidationOption) error {
	for i := range rp.params {
		p := rp.params[i].p
		var value any
		var found bool
		switch p.In {
		case openapi3.ParameterInPath:
			if raw := in.params[p.Name]; raw != "" {
				value, found = raw, true
			}
		case openapi3.ParameterInHeader:
			var raw []string
			raw, found = in.req.Header[rp.params[i].canonical]
			if len(raw) > 0 {
				value = raw[0]
			}
		}
		if p.Required && !found {
			return &openapi3filter.RequestError{Input: in.input(), Parameter: p, Reason: openapi3filter.ErrInvalidRequired.Error(), Err: openapi3filter.ErrInvalidRequired}
		}
		if value == nil {
			if !p.AllowEmptyValue && found {
				return &openapi3filter.RequestError{Input: in.input(), Parameter: p, Reason: openapi3filter.ErrInvalidEmptyValue.Error(), Err: openapi3filter.ErrInvalidEmptyValue}
			}
			continue
		}
		if value == "" && p.AllowEmptyValue {
			continue
		}
		if err := p.Schema.Value.VisitJSON(value, opts...); err != nil {
			return &openapi3filter.RequestError{Input: in.input(), Parameter: p, Err: err}
		}
	}
	return nil
}
