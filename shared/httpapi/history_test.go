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
		if v, ok := it["projects"]; ok || getN(it, "projectCount") != "0" {
			t.Errorf("projects stored as %#v (count %v), want no attribute (they are items of their own)", v, it["projectCount"])
		}
		for _, k := range [][2]string{{"CRED#" + id, "#PROJ#p-1"}, {"ORG#org-1", "PROJ#p-1"}} {
			if left := raw(k[0], k[1]); left != nil {
				t.Errorf("item %v left after dissociating: %v", k, left)
			}
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

// TestMigrateProjects: a table written before a project was keyed by its
// organization and held in items of its own has projects in a credential's
// project map and pointers keyed PROJ#<project> (naming the organization)
// or PROJ#<org>#<project>. Until the migration runs, the service reads
// them (the credential shows them, the backup engine resolves them, never
// across organizations) and its writes move what they touch; the migration
// moves the rest, one project per transaction, after which nothing of the
// old form is left and a second run moves nothing.
func TestMigrateProjects(t *testing.T) {
	e := newEnv(t, "moto")
	ctx := context.Background()
	id := e.create("org-1", "older")
	other := e.must(201, partner, "POST", "/v1/backup-credentials", createBody("org-2", "theirs")).json(t)["id"].(string)
	// org-1: p-old (platform-wide pointer), p-older (organization in the
	// key), p-gone (dissociated before the migration), p-kept; org-2 has its
	// own p-older under the platform-wide key.
	e.legacyMap(id, map[string]string{"p-old": "shop", "p-older": "blog", "p-gone": "gone", "p-kept": "kept"})
	e.legacyPointer("PROJ#p-old", id, "org-1")
	e.legacyPointer("PROJ#org-1#p-older", id, "")
	e.legacyPointer("PROJ#p-gone", id, "org-1")
	e.legacyPointer("PROJ#p-kept", id, "org-1")
	e.legacyMap(other, map[string]string{"p-older": "theirs"})
	e.legacyPointer("PROJ#p-older", other, "org-2")

	ps := e.must(200, partner, "GET", "/v1/backup-credentials/"+id, nil).json(t)["projects"].([]any)
	if len(ps) != 4 {
		t.Errorf("before the migration the credential shows %v", ps)
	}
	for _, c := range []struct{ org, project, want string }{{"org-1", "p-old", id}, {"org-1", "p-older", id}, {"org-2", "p-older", other}} {
		if got := e.must(200, engine, "GET", target(c.org, c.project), nil).json(t); got["credentialId"] != c.want {
			t.Errorf("before the migration %s/%s resolves to %v, want %s", c.org, c.project, got["credentialId"], c.want)
		}
	}
	e.must(404, engine, "GET", target("org-2", "p-old"), nil)
	// The service's writes move what they touch.
	e.must(204, partner, "DELETE", "/v1/backup-credentials/"+id+"/projects/p-gone", nil)
	e.must(200, partner, "PUT", "/v1/backup-credentials/"+id+"/projects/p-kept", map[string]any{"name": "renamed"})

	moved, left, err := e.store.MigrateProjects(ctx)
	if err != nil || moved != 3 || len(left) != 0 {
		t.Fatalf("migrate: moved %d, left %v, %v", moved, left, err)
	}
	e.expectNoLegacyProjects()
	got := e.must(200, partner, "GET", "/v1/backup-credentials/"+id, nil).json(t)
	names := []string{}
	for _, p := range got["projects"].([]any) {
		names = append(names, p.(map[string]any)["id"].(string)+"="+p.(map[string]any)["name"].(string))
	}
	if want := []string{"p-kept=renamed", "p-old=shop", "p-older=blog"}; !slices.Equal(names, want) {
		t.Errorf("after the migration: %v, want %v", names, want)
	}
	if got := e.must(200, engine, "GET", target("org-2", "p-older"), nil).json(t); got["credentialId"] != other {
		t.Errorf("after the migration org-2's p-older resolves to %v", got["credentialId"])
	}
	if moved, left, err := e.store.MigrateProjects(ctx); err != nil || moved != 0 || len(left) != 0 {
		t.Errorf("second run moved %d, left %v (%v)", moved, left, err)
	}
	for _, p := range []string{"p-old", "p-older", "p-kept"} {
		e.must(204, partner, "DELETE", "/v1/backup-credentials/"+id+"/projects/"+p, nil)
	}
	e.must(204, partner, "DELETE", "/v1/backup-credentials/"+id, nil)
}

// legacyPointer writes a project pointer as tables before v1.2 held it:
// SK PROJ, under pk, naming the credential and (when not "") the
// organization.
func (e *env) legacyPointer(pk, cred, org string) {
	it := map[string]types.AttributeValue{"PK": sv(pk), "SK": sv("PROJ"), "credentialId": sv(cred)}
	if org != "" {
		it["organizationId"] = sv(org)
	}
	if _, err := e.ddb.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(e.table), Item: it}); err != nil {
		e.t.Fatal(err)
	}
}

