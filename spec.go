// Package graphconn holds the contract of the graphconn server, openapi.yaml,
// as the server serves it. The code generated from it lives in gen/.
package graphconn

import _ "embed"

// OpenAPIYAML is openapi.yaml, byte for byte.
//
//go:embed openapi.yaml
var OpenAPIYAML []byte
