// Package dynamo provides the DynamoDB implementation of backup.Store.
//
// One table holds every item, told apart by key prefix:
//
//	CRED#<id>              CRED    a credential
//	CRED#<id>              #PROJ#<projectId>  one of its projects, by name
//	CRED#<id>              #USE    when the backup engine last resolved it
//	CRED#<id>              HIST#…  one change of it (history.go)
//	NAME#<org>#<nameKey>   NAME    the claim of a name within an organization
//	ORG#<org>              ORG     an organization's count and default
//	ORG#<org>              PROJ#<projectId>  which credential the organization's project uses
//	IDEM#<hash>            IDEM    an Idempotency-Key, expired by TTL
//
// Sort keys starting with "#" sort before "CRED": one Query of the range
// "#" to "CRED" reads a credential with its projects and last use, and the
// history's Query starts at "CRED".
//
// The index byOrgListV2 (gsi1pk = ORG#<org>, gsi1sk = <nameKey>\x01<id>) lists an
// organization's credentials in name order. Every rule is a condition of the
// write that could break it; no rule is checked by reading first.
package dynamo
