package auth

import (
	"errors"

	"github.com/google/uuid"
)

// Tenant ids are GUIDs, and two spellings of one GUID are one tenant: upper
// or lower case, with braces or without. The Verifier puts the tenant of
// every Principal in one canonical form, so that everything downstream of
// it (ownership, the personal-account refusal, the store's keys) compares
// GUIDs when it compares strings.

var (
	errNoTenant      = errors.New("no tenant id")
	errTenantNotGUID = errors.New("the tenant id is not a GUID")
)

// ParseTenantID returns the canonical form of a tenant id: the GUID in lower
// case, hyphenated, without braces. It accepts the spellings of a GUID that
// github.com/google/uuid parses (upper or lower case, braced, urn:uuid:,
// without hyphens); anything else is an error.
func ParseTenantID(s string) (string, error) {
	if s == "" {
		return "", errNoTenant
	}
	id, err := uuid.Parse(s)
	if err != nil {
		return "", errTenantNotGUID
	}
	return id.String(), nil
}

// SameTenant reports whether a and b name one tenant: equal as GUIDs, or,
// when either is not a GUID, equal as strings.
func SameTenant(a, b string) bool {
	ca, errA := ParseTenantID(a)
	cb, errB := ParseTenantID(b)
	if errA != nil || errB != nil {
		return a == b
	}
	return ca == cb
}

// canonicalTenant puts p's tenant in its canonical form. A token whose tid
// is missing or not a GUID is refused: Microsoft's identity platform never
// issues one, and such a tid could not be compared as a GUID.
func (p *Principal) canonicalTenant() error {
	tid, err := ParseTenantID(p.TenantID)
	switch {
	case errors.Is(err, errNoTenant):
		return &Error{Reason: "Access token validation failure. The token names no tenant (tid).", Err: err}
	case err != nil:
		return &Error{Reason: "Access token validation failure. The token's tenant (tid) is not a GUID.", Err: err}
	}
	p.TenantID = tid
	return nil
}
