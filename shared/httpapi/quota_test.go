package httpapi_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/acme/backup-credentials/shared/testkit"
)

// TestQuotas: an organization's credentials and a credential's projects are
// bounded by conditions of the writes that would pass the bounds.
func TestQuotas(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		e.store.MaxCredentialsPerOrganization, e.store.MaxProjectsPerCredential = 2, 2
		a := e.create("org-1", "first")
		e.create("org-1", "second")
		if r := e.do(partner, "POST", "/v1/backup-credentials", createBody("org-1", "third")); r.status != 409 || r.code() != "quota_exceeded" {
			t.Fatalf("third credential: %d %s, want 409 quota_exceeded", r.status, r.body)
		}
		e.create("org-2", "elsewhere") // another organization counts apart
		path := "/v1/backup-credentials/" + a
		e.must(200, partner, "PUT", path+"/projects/p-1", map[string]any{"name": "one"})
		e.must(200, partner, "PUT", path+"/projects/p-2", map[string]any{"name": "two"})
		if r := e.do(partner, "PUT", path+"/projects/p-3", map[string]any{"name": "three"}); r.status != 409 || r.code() != "quota_exceeded" {
			t.Fatalf("third project: %d %s, want 409 quota_exceeded", r.status, r.body)
		}
		e.must(200, partner, "PUT", path+"/projects/p-2", map[string]any{"name": "renamed"}) // no new project
		e.must(204, partner, "DELETE", path+"/projects/p-2", nil)
		e.must(200, partner, "PUT", path+"/projects/p-3", map[string]any{"name": "three"})
		e.must(204, partner, "DELETE", path+"/projects/p-1", nil)
		e.must(204, partner, "DELETE", path+"/projects/p-3", nil)
		e.must(204, partner, "DELETE", path, nil)
		e.create("org-1", "third") // room again
	})
}

// TestTransactionConflict injects DynamoDB's TransactionConflict (which the
// serialized emulator never answers) into every writing action: a few are
// retried and the action succeeds; a conflict that does not end is 503 with
// Retry-After, never a rule's error such as name_taken.
func TestTransactionConflict(t *testing.T) {
	e := newEnv(t, "moto")
	e.store.Attempts = 6
	id := e.create("org-1", "contended")
	path := "/v1/backup-credentials/" + id
	actions := []struct {
		name, method, path string
		body               func() any
		status             int
	}{
		{"create", "POST", "/v1/backup-credentials", func() any { return createBody("org-1", "created-"+newSecret()[7:20]) }, 201},
		{"rename", "PATCH", path, func() any { return map[string]any{"s3Name": "renamed-" + newSecret()[7:20]} }, 200},
		{"rotate keys", "PATCH", path, func() any { return map[string]any{"s3SecretKey": newSecret()} }, 200},
		{"lock", "POST", path + "/lock", nil, 200},
		{"unlock", "POST", path + "/unlock", nil, 200},
		{"make default", "POST", path + "/make-default", nil, 200},
		{"associate", "PUT", path + "/projects/p-1", func() any { return map[string]any{"name": "shop"} }, 200},
		{"dissociate", "DELETE", path + "/projects/p-1", nil, 204},
	}
	for _, a := range actions {
		t.Run(a.name, func(t *testing.T) {
			var body any
			if a.body != nil {
				body = a.body()
			}
			e.faults.conflict(-1)
			r := e.do(partner, a.method, a.path, body)
			if r.status != 503 || r.code() != "unavailable" || r.header.Get("Retry-After") == "" {
				t.Errorf("endless conflict: %d %s, want 503 unavailable with Retry-After", r.status, r.body)
			}
			e.faults.conflict(2)
			if a.body != nil {
				body = a.body()
			}
			if r := e.do(partner, a.method, a.path, body); r.status != a.status {
				t.Errorf("two conflicts: %d %s, want %d", r.status, r.body, a.status)
			}
			e.faults.clear()
		})
	}
	e.faults.conflict(2)
	other := e.create("org-1", "to-delete")
	e.faults.conflict(2)
	e.must(204, partner, "DELETE", "/v1/backup-credentials/"+other, nil)
	e.faults.clear()
}

