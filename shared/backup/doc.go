// Package backup provides the domain of the backup credentials service: the
// credential, the caller, the rules a credential obeys, the error codes the
// API speaks, and the narrow interfaces of the stores and checker it needs.
//
// The package imports nothing from AWS. Adapters live in sibling packages
// (dynamo, secrets, provider, httpapi) and satisfy the interfaces declared
// here.
package backup
