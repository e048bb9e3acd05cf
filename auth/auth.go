// Package auth verifies the bearer tokens of Microsoft's identity platform
// that graphconn accepts, and mints development tokens with a key that
// graphconn keeps in its data directory.
//
// A token is a JWT signed with RS256 or ES256 by a key from the development
// key or a configured JWKS; its audience and issuer must be accepted, and
// its lifetime current. Application tokens carry their permissions in
// "roles", delegated (user) tokens in "scp", as Microsoft issues them.
package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

const (
	// DefaultAudience is the audience of Microsoft Graph's tokens.
	DefaultAudience = "https://graph.microsoft.com"
	// DevIssuer is the issuer of the tokens that the development key signs.
	DevIssuer = "graphconn-dev"
	// ConsumerTenantID is the tenant of personal Microsoft accounts.
	ConsumerTenantID = "9188040d-6c67-4c5b-b112-36a304b66dad"
	// DefaultLeeway is the clock skew allowed on exp, nbf and iat.
	DefaultLeeway = time.Minute
)

// Algorithms are the only signing algorithms accepted: "none" and the HMAC
// family never are, since the keys are asymmetric.
var Algorithms = []string{"RS256", "ES256"}

// Principal is who a verified token speaks for.
type Principal struct {
	AppID    string // the client application: appid (v1 tokens) or azp (v2)
	TenantID string
	ObjectID string
	// Delegated is true for a user's token (permissions in scp), false for
	// an application's (permissions in roles).
	Delegated   bool
	Permissions []string
	// Groups are the Entra groups of a user's token (its groups claim).
	Groups []string
}

// Has reports whether p was granted the permission.
func (p *Principal) Has(permission string) bool { return slices.Contains(p.Permissions, permission) }

type principalKey struct{}