// TestOddOrganizationClaims: an empty organizations claim sees nothing and
// changes nothing, with no query built on an empty list; an organization
// named twice counts once; 150 organizations (over DynamoDB's 100 keys a
// batch and 100 values an IN) work.
func TestOddOrganizationClaims(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		id := e.create("org-1", "seen")
		none := caller{sub: "u-none", role: "partner"}
		e.calls.Take()
		if r := e.must(200, none, "GET", "/v1/backup-credentials", nil).json(t); len(r["data"].([]any)) != 0 {
			t.Errorf("no organizations lists %v", r)
		}
		if r := e.must(200, none, "GET", "/v1/organizations", nil).json(t); len(r["data"].([]any)) != 0 {
			t.Errorf("no organizations: %v", r)
		}
		if got := e.calls.Take(); len(got) != 0 {
			t.Errorf("an empty claim made AWS calls %v", got)
		}
		e.must(404, none, "GET", "/v1/backup-credentials/"+id, nil)
		e.must(404, none, "POST", "/v1/backup-credentials/"+id+"/lock", nil)
		e.must(403, none, "POST", "/v1/backup-credentials", createBody("org-1", "not mine"))

		twice := caller{sub: "u-twice", role: "partner", orgs: []string{"org-1", "org-1"}}
		if r := e.must(200, twice, "GET", "/v1/organizations", nil).json(t); len(r["data"].([]any)) != 1 {
			t.Errorf("an organization named twice: %v", r)
		}
		if r := e.must(200, twice, "GET", "/v1/backup-credentials", nil).json(t); len(r["data"].([]any)) != 1 {
			t.Errorf("an organization named twice lists %v", r)
		}

		many := caller{sub: "u-many", role: "partner"}
		for i := range 150 {
			many.orgs = append(many.orgs, fmt.Sprintf("org-%03d", i))
		}
		many.orgs = append(many.orgs, "org-1")
		if r := e.must(200, many, "GET", "/v1/organizations", nil).json(t); len(r["data"].([]any)) != 151 {
			t.Errorf("151 organizations: %d answered", len(r["data"].([]any)))
		}
		var found []any
		cursor := ""
		for range 200 {
			q := "/v1/backup-credentials?limit=100"
			if cursor != "" {
				q += "&cursor=" + cursor
			}
			r := e.must(200, many, "GET", q, nil).json(t)
			found = append(found, r["data"].([]any)...)
			if r["nextCursor"] == nil {
				break
			}
			cursor = r["nextCursor"].(string)
		}
		if len(found) != 1 {
			t.Errorf("151 organizations list %d credentials, want 1", len(found))
		}
		e.must(200, many, "POST", "/v1/backup-credentials/"+id+"/lock", nil)
	})
}

