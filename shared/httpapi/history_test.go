package httpapi_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func sv(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

// historyActions walks a credential's history with pages of limit and
// returns every action, newest first.
func historyActions(t *testing.T, e *env, id string, limit int) []string {
	t.Helper()
	var actions []string
	cursor := ""
	for range 100 {
		q := fmt.Sprintf("/v1/backup-credentials/%s/history?limit=%d", id, limit)
		if cursor != "" {
			q += "&cursor=" + cursor
		}
		r := e.must(200, partner, "GET", q, nil).json(t)
		for _, h := range r["data"].([]any) {
			actions = append(actions, h.(map[string]any)["action"].(string))
		}
		if r["nextCursor"] == nil {
			return actions
		}
		cursor = r["nextCursor"].(string)
	}
	t.Fatal("the history's cursors do not end")
	return nil
}

// TestLegacyHistoryReads: a credential written before history moved out of
// its item (a "history" list inside it) reads as it did, and its later
// changes come first, across pages.
func TestLegacyHistoryReads(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		id := e.create("org-1", "legacy")
		ctx := context.Background()
		entry := func(at, action string) types.AttributeValue {
			return &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"at": sv(at), "by": sv("Old Admin"), "action": sv(action),
				"fields": &types.AttributeValueMemberL{Value: []types.AttributeValue{sv("isLocked")}}}}
		}
		// Make the item what the old schema wrote: its history inside, no
		// history items.
		out, err := e.ddb.Query(ctx, &dynamodb.QueryInput{TableName: aws.String(e.table), KeyConditionExpression: aws.String("PK = :pk"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": sv("CRED#" + id)}})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range out.Items {
			if sk := it["SK"].(*types.AttributeValueMemberS).Value; sk != "CRED" {
				if _, err := e.ddb.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(e.table),
					Key: map[string]types.AttributeValue{"PK": it["PK"], "SK": it["SK"]}}); err != nil {
					t.Fatal(err)
				}
			}
		}
		if _, err := e.ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(e.table),
			Key:              map[string]types.AttributeValue{"PK": sv("CRED#" + id), "SK": sv("CRED")},
			UpdateExpression: aws.String("SET history = :h"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":h": &types.AttributeValueMemberL{Value: []types.AttributeValue{
				entry("2026-01-01T00:00:00Z", "created"), entry("2026-01-02T00:00:00Z", "locked"), entry("2026-01-03T00:00:00Z", "unlocked")}}},
		}); err != nil {
			t.Fatal(err)
		}
		if got, want := historyActions(t, e, id, 2), []string{"unlocked", "locked", "created"}; !slices.Equal(got, want) {
			t.Errorf("legacy history = %v, want %v", got, want)
		}
		e.must(200, partner, "POST", "/v1/backup-credentials/"+id+"/lock", nil)
		e.must(200, partner, "POST", "/v1/backup-credentials/"+id+"/unlock", nil)
		want := []string{"unlocked", "locked", "unlocked", "locked", "created"}
		for _, limit := range []int{1, 2, 3, 50} {
			if got := historyActions(t, e, id, limit); !slices.Equal(got, want) {
				t.Errorf("limit %d: history = %v, want %v", limit, got, want)
			}
		}
	})
}

// TestTenThousandChanges: on moto, which enforces DynamoDB's 400 KB item
// limit, a credential with 10,000 history entries, changed by a caller whose
// display name is 2,000 characters long, still unlocks, rotates its keys,
// becomes the default, loses its projects and is deleted. (Under the old
// schema, with history inside the item, 200 such changes filled it.)
func TestTenThousandChanges(t *testing.T) {
	e := newEnv(t, "moto")
	ctx := context.Background()
	long := caller{sub: "u-long", role: "partner", orgs: []string{"org-1"}}
	long.name = strings.Repeat("N", 2000)
	id := e.create("org-1", "busy")
	e.must(200, long, "PUT", "/v1/backup-credentials/"+id+"/projects/p-1", map[string]any{"name": "shop"})
	e.must(200, long, "POST", "/v1/backup-credentials/"+id+"/lock", nil)
	// 9,996 more entries, as 9,996 changes would have left them (writing
	// them through the API would take minutes on moto).
	start := time.Now()
	var batch []types.WriteRequest
	flush := func() {
		if len(batch) == 0 {
			return
		}
		in := &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{e.table: batch}}
		for in.RequestItems[e.table] != nil {
			out, err := e.ddb.BatchWriteItem(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			in.RequestItems = out.UnprocessedItems
		}
		batch = nil
	}
	for i := range 9996 {
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second)
		batch = append(batch, types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{
			"PK": sv("CRED#" + id), "SK": sv(fmt.Sprintf("HIST#%019d#%08x", math.MaxInt64-at.UnixNano(), i)),
			"organizationId": sv("org-1"), "at": sv(at.Format(time.RFC3339)), "by": sv(strings.Repeat("N", 128)), "byId": sv("u-long"),
			"action": sv("updated"), "fields": &types.AttributeValueMemberL{Value: []types.AttributeValue{sv("s3Name")}}}}})
		if len(batch) == 25 {
			flush()
		}
	}
	flush()
	t.Logf("seeded 9,996 history items in %s", time.Since(start).Round(time.Millisecond))
	path := "/v1/backup-credentials/" + id
	step := time.Now()
	defer func() {
		t.Logf("the changes and reads after seeding took %s", time.Since(step).Round(time.Millisecond))
	}()
	e.must(200, long, "POST", path+"/unlock", nil)
	e.must(200, long, "PATCH", path, map[string]any{"s3AccessKeyId": "AKIAROTATED", "s3SecretKey": newSecret()})
	e.must(200, long, "POST", path+"/make-default", nil)
	e.must(204, long, "DELETE", path+"/projects/p-1", nil)
	r := e.must(200, long, "GET", path+"/history?limit=5", nil).json(t)
	got := r["data"].([]any)
	if len(got) != 5 || got[0].(map[string]any)["action"] != "project-dissociated" || r["nextCursor"] == nil {
		t.Errorf("newest history = %v", r)
	}
	if by := got[0].(map[string]any)["by"].(string); len(by) != 128 {
		t.Errorf("display name recorded with %d characters, want 128", len(by))
	}
	if c := e.must(200, long, "GET", path, nil).json(t); len(c["lastModifiedBy"].(string)) != 128 || c["version"] != 7.0 {
		t.Errorf("credential = %v", c)
	}
	e.must(204, long, "DELETE", path, nil)
	e.must(404, long, "GET", path+"/history", nil)
}

