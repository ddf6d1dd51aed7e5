package dynamo

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/acme/backup-credentials/shared/backup"
)

// TestRoleAndRotationEvents: events of role credentials name the role and
// never a key; a switch from keys to a role says the key is gone; a recorded
// rotation crossing is Rotation Due, once per keys.
func TestRoleAndRotationEvents(t *testing.T) {
	arn := "arn:aws:iam::444455556666:role/backups"
	keys := sample()
	role := sample()
	role.AuthType, role.RoleARN, role.AccessKeyID, role.SecretVersion, role.Version = backup.AuthRole, &arn, "", "", 4

	created, err := EventOf(nil, credentialItem(role))
	if err != nil || created.DetailType != backup.EventCreated || created.Changes["s3RoleArn"] != arn ||
		created.Changes["s3AccessKeyId"] != nil || !slices.Contains(created.Fields, "authType") {
		t.Errorf("created = %+v, %v", created, err)
	}

	switched, err := EventOf(credentialItem(keys), credentialItem(role))
	if err != nil || switched.DetailType != backup.EventUpdated {
		t.Fatalf("switched = %+v, %v", switched, err)
	}
	raw, _ := json.Marshal(switched.Changes)
	if want := []string{"authType", "s3RoleArn", "s3AccessKeyId", "s3SecretKey"}; !slices.Equal(switched.Fields, want) ||
		string(raw) != `{"authType":"role","s3AccessKeyId":null,"s3RoleArn":"`+arn+`"}` {
		t.Errorf("switch: fields %v, changes %s", switched.Fields, raw)
	}

	before := credentialItem(keys)
	due := credentialItem(keys)
	due["rotationDueFor"], due["rotationDueAt"] = s("2026-11-25T10:00:00Z"), s("2027-02-24T10:00:00Z")
	ev, err := EventOf(before, due)
	if err != nil || ev == nil || ev.DetailType != backup.EventRotationDue || ev.ID != keys.ID+"/v3/rotation-due/2026-11-25T10:00:00Z" ||
		ev.At.Format("2006-01-02") != "2027-02-24" {
		t.Errorf("rotation due = %+v, %v", ev, err)
	}
	if again, err := EventOf(due, due); again != nil || err != nil {
		t.Errorf("an unchanged crossing announced again: %+v, %v", again, err)
	}
}
