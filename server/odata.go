package server

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
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

// origin decides the scheme, host and path prefix of the absolute URLs that
// graphconn writes: Location, @odata.context and @odata.nextLink. They come
// from configuration, never from the request alone: a client polls the
// Location it is given with its bearer token, so a Host header (or an
// absolute-form request target) chosen by someone else must not pick it.
type origin struct {
	// Of Config.PublicURL; host is "" when none is configured, and then
	// the URLs name the local address of the request's connection.
	scheme, host, prefix string
	base                 string // scheme://host/prefix, when host is set
	// The peers whose Host, X-Forwarded-Proto, X-Forwarded-Host and
	// Forwarded headers are believed.
	trusted []netip.Prefix
}

const originKey = "graphconn.origin"

// newOrigin checks Config.PublicURL and Config.TrustedProxies.
func newOrigin(publicURL string, trustedProxies []string) (*origin, error) {
	o := &origin{}
	if publicURL != "" {
		u, err := url.Parse(publicURL)
		switch {
		case err != nil:
			return nil, fmt.Errorf("server: public URL %q: %w", publicURL, err)
		case u.Scheme != "http" && u.Scheme != "https":
			return nil, fmt.Errorf("server: public URL %q: the scheme must be http or https", publicURL)
		case u.Opaque != "" || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || !validHost(u.Host):
			return nil, fmt.Errorf("server: public URL %q must be scheme://host[:port][/path]", publicURL)
		}
		o.scheme, o.host, o.prefix = u.Scheme, u.Host, strings.TrimRight(u.EscapedPath(), "/")
		o.base = o.scheme + "://" + o.host + o.prefix
	}
	for _, s := range trustedProxies {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			o.trusted = append(o.trusted, p.Masked())
		} else if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
			a = a.Unmap()
			o.trusted = append(o.trusted, netip.PrefixFrom(a, a.BitLen()))
		} else {
			return nil, fmt.Errorf("server: trusted proxy %q is neither an IP address nor a CIDR range", s)
		}
	}
	return o, nil
}

// middleware makes o the origin of baseURL.
func (o *origin) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Set(originKey, o)
		return next(c)
	}
}

// url is the base of the absolute URLs of a response to r.
func (o *origin) url(r *http.Request) string {
	if o.base != "" && len(o.trusted) == 0 {
		return o.base
	}
	scheme, host := o.scheme, o.host
	if host == "" {
		scheme, host = local(r)
	}
	if o.trusts(r) {
		if s, h, ok := forwarded(r); ok {
			if s != "" {
				scheme = s
			}
			if h != "" {
				host = h
			}
		}
	}
	return scheme + "://" + host + o.prefix
}

// local is the scheme and address of the connection that r came on: its
// own end, which the client chose by connecting and cannot otherwise change.
func local(r *http.Request) (scheme, host string) {
	scheme = "http"
	if r.TLS != nil {
		scheme = "https"
	}
	a, ok := r.Context().Value(http.LocalAddrContextKey).(*net.TCPAddr)
	if !ok {
		return scheme, "localhost"
	}
	ap := a.AddrPort()
	return scheme, netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port()).String()
}

