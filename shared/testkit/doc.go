// Package testkit is what the tests of several packages share: moto_server
// started for a test binary (a test that needs moto fails, never skips, when
// it cannot start), users and keys in it, a table's stream as Lambda
// delivers it, a counter of AWS calls, a buffer safe to read while written,
// and an authenticator with plain test tokens. Production code never
// imports it (TestProductionNeverImportsTestkit).
package testkit