// legacyMap gives a credential the project map tables before v1.2 held.
func (e *env) legacyMap(cred string, projects map[string]string) {
	m := map[string]types.AttributeValue{}
	for p, name := range projects {
		m[p] = sv(name)
	}
	if _, err := e.ddb.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{TableName: aws.String(e.table),
		Key:                       map[string]types.AttributeValue{"PK": sv("CRED#" + cred), "SK": sv("CRED")},
		UpdateExpression:          aws.String("SET projects = :m, projectCount = :n"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":m": &types.AttributeValueMemberM{Value: m}, ":n": &types.AttributeValueMemberN{Value: fmt.Sprint(len(m))}},
	}); err != nil {
		e.t.Fatal(err)
	}
}

// expectNoLegacyProjects: no item of the table holds a project map or is a
// pointer of the old form.
func (e *env) expectNoLegacyProjects() {
	out, err := e.ddb.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(e.table)})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, it := range out.Items {
		if _, ok := it["projects"]; ok || getS(it, "SK") == "PROJ" {
			e.t.Errorf("left in the old form: %v %v", getS(it, "PK"), getS(it, "SK"))
		}
	}
}

func getS(it map[string]types.AttributeValue, k string) string {
	v, _ := it[k].(*types.AttributeValueMemberS)
	if v == nil {
		return ""
	}
	return v.Value
}

func getN(it map[string]types.AttributeValue, k string) string {
	v, _ := it[k].(*types.AttributeValueMemberN)
	if v == nil {
		return "0"
	}
	return v.Value
}

// TestHistoryAfterARefusedTransaction: the afternoon that broke make run.
// A delete writes a history entry with no fields; a refused create then
// cancels a transaction, which the in-process emulator rolls back from a
// copy of its table; the history and every later read still answer.
func TestHistoryAfterARefusedTransaction(t *testing.T) {
	forBackends(t, func(t *testing.T, e *env) {
		x := e.create("org-1", "x-first")
		a := e.create("org-1", "a-second")
		e.must(204, partner, "DELETE", "/v1/backup-credentials/"+a, nil)
		if r := e.do(partner, "POST", "/v1/backup-credentials", createBody("org-1", "X-FIRST")); r.status != 409 || r.code() != "name_taken" {
			t.Fatalf("a name like x-first: %d %s, want 409 name_taken", r.status, r.body)
		}
		e.must(200, partner, "GET", "/v1/backup-credentials/"+x+"/history", nil)
		e.must(200, partner, "GET", "/v1/backup-credentials?organizationId=org-1", nil)
		if _, _, err := e.store.ScanCredentials(context.Background(), "", 100); err != nil {
			t.Errorf("the health run's scan after the refused create: %v", err)
		}
	})
}
