package httpapi_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// parallel runs n calls of fn at once and returns their statuses.
func parallel(n int, fn func(i int) response) []response {
	out := make([]response, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out[i] = fn(i)
		}()
	}
	close(start)
	wg.Wait()
	return out
}

// Concurrency is tested against moto, whose transactions are DynamoDB's.
func TestConcurrentMakeDefault(t *testing.T) {
	e := newEnv(t, "moto")
	var ids []string
	for i := range 5 {
		ids = append(ids, e.create("org-1", fmt.Sprintf("cred-%d", i)))
	}
	for _, r := range parallel(20, func(i int) response {
		return e.do(partner, "POST", "/v1/backup-credentials/"+ids[i%len(ids)]+"/make-default", nil)
	}) {
		if r.status != 200 {
			t.Errorf("make-default: %d %s", r.status, r.body)
		}
	}
	var defaults []string
	for _, c := range e.must(200, partner, "GET", "/v1/backup-credentials?organizationId=org-1", nil).json(t)["data"].([]any) {
		if m := c.(map[string]any); m["isDefault"] == true {
			defaults = append(defaults, m["id"].(string))
		}
	}
	org := e.must(200, partner, "GET", "/v1/organizations", nil).json(t)["data"].([]any)[0].(map[string]any)
	if len(defaults) != 1 || org["defaultCredentialId"] != defaults[0] {
		t.Errorf("defaults = %v, organization's = %v", defaults, org["defaultCredentialId"])
	}
}

func TestConcurrentDeleteAndAssociate(t *testing.T) {
	e := newEnv(t, "moto")
	for round := range 8 {
		id := e.create("org-1", fmt.Sprintf("round-%d", round))
		project := fmt.Sprintf("p-%d", round)
		rs := parallel(2, func(i int) response {
			if i == 0 {
				return e.do(partner, "DELETE", "/v1/backup-credentials/"+id, nil)
			}
			return e.do(partner, "PUT", "/v1/backup-credentials/"+id+"/projects/"+project, map[string]any{"name": "shop"})
		})
		del, assoc := rs[0], rs[1]
		owner := projectOwner(t, e, "org-1", project)
		switch {
		case del.status == 204 && assoc.status == 404:
			if owner != "" {
				t.Errorf("round %d: deleted credential, project points at %q", round, owner)
			}
		case del.status == 409 && assoc.status == 200:
			got := e.must(200, partner, "GET", "/v1/backup-credentials/"+id, nil).json(t)
			if len(got["projects"].([]any)) != 1 || owner != id {
				t.Errorf("round %d: kept credential %v, project owner %q", round, got["projects"], owner)
			}
		default:
			t.Errorf("round %d: delete %d %s, associate %d %s", round, del.status, del.body, assoc.status, assoc.body)
		}
	}
}

// projectOwner reads which credential an organization's project's pointer
// names.
func projectOwner(t *testing.T, e *env, org, project string) string {
	out, err := e.ddb.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(e.table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: "ORG#" + org},
			"SK": &types.AttributeValueMemberS{Value: "PROJ#" + project},
		}})
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := out.Item["credentialId"].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func TestConcurrentPatchesWithIfMatch(t *testing.T) {
	e := newEnv(t, "moto")
	id := e.create("org-1", "prod")
	counts := map[int]int{}
	for _, r := range parallel(10, func(i int) response {
		return e.do(partner, "PATCH", "/v1/backup-credentials/"+id, map[string]any{"s3Name": fmt.Sprintf("name-%d", i)}, "If-Match", `"1"`)
	}) {
		counts[r.status]++
	}
	if counts[200] != 1 || counts[412] != 9 {
		t.Errorf("statuses = %v, want one 200 and nine 412", counts)
	}
	if got := e.must(200, partner, "GET", "/v1/backup-credentials/"+id, nil).json(t); got["version"] != 2.0 {
		t.Errorf("version = %v", got["version"])
	}
}
