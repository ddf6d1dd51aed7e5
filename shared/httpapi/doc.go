// Package httpapi provides the plain net/http handlers of the API: routing,
// reading the caller, decoding bodies, and answering errors as
// application/problem+json. The same handlers run behind API Gateway, in the
// local API and in tests.
package httpapi