// TestProjectQuotaFitsTheItemLimit: on moto, which enforces DynamoDB's 400
// KB item limit, a credential holds the 1,000-project quota with the
// longest IDs (128 characters) and names (100 characters of 4 bytes each,
// 528 bytes a project, which a project map inside the credential item could
// not hold past ~757), and still takes every action. Projects are items of
// their own, so the credential item keeps its size.
//
// The first 999 are written as the store writes them (moto copies the whole
// table for every transaction, so 999 associations through HTTP take
// minutes there); the 1,000th and everything after go through HTTP.
func TestProjectQuotaFitsTheItemLimit(t *testing.T) {
	e := newEnv(t, "moto")
	ctx := context.Background()
	id := e.create("org-1", "at-the-quota")
	other := e.create("org-1", "other")
	path := "/v1/backup-credentials/" + id
	name := strings.Repeat("😀", 100)
	pid := func(i int) string { return fmt.Sprintf("p%0127d", i) }
	var writes []types.WriteRequest
	for i := range 999 {
		writes = append(writes,
			types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{
				"PK": sv("CRED#" + id), "SK": sv("#PROJ#" + pid(i)), "name": sv(name)}}},
			types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{
				"PK": sv("ORG#org-1"), "SK": sv("PROJ#" + pid(i)), "credentialId": sv(id)}}})
	}
	for len(writes) > 0 {
		n := min(25, len(writes))
		if _, err := e.ddb.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{e.table: writes[:n]}}); err != nil {
			t.Fatal(err)
		}
		writes = writes[n:]
	}
	if _, err := e.ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(e.table),
		Key:              map[string]types.AttributeValue{"PK": sv("CRED#" + id), "SK": sv("CRED")},
		UpdateExpression: aws.String("SET projectCount = :n"), ExpressionAttributeValues: map[string]types.AttributeValue{":n": &types.AttributeValueMemberN{Value: "999"}},
	}); err != nil {
		t.Fatal(err)
	}

	got := e.must(200, partner, "PUT", path+"/projects/"+pid(999), map[string]any{"name": name}).json(t)
	if n := len(got["projects"].([]any)); n != 1000 {
		t.Fatalf("after the 1,000th association the credential shows %d projects", n)
	}
	if r := e.do(partner, "PUT", path+"/projects/"+pid(1000), map[string]any{"name": name}); r.status != 409 || r.code() != "quota_exceeded" {
		t.Errorf("the 1,001st project: %d %.200s, want 409 quota_exceeded", r.status, r.body)
	}
	e.must(200, partner, "PUT", path+"/projects/"+pid(5), map[string]any{"name": strings.Repeat("é", 100)})
	e.must(200, partner, "PATCH", path, map[string]any{"s3Name": "still-at-the-quota"})
	e.must(200, partner, "POST", path+"/make-default", nil)
	e.must(200, partner, "POST", path+"/check", nil)
	e.must(200, partner, "POST", path+"/lock", nil)
	e.must(200, engine, "GET", target("org-1", pid(7))+"?purpose=restore", nil)
	e.must(200, partner, "POST", path+"/unlock", nil)
	e.must(200, engine, "GET", target("org-1", pid(7)), nil)
	e.must(200, partner, "PUT", "/v1/backup-credentials/"+other+"/projects/"+pid(3), map[string]any{"name": name}) // moves away
	e.must(200, partner, "PUT", path+"/projects/"+pid(3), map[string]any{"name": name})                            // and back
	e.must(204, partner, "DELETE", path+"/projects/"+pid(9), nil)
	if r := e.do(partner, "DELETE", path, nil); r.status != 409 || r.code() != "in_use" {
		t.Errorf("delete with 999 projects: %d %.200s, want 409 in_use", r.status, r.body)
	}
	if h := e.must(200, partner, "GET", path+"/history?limit=100", nil).json(t)["data"].([]any); len(h) < 10 {
		t.Errorf("history = %d entries", len(h))
	}
	list := e.must(200, partner, "GET", "/v1/backup-credentials?organizationId=org-1&search=quota", nil).json(t)["data"].([]any)
	if len(list) != 1 || len(list[0].(map[string]any)["projects"].([]any)) != 999 {
		t.Errorf("the list shows %d credentials", len(list))
	}
	out, err := e.ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(e.table),
		Key: map[string]types.AttributeValue{"PK": sv("CRED#" + id), "SK": sv("CRED")}})
	if err != nil {
		t.Fatal(err)
	}
	if size := testkit.ItemSize(out.Item); size > 4096 {
		t.Errorf("the credential item is %d bytes with 999 projects; it should not grow with them", size)
	}
}

// TestListAnswerStaysBounded: a page whose credentials' projects would make
// its answer larger than the store's bound ends early, with a cursor that
// goes on after it, in every sort; walking the cursors still visits every
// credential once.
func TestListAnswerStaysBounded(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		e.store.ListBytes = 2500 // about two credentials with a long-named project each
		byName, byID := []string{}, map[string]string{}
		for i := range 5 {
			name := fmt.Sprintf("cred-%d", i)
			id := e.create("org-1", name)
			e.must(200, partner, "PUT", "/v1/backup-credentials/"+id+"/projects/p-"+name, map[string]any{"name": strings.Repeat("x", 100)})
			byName, byID[id] = append(byName, name), name
		}
		var idsDown []string // one endpoint: -s3Endpoint is by ID, descending
		for _, id := range reversed(slices.Sorted(maps.Keys(byID))) {
			idsDown = append(idsDown, byID[id])
		}
		for sort, want := range map[string][]string{"name": byName, "-name": reversed(byName), "-s3Endpoint": idsDown} {
			got, pages := walkPages(t, e, "organizationId=org-1&sort="+sort, 100)
			if strings.Join(got, ",") != strings.Join(want, ",") || pages < 3 {
				t.Errorf("sort=%s: %d pages of %v, want %v over several pages", sort, pages, got, want)
			}
		}
	})
}

func reversed(s []string) []string {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}
