package httpapi

import _ "embed"

// OpenAPI is the OpenAPI 3.1 document of the routes this package serves
// (openapi.yaml). The local API serves it; a test checks every answer of
// the HTTP suite against it.
//
//go:embed openapi.yaml
var OpenAPI []byte