// TestStoredSchemaHasNoWorkarounds reads the items as stored: an empty
// projects map is empty (no never-empty entry), no CA is no attribute, and
// an organization without a default has no default attribute (not "").
// Whatever the in-process emulator needs stays in its adapter.
func TestStoredSchemaHasNoWorkarounds(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		raw := func(pk, sk string) map[string]types.AttributeValue {
			out, err := e.ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(e.table), ConsistentRead: aws.Bool(true),
				Key: map[string]types.AttributeValue{"PK": sv(pk), "SK": sv(sk)}})
			if err != nil {
				t.Fatal(err)
			}
			return out.Item
		}
		id := e.create("org-1", "plain")
		path := "/v1/backup-credentials/" + id
		e.must(200, partner, "PUT", path+"/projects/p-1", map[string]any{"name": "shop"})
		e.must(204, partner, "DELETE", path+"/projects/p-1", nil)
		e.must(200, partner, "PATCH", path, map[string]any{"s3CaCertificate": testCA, "s3SecretKey": newSecret()})
		e.must(200, partner, "PATCH", path, map[string]any{"s3CaCertificate": nil, "s3SecretKey": newSecret()})
		it := raw("CRED#"+id, "CRED")
		if m, ok := it["projects"].(*types.AttributeValueMemberM); !ok || len(m.Value) != 0 {
			t.Errorf("projects stored as %#v, want an empty map", it["projects"])
		}
		if v, ok := it["s3CaCertificate"]; ok {
			t.Errorf("no CA stored as %#v, want no attribute", v)
		}
		e.must(200, partner, "POST", path+"/make-default", nil)
		e.must(204, partner, "DELETE", path, nil)
		if v, ok := raw("ORG#org-1", "ORG")["defaultCredentialId"]; ok {
			t.Errorf("no default stored as %#v, want no attribute", v)
		}
		e.create("org-1", "next") // and the organization still works
		e.must(200, partner, "POST", "/v1/backup-credentials/"+e.create("org-1", "third")+"/make-default", nil)
	})
}

// TestMigrateProjectKeys: a table written before project IDs became
// platform-wide has pointers PROJ#<org>#<project>; the migration moves them,
// after which the project dissociates as any other, and a second run finds
// nothing to move.
func TestMigrateProjectKeys(t *testing.T) {
	e := newEnv(t, "moto")
	ctx := context.Background()
	id := e.create("org-1", "older")
	if _, err := e.ddb.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(e.table), Item: map[string]types.AttributeValue{
		"PK": sv("PROJ#org-1#p-old"), "SK": sv("PROJ"), "credentialId": sv(id), "organizationId": sv("org-1")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ddb.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(e.table),
		Key:                       map[string]types.AttributeValue{"PK": sv("CRED#" + id), "SK": sv("CRED")},
		UpdateExpression:          aws.String("SET projects.#p = :n, projectCount = projectCount + :one"),
		ExpressionAttributeNames:  map[string]string{"#p": "p-old"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":n": sv("shop"), ":one": &types.AttributeValueMemberN{Value: "1"}},
	}); err != nil {
		t.Fatal(err)
	}
	moved, conflicts, err := e.store.MigrateProjectKeys(ctx)
	if err != nil || moved != 1 || len(conflicts) != 0 {
		t.Fatalf("migrate: moved %d, conflicts %v, %v", moved, conflicts, err)
	}
	e.must(204, partner, "DELETE", "/v1/backup-credentials/"+id+"/projects/p-old", nil)
	for _, pk := range []string{"PROJ#org-1#p-old", "PROJ#p-old"} {
		out, err := e.ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(e.table),
			Key: map[string]types.AttributeValue{"PK": sv(pk), "SK": sv("PROJ")}})
		if err != nil || out.Item != nil {
			t.Errorf("pointer %s after dissociating: %v %v", pk, out.Item, err)
		}
	}
	if moved, _, err := e.store.MigrateProjectKeys(ctx); err != nil || moved != 0 {
		t.Errorf("second run moved %d (%v)", moved, err)
	}
	e.must(204, partner, "DELETE", "/v1/backup-credentials/"+id, nil)
}
