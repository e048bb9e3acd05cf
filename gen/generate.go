// Package gen holds the code that oapi-codegen generates from openapi.yaml: the
// models, the Echo server interface (ServerInterface and RegisterHandlers) and
// the embedded spec.
package gen

//go:generate go run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen --config=config.yaml ../openapi.yaml