// NewContext returns ctx carrying the caller p.
func NewContext(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the caller that ctx carries, or nil.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// Personal reports whether p is a user of a personal Microsoft account.
// The tenant ids are compared as GUIDs (see SameTenant).
func (p *Principal) Personal() bool { return p.Delegated && SameTenant(p.TenantID, ConsumerTenantID) }

// Error says why a token was refused, in words fit for the client: it never
// holds the token or key material.
type Error struct {
	Reason string
	Empty  bool // no token was presented at all
	Err    error
}

func (e *Error) Error() string { return e.Reason }
func (e *Error) Unwrap() error { return e.Err }

// Config says which tokens a Verifier accepts.
type Config struct {
	// DevKey, if not nil, is trusted to sign tokens.
	DevKey *DevKey
	// JWKS is a file path or an http(s) URL of a JSON Web Key Set whose keys
	// are trusted; a URL is fetched at start, refreshed hourly, and again
	// when a token names a key it lacks.
	JWKS      string
	Audiences []string // DefaultAudience when empty
	Issuers   []string // DevIssuer when empty
	Leeway    time.Duration
}

// Verifier verifies tokens.
type Verifier struct {
	keys      keyfunc.Keyfunc
	parser    *jwt.Parser
	audiences []string
	issuers   []string
	leeway    time.Duration
	cache     verified
}

// verified remembers the tokens that passed, so that a client sending the
// same token on every request (as Graph's SDKs do) pays for its signature
// once: the signature check was a third of a request's CPU. An entry lives
// until the token expires, and at most cacheTTL, so that a key removed from
// the JWKS stops working within that time. Entries are keyed by the token
// itself: hashing it with SHA-256 first cost more than the rest of the
// lookup, and the tokens are in this process's memory anyway.
type verified struct {
	mu      sync.RWMutex
	entries map[string]verifiedEntry
}

type verifiedEntry struct {
	principal *Principal
	until     time.Time // the token's exp, or the entry's end, whichever comes first
}

const (
	cacheTTL     = 5 * time.Minute
	cacheEntries = 10000
)

func (v *verified) get(token string, now time.Time) *Principal {
	v.mu.RLock()
	e, ok := v.entries[token]
	v.mu.RUnlock()
	if !ok {
		return nil
	}
	if !now.Before(e.until) {
		v.mu.Lock()
		if cur, ok := v.entries[token]; ok && !now.Before(cur.until) {
			delete(v.entries, token)
		}
		v.mu.Unlock()
		return nil
	}
	return e.principal
}

func (v *verified) put(token string, p *Principal, until time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.entries == nil || len(v.entries) >= cacheEntries {
		v.entries = map[string]verifiedEntry{}
	}
	v.entries[token] = verifiedEntry{principal: p, until: until}
}

// NewVerifier returns a Verifier for cfg. ctx bounds the background refresh
// of a JWKS URL.
func NewVerifier(ctx context.Context, cfg Config) (*Verifier, error) {
	if len(cfg.Audiences) == 0 {
		cfg.Audiences = []string{DefaultAudience}
	}
	if len(cfg.Issuers) == 0 {
		cfg.Issuers = []string{DevIssuer}
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = DefaultLeeway
	}
	given := jwkset.NewMemoryStorage()
	if cfg.DevKey != nil {
		if err := given.KeyWrite(ctx, cfg.DevKey.jwk); err != nil {
			return nil, fmt.Errorf("trust the development key: %w", err)
		}
	}
	var storage jwkset.Storage = given
	switch u, err := url.Parse(cfg.JWKS); {
	case cfg.JWKS == "":
	case err == nil && (u.Scheme == "http" || u.Scheme == "https"):
		remote, err := jwkset.NewStorageFromHTTP(cfg.JWKS, jwkset.HTTPClientStorageOptions{
			Ctx:             ctx,
			HTTPTimeout:     10 * time.Second,
			RefreshInterval: time.Hour,
			// A JWKS that cannot be fetched at start is an error, not a
			// server that silently refuses every token.
			NoErrorReturnFirstHTTPReq: false,
		})
		if err != nil {
			return nil, fmt.Errorf("fetch JWKS %s: %w", cfg.JWKS, err)
		}
		storage, err = jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
			Given:            given,
			HTTPURLs:         map[string]jwkset.Storage{cfg.JWKS: remote},
			RateLimitWaitMax: 5 * time.Second,
			// A token naming an unknown key refetches the set: keys rotate.
			RefreshUnknownKID: rate.NewLimiter(rate.Every(10*time.Second), 1),
		})
		if err != nil {
			return nil, err
		}
	default:
		data, err := os.ReadFile(cfg.JWKS)
		if err != nil {
			return nil, fmt.Errorf("read JWKS: %w", err)
		}
		var set jwkset.JWKSMarshal
		if err := json.Unmarshal(data, &set); err != nil {
			return nil, fmt.Errorf("parse JWKS %s: %w", cfg.JWKS, err)
		}
		keys, err := set.JWKSlice()
		if err != nil {
			return nil, fmt.Errorf("parse JWKS %s: %w", cfg.JWKS, err)
		}
		for _, k := range keys {
			if err := given.KeyWrite(ctx, k); err != nil {
				return nil, err
			}
		}
	}
	kf, err := keyfunc.New(keyfunc.Options{Ctx: ctx, Storage: storage})
	if err != nil {
		return nil, err
	}
	return &Verifier{
		keys: kf,
		parser: jwt.NewParser(
			jwt.WithValidMethods(Algorithms),
			jwt.WithLeeway(cfg.Leeway),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
		),
		audiences: cfg.Audiences,
		issuers:   cfg.Issuers,
		leeway:    cfg.Leeway,
	}, nil
}

// claims are the claims of Microsoft's access tokens that graphconn reads.
type claims struct {
	jwt.RegisteredClaims
	AppID    string   `json:"appid,omitempty"`
	AZP      string   `json:"azp,omitempty"`
	TenantID string   `json:"tid,omitempty"`
	ObjectID string   `json:"oid,omitempty"`
	Roles    []string `json:"roles,omitempty"`
	Scope    string   `json:"scp,omitempty"`
	Groups   []string `json:"groups,omitempty"`
}

// UnmarshalJSON decodes the claims, refusing an exp, nbf or iat that is not
// a JSON number: jwt.NumericDate would take "1700000000", a string, for one,
// and RFC 7519 says a NumericDate is a number.
func (c *claims) UnmarshalJSON(data []byte) error {
	var dates struct {
		Exp json.RawMessage `json:"exp"`
		Nbf json.RawMessage `json:"nbf"`
		Iat json.RawMessage `json:"iat"`
	}
	if err := json.Unmarshal(data, &dates); err != nil {
		return err
	}
	for _, d := range []json.RawMessage{dates.Exp, dates.Nbf, dates.Iat} {
		if len(d) > 0 && string(d) != "null" && !strings.ContainsRune("-0123456789", rune(d[0])) {
			return errNotNumericDate
		}
	}
	type plain claims // without this method
	return json.Unmarshal(data, (*plain)(c))
}

