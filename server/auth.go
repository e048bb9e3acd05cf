package server

import (
	"context"
	"net/http"
	"strings"

	"github.com/getkin/kin-openapi/openapi3filter"
)

// wwwAuthenticate is the challenge Graph sends with a 401.
const wwwAuthenticate = `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`

// authenticate is kin-openapi's AuthenticationFunc for the bearerAuth scheme
// declared in openapi.yaml. For now any non-empty bearer token passes.
func authenticate(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	h := in.RequestValidationInput.Request.Header.Get("Authorization")
	scheme, token, _ := strings.Cut(strings.TrimSpace(h), " ")
	switch {
	case h == "" || (strings.EqualFold(scheme, "Bearer") && strings.TrimSpace(token) == ""):
		return newError(http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty.")
	case !strings.EqualFold(scheme, "Bearer"):
		return newError(http.StatusUnauthorized, "InvalidAuthenticationToken",
			"Access token validation failure. The Authorization header must be 'Bearer {token}'.")
	}
	return nil
}
