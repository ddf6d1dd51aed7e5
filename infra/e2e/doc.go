// Package e2e tests the deployable shape: that template.yaml, functions/,
// events/, the Makefile, the local API's routes and the OpenAPI document
// agree, and (with -tags e2e) that every function's real bootstrap works
// under the Lambda Runtime Interface Emulator against moto.
package e2e
