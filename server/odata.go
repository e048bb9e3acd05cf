package server

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"

	"github.com/graphconn/graphconn/store"
)

// defaultPageSize is the $top of a list request that gives none.
const defaultPageSize = 100

// etag renders a store version as an ETag, strong and quoted.
func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// parseIfMatch turns an If-Match header into the versions it accepts: nil
// when there is no header or it is "*" (any version of an existing
// resource), and otherwise the versions of its strong ETags, possibly none
// (a weak or foreign ETag never matches, so that request gets 412).
func parseIfMatch(h *string) []int64 {
	if h == nil || strings.TrimSpace(*h) == "*" {
		return nil
	}
	versions := []int64{}
	for _, tag := range strings.Split(*h, ",") {
		tag = strings.TrimSpace(tag)
		if len(tag) < 2 || tag[0] != '"' || tag[len(tag)-1] != '"' {
			continue
		}
		if v, err := strconv.ParseInt(tag[1:len(tag)-1], 10, 64); err == nil {
			versions = append(versions, v)
		}
	}
	return versions
}

// baseURL is the scheme and host the client reached the server by.
func baseURL(c echo.Context) string { return c.Scheme() + "://" + c.Request().Host }

// contextURL is the @odata.context of a payload: the service's $metadata
// document and the fragment that names what the payload holds.
func contextURL(c echo.Context, fragment string) string {
	return baseURL(c) + "/$metadata#" + fragment
}

// connectionSet is the entity-set path of a connection's children as Graph
// names it in @odata.context, following the path family of the request.
func connectionSet(c echo.Context, connID string) string {
	if strings.HasPrefix(c.Path(), "/connections/") {
		return "connections('" + connID + "')"
	}
	return "external/connections('" + connID + "')"
}

// selection is a parsed $select: the properties to keep, nil for all.
type selection []string

// parseSelect checks $select against the properties of the type, which come
// from openapi.yaml.
func parseSelect(raw *string, typeName string, allowed []string) (selection, error) {
	if raw == nil {
		return nil, nil
	}
	var sel selection
	for _, p := range strings.Split(*raw, ",") {
		p = strings.TrimSpace(p)
		if !slices.Contains(allowed, p) {
			return nil, badRequest("Could not find a property named '%s' on type '%s'.", truncate(p, 100), typeName)
		}
		if !slices.Contains(sel, p) {
			sel = append(sel, p)
		}
	}
	return sel, nil
}

// suffix is what a selection adds to an @odata.context: "(id,status)".
func (s selection) suffix() string {
	if s == nil {
		return ""
	}
	return "(" + strings.Join(s, ",") + ")"
}

// apply returns v as JSON with only the selected properties and the OData
// annotations; v itself when nothing is selected.
func (s selection) apply(v any) (any, error) {
	if s == nil {
		return v, nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	for k := range m {
		if !strings.HasPrefix(k, "@odata.") && !slices.Contains(s, k) {
			delete(m, k)
		}
	}
	return m, nil
}

// selectable lists the properties of a schema of openapi.yaml that $select
// may name: all but the OData annotations.
func selectable(spec *openapi3.T, schema string) ([]string, error) {
	ref := spec.Components.Schemas[schema]
	if ref == nil {
		return nil, fmt.Errorf("openapi.yaml has no schema %s", schema)
	}
	var names []string
	for name := range ref.Value.Properties {
		if !strings.HasPrefix(name, "@") {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names, nil
}

// page turns $top and $skiptoken into a store.Page.
func page(top *int, skiptoken *string) (store.Page, error) {
	p := store.Page{Limit: defaultPageSize}
	if top != nil {
		p.Limit = *top
	}
	if skiptoken != nil {
		after, err := base64.RawURLEncoding.DecodeString(*skiptoken)
		if err != nil || len(after) == 0 {
			return p, badRequest("The $skiptoken is invalid; take it from an @odata.nextLink.")
		}
		p.After = string(after)
	}
	return p, nil
}

// collection is the body of a list: one page of entities, or of the
// selected parts of them.
type collection struct {
	Context  string  `json:"@odata.context"`
	Value    []any   `json:"value"`
	NextLink *string `json:"@odata.nextLink,omitempty"`
}

// nextLink is the URL of the page after this one, or nil on the last page.
func nextLink(c echo.Context, next string) *string {
	if next == "" {
		return nil
	}
	q := url.Values{}
	for k, v := range c.QueryParams() {
		if k != "$skiptoken" {
			q[k] = v
		}
	}
	q.Set("$skiptoken", base64.RawURLEncoding.EncodeToString([]byte(next)))
	link := baseURL(c) + c.Request().URL.Path + "?" + q.Encode()
	return &link
}

var statusFilter = regexp.MustCompile(`^\s*status\s+eq\s+'([^']*)'\s*$`)

// parseStatusFilter reads the one $filter graphconn supports.
func parseStatusFilter(raw *string) (*store.OperationStatus, error) {
	if raw == nil {
		return nil, nil
	}
	m := statusFilter.FindStringSubmatch(*raw)
	if m == nil {
		return nil, badRequest("The $filter '%s' is not supported; the only supported filter is status eq '{status}'.", truncate(*raw, 100))
	}
	st := store.OperationStatus(m[1])
	switch st {
	case store.StatusUnspecified, store.StatusInProgress, store.StatusCompleted, store.StatusFailed:
		return &st, nil
	}
	return nil, badRequest("The status '%s' in $filter is not one of unspecified, inprogress, completed, failed.", truncate(m[1], 100))
}