var (
	errNotNumericDate = errors.New("exp, nbf and iat must be numbers")
	errCritical       = errors.New("the token has a crit header")
)

// FromHeader verifies the token of an Authorization header.
func (v *Verifier) FromHeader(ctx context.Context, h http.Header) (*Principal, error) {
	if len(h.Values("Authorization")) > 1 {
		return nil, &Error{Reason: "Access token validation failure. The request carries more than one Authorization header."}
	}
	raw := strings.TrimSpace(h.Get("Authorization"))
	scheme, token, _ := strings.Cut(raw, " ")
	token = strings.TrimSpace(token)
	switch {
	case raw == "" || (strings.EqualFold(scheme, "Bearer") && token == ""):
		return nil, &Error{Reason: "Access token is empty.", Empty: true}
	case !strings.EqualFold(scheme, "Bearer"):
		return nil, &Error{Reason: "Access token validation failure. The Authorization header must be 'Bearer {token}'."}
	}
	return v.Verify(ctx, token)
}

// Verify checks a token and returns whom it speaks for.
func (v *Verifier) Verify(ctx context.Context, token string) (*Principal, error) {
	now := time.Now()
	if p := v.cache.get(token, now); p != nil {
		return p, nil
	}
	var c claims
	keys := v.keys.KeyfuncCtx(ctx)
	t, err := v.parser.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		// RFC 7515 4.1.11: a token whose crit names extensions the
		// recipient does not understand is invalid; graphconn understands
		// none, and Microsoft's tokens carry no crit.
		if _, ok := t.Header["crit"]; ok {
			return nil, errCritical
		}
		return keys(t)
	})
	if err != nil {
		if t != nil && t.Method != nil && !slices.Contains(Algorithms, t.Method.Alg()) {
			return nil, &Error{Reason: "Access token validation failure. The token's signing algorithm is not accepted; use RS256 or ES256.", Err: err}
		}
		return nil, &Error{Reason: "Access token validation failure. " + reason(err), Err: err}
	}
	if !slices.ContainsFunc(c.Audience, func(a string) bool { return slices.Contains(v.audiences, a) }) {
		return nil, &Error{Reason: "Access token validation failure. Invalid audience."}
	}
	if !slices.Contains(v.issuers, c.Issuer) {
		return nil, &Error{Reason: "Access token validation failure. Invalid issuer."}
	}
	p := &Principal{AppID: c.AppID, TenantID: c.TenantID, ObjectID: c.ObjectID}
	if err := p.canonicalTenant(); err != nil {
		return nil, err
	}
	if p.AppID == "" {
		p.AppID = c.AZP
	}
	if p.AppID == "" {
		return nil, &Error{Reason: "Access token validation failure. The token names no application (appid or azp)."}
	}
	if c.Scope != "" {
		p.Delegated, p.Permissions, p.Groups = true, strings.Fields(c.Scope), c.Groups
	} else {
		p.Permissions = c.Roles
	}
	// exp is required, so it is set; the leeway that let it pass applies
	// to the cached entry too.
	until := c.ExpiresAt.Add(v.leeway)
	if end := now.Add(cacheTTL); end.Before(until) {
		until = end
	}
	v.cache.put(token, p, until)
	return p, nil
}

// reason names what was wrong with a token that failed to parse.
func reason(err error) string {
	switch {
	case errors.Is(err, errNotNumericDate):
		return "The token's exp, nbf and iat must be numbers."
	case errors.Is(err, errCritical):
		return "The token has a crit header, whose extensions are not supported."
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "The token is not a well-formed JWT."
	case errors.Is(err, jwt.ErrTokenExpired):
		return "The token has expired."
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "The token is not valid yet."
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "The token's signature is invalid."
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "The token lacks a required claim (exp)."
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "The token's signing key is not trusted."
	}
	return "The token is invalid."
}
