// Package provider provides the backup.Checker that asks an S3 provider
// whether it accepts keys: STS GetCallerIdentity for AWS endpoints, a signed
// S3 ListBuckets for S3-compatible ones. Every connection it makes goes
// through a guard that refuses internal addresses after DNS, at dial time.
package provider