// trusts reports whether the peer of r is one of the trusted proxies.
// (Echo's IPExtractor helpers find a client's address behind proxies;
// whether the peer itself is trusted they keep to themselves.)
func (o *origin) trusts(r *http.Request) bool {
	if len(o.trusted) == 0 {
		return false
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	a := ap.Addr().Unmap().WithZone("")
	for _, p := range o.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// forwarded reads the scheme and host that a trusted proxy passed on, ""
// for those it did not: X-Forwarded-Proto and X-Forwarded-Host, else
// Forwarded's proto and host, and the Host header, unless the request
// target was in absolute form (whose host Go puts in r.Host). Of a list,
// the last value counts: the one the trusted proxy added. ok is false when
// a value is not a scheme or a host[:port]: then none counts.
func forwarded(r *http.Request) (scheme, host string, ok bool) {
	var fwdProto, fwdHost string
	if f := r.Header.Values("Forwarded"); len(f) > 0 {
		if fwdProto, fwdHost, ok = parseForwarded(f[len(f)-1]); !ok {
			return "", "", false
		}
	}
	if scheme = lastValue(r.Header.Values("X-Forwarded-Proto")); scheme == "" {
		scheme = fwdProto
	}
	scheme = strings.ToLower(scheme)
	if scheme != "" && scheme != "http" && scheme != "https" {
		return "", "", false
	}
	if host = lastValue(r.Header.Values("X-Forwarded-Host")); host == "" {
		host = fwdHost
	}
	if host == "" && strings.HasPrefix(r.RequestURI, "/") {
		host = r.Host
	}
	if host != "" && !validHost(host) {
		return "", "", false
	}
	return scheme, host, true
}

// lastValue is the last element of a comma-separated header.
func lastValue(values []string) string {
	if len(values) == 0 {
		return ""
	}
	v := values[len(values)-1]
	if i := strings.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	return strings.TrimSpace(v)
}

// parseForwarded reads proto and host of the last element of a Forwarded
// header (RFC 7239); ok is false when it is not a list of name=value pairs.
func parseForwarded(h string) (proto, host string, ok bool) {
	if i := strings.LastIndexByte(h, ','); i >= 0 {
		h = h[i+1:]
	}
	for _, pair := range strings.Split(h, ";") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		name, value, found := strings.Cut(pair, "=")
		if !found {
			return "", "", false
		}
		if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
			value = value[1 : len(value)-1]
		}
		if strings.ContainsAny(value, `"\`) {
			return "", "", false
		}
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "proto":
			proto = value
		case "host":
			host = value
		}
	}
	return proto, host, true
}

// validHost reports whether s is a host and optional port fit for a URL: a
// DNS name, an IPv4 address or a bracketed IPv6 one; no userinfo, path,
// query or anything else.
func validHost(s string) bool {
	if s == "" || len(s) > 262 {
		return false
	}
	if s[0] == '[' {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return false
		}
		a, err := netip.ParseAddr(s[1:end])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return false
		}
		rest := s[end+1:]
		return rest == "" || (rest[0] == ':' && validPort(rest[1:]))
	}
	name := s
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		if !validPort(s[i+1:]) {
			return false
		}
		name = s[:i]
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

func validPort(p string) bool {
	if p == "" || len(p) > 5 {
		return false
	}
	n, err := strconv.Atoi(p)
	return err == nil && n > 0 && n <= 65535 && p[0] != '+' && p[0] != '-'
}

// localOrigin is the origin of a request that no origin middleware saw.
var localOrigin = &origin{}

// baseURL is the scheme, host and path prefix of the absolute URLs of the
// response to c.
func baseURL(c echo.Context) string {
	o, _ := c.Get(originKey).(*origin)
	if o == nil {
		o = localOrigin
	}
	return o.url(c.Request())
}

// contextURL is the @odata.context of a payload: the service's $metadata
// document and the fragment that names what the payload holds.
func contextURL(c echo.Context, fragment string) string {
	return baseURL(c) + versionPrefix(c) + "/$metadata#" + fragment
}

// connectionSet is the entity-set path of a connection's children as Graph
// names it in @odata.context, following the path family of the request.
func connectionSet(c echo.Context, connID string) string {
	if strings.HasPrefix(strings.TrimPrefix(c.Path(), versionPrefix(c)), "/connections/") {
		return "connections('" + connID + "')"
	}
	return "external/connections('" + connID + "')"
}

// selection is a parsed $select: the properties to keep, nil for all.
type selection []string

// parseSelect checks $select against the properties of the type, which come
// from openapi.yaml.
func parseSelect(raw *string, of entity) (selection, error) {
	if raw == nil {
		return nil, nil
	}
	var sel selection
	for _, p := range strings.Split(*raw, ",") {
		p = strings.TrimSpace(p)
		if !slices.Contains(of.props, p) {
			return nil, badRequest("Could not find a property named '%s' on type '%s'.", truncate(p, 100), of.name)
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

// page turns $top and $skiptoken into a store.Page of at most most items:
// fewer than $top asks for when their size could pass maxPageBytes (the
// client follows @odata.nextLink for the rest, as OData's server-driven
// paging has it).
func page(top *int, skiptoken *string, most int) (store.Page, error) {
	p := store.Page{Limit: defaultPageSize}
	if top != nil {
		p.Limit = *top
	}
	p.Limit = min(p.Limit, most)
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
	Count    *int64  `json:"@odata.count,omitempty"`
	Value    []any   `json:"value"`
	NextLink *string `json:"@odata.nextLink,omitempty"`
}

// writeCount answers a /$count request: the number, as plain text.
func writeCount(c echo.Context, n int64) error {
	return c.String(http.StatusOK, strconv.FormatInt(n, 10))
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
	link := baseURL(c) + c.Request().URL.EscapedPath() + "?" + q.Encode()
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
