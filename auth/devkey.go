package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// DevKeyFile is the file of the development key in the data directory.
const DevKeyFile = "dev-signing-key.pem"

// DevTenantID is the tenant of development tokens unless one is given.
const DevTenantID = "00000000-0000-4000-8000-00000000c0de"

// DevKey is the ES256 key pair that signs development tokens.
type DevKey struct {
	ID      string // the kid of the tokens it signs
	private *ecdsa.PrivateKey
	jwk     jwkset.JWK // the public half, as the Verifier trusts it
}

// LoadOrCreateDevKey reads the development key from dir, creating it (and
// dir) on first use. The file is readable by its owner only.
func LoadOrCreateDevKey(dir string) (*DevKey, error) {
	path := filepath.Join(dir, DevKeyFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createDevKey(dir, path)
	}
	if err != nil {
		return nil, fmt.Errorf("read development key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("development key %s is not PEM", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse development key %s: %w", path, err)
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, fmt.Errorf("development key %s is not an ECDSA P-256 key", path)
	}
	return newDevKey(ec)
}

func createDevKey(dir, path string) (*DevKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	// O_EXCL: when two processes start at once, one creates the key and the
	// other reads it.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return LoadOrCreateDevKey(dir)
	}
	if err != nil {
		return nil, fmt.Errorf("create development key: %w", err)
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return newDevKey(k)
}

func newDevKey(k *ecdsa.PrivateKey) (*DevKey, error) {
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(pub)
	kid := "graphconn-dev-" + base64.RawURLEncoding.EncodeToString(sum[:12])
	jwk, err := jwkset.NewJWKFromKey(&k.PublicKey, jwkset.JWKOptions{
		Metadata: jwkset.JWKMetadataOptions{ALG: jwkset.AlgES256, KID: kid, USE: jwkset.UseSig},
	})
	if err != nil {
		return nil, err
	}
	return &DevKey{ID: kid, private: k, jwk: jwk}, nil
}

// TokenOptions describe a development token.
type TokenOptions struct {
	AppID    string
	TenantID string   // a GUID, in any spelling; DevTenantID when empty
	Roles    []string // application permissions; or
	Scopes   []string // delegated permissions, for a user's token
	// UserID is a user's token's oid (a new GUID when empty), and Groups its
	// groups claim: the Entra groups the user is in.
	UserID   string
	Groups   []string
	TTL      time.Duration
	Audience string // DefaultAudience when empty
	Issuer   string // DevIssuer when empty
}

// Mint signs a token shaped as Microsoft's identity platform issues them:
// an application token carries roles, a delegated one scp and a user's oid.
func (k *DevKey) Mint(o TokenOptions, now time.Time) (string, error) {
	switch {
	case o.AppID == "":
		return "", errors.New("a token needs an app id")
	case len(o.Roles) > 0 && len(o.Scopes) > 0:
		return "", errors.New("a token carries roles (an application's) or scopes (a user's), not both")
	case o.TTL <= 0:
		return "", errors.New("a token needs a positive lifetime")
	case len(o.Scopes) == 0 && (o.UserID != "" || len(o.Groups) > 0):
		return "", errors.New("a user id and groups go in a user's token (with scopes)")
	}
	if o.TenantID != "" {
		// Any spelling of a GUID, kept as given: the Verifier's to
		// normalize.
		if _, err := ParseTenantID(o.TenantID); err != nil {
			return "", fmt.Errorf("the tenant id %q is not a GUID", o.TenantID)
		}
	}
	if o.TenantID == "" {
		o.TenantID = DevTenantID
	}
	if o.Audience == "" {
		o.Audience = DefaultAudience
	}
	if o.Issuer == "" {
		o.Issuer = DevIssuer
	}
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    o.Issuer,
			Audience:  jwt.ClaimStrings{o.Audience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(o.TTL)),
			ID:        uuid.NewString(),
		},
		AppID:    o.AppID,
		TenantID: o.TenantID,
		Roles:    o.Roles,
	}
	if len(o.Scopes) > 0 {
		c.Scope = strings.Join(o.Scopes, " ")
		c.ObjectID = o.UserID
		if c.ObjectID == "" {
			c.ObjectID = uuid.NewString()
		}
		c.Subject = c.ObjectID
		c.Groups = o.Groups
	} else {
		c.Subject = o.AppID
	}
	t := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	t.Header["kid"] = k.ID
	return t.SignedString(k.private)
}
