// Package dynamo provides the DynamoDB implementation of backup.Store.
//
// One table holds every item, told apart by key prefix:
//
//	CRED#<id>              CRED    a credential and its projects
//	CRED#<id>              HIST#…  one change of it (history.go)
//	NAME#<org>#<nameKey>   NAME    the claim of a name within an organization
//	ORG#<org>              ORG     an organization's count and default
//	PROJ#<projectId>       PROJ    which credential (and organization) a project uses
//	IDEM#<hash>            IDEM    an Idempotency-Key, expired by TTL
//
// The index byOrgListV2 (gsi1pk = ORG#<org>, gsi1sk = <nameKey>\x01<id>) lists an
// organization's credentials in name order. Every rule is a condition of the
// write that could break it; no rule is checked by reading first.
package dynamo
