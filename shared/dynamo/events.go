package dynamo

import (
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/acme/backup-credentials/shared/backup"
)

// Change events are made from the table's stream, one per committed
// change, from the images the stream holds of the item before and after:
//
//   - the credential item: created (no image before), a person's change
//     (its version moved: the images tell which change and what it changed),
//     a health result whose status moved;
//   - a deletion's history entry: the credential item is gone, and only the
//     entry says who deleted it and at which version;
//   - the history entry of a project's association or dissociation: the
//     project is an item of its own, and the entry names it, who moved it
//     and the credential's version after the move.
//
// The same images always make the same event, eventId included, so a
// redelivered stream record makes a duplicate a consumer can drop.

// attrByID is who made a credential's last change, by user ID, for events.
const attrByID = "lastModifiedById"

// EventOf returns the event a stream record announces, from the images of
// its item before (old) and after (new; either is nil when absent), or nil
// when the record announces nothing: an item that is not a credential, a
// recorded use, a health check that found what was known.
func EventOf(old, new item) (*backup.Event, error) {
	switch {
	case new != nil && getS(new, attrSK) == "CRED":
		return credentialEvent(old, new)
	case old == nil && new != nil && strings.HasPrefix(getS(new, attrSK), histPrefix):
		return entryEvent(new)
	}
	return nil, nil
}

// entryEvent announces a history entry that is a change's only record: a
// deletion, or a project's move (which carries the project).
func entryEvent(it item) (*backup.Event, error) {
	var detailType, what string
	switch getS(it, "action") {
	case backup.ActionDeleted:
		detailType, what = backup.EventDeleted, "deleted"
	case backup.ActionProjectAssociated:
		detailType, what = backup.EventProjectAssociated, "changed"
	case backup.ActionProjectDissociated:
		detailType, what = backup.EventProjectDissociated, "changed"
	default:
		return nil, nil
	}
	e, err := entryFrom(it)
	if err != nil {
		return nil, err
	}
	id := strings.TrimPrefix(getS(it, attrPK), "CRED#")
	v := getN(it, "version")
	ev := &backup.Event{DetailType: detailType, ID: eventID(id, v, what), CredentialID: id,
		OrganizationID: getS(it, "organizationId"), Version: v, At: e.At, By: e.By, ByID: e.ByID,
		Fields: []string{}, Changes: map[string]any{}}
	if what == "changed" {
		p, _ := it["project"].(*types.AttributeValueMemberM)
		if p == nil {
			return nil, nil // written before entries named their project
		}
		ev.Fields = []string{"projects"}
		ev.Changes = map[string]any{"project": backup.Project{ID: getS(p.Value, "id"), Name: getS(p.Value, "name")}}
	}
	return ev, nil
}

// eventID names a change of credential id at version v.
func eventID(id string, v int64, what string) string {
	return id + "/v" + strconv.FormatInt(v, 10) + "/" + what
}

// credentialEvent announces what moved between two images of a credential.
func credentialEvent(old, new item) (*backup.Event, error) {
	c, err := credentialFrom(new)
	if err != nil {
		return nil, err
	}
	ev := &backup.Event{CredentialID: c.ID, OrganizationID: c.OrganizationID, Version: c.Version,
		At: c.LastModified, By: c.LastModifiedBy, ByID: getS(new, attrByID), Fields: []string{}, Changes: map[string]any{}}
	if old == nil {
		ev.DetailType, ev.ID = backup.EventCreated, eventID(c.ID, c.Version, "created")
		ev.Fields = []string{"s3Name", "s3AccessKeyId", "s3SecretKey", "s3Endpoint", "s3Region", "isDefault", "isLocked"}
		ev.Changes = map[string]any{"s3Name": c.Name, "s3AccessKeyId": c.AccessKeyID, "s3Endpoint": c.Endpoint,
			"s3Region": c.Region, "isDefault": c.IsDefault, "isLocked": c.IsLocked}
		if c.IsRole() {
			ev.Fields = []string{"s3Name", "authType", "s3RoleArn", "s3Endpoint", "s3Region", "isDefault", "isLocked"}
			delete(ev.Changes, "s3AccessKeyId")
			ev.Changes["authType"], ev.Changes["s3RoleArn"] = c.AuthType, *c.RoleARN
		}
		if c.CACertificate != nil {
			ev.Fields = append(ev.Fields, "s3CaCertificate")
		}
		return ev, nil
	}
	was, err := credentialFrom(old)
	if err != nil {
		return nil, err
	}
	if was.Version == c.Version {
		if due := getS(new, "rotationDueFor"); due != "" && due != getS(old, "rotationDueFor") {
			at, _ := getTime(new, "rotationDueAt")
			ev.DetailType, ev.At, ev.By, ev.ByID = backup.EventRotationDue, at, "health-check", ""
			ev.ID = eventID(c.ID, c.Version, "rotation-due/"+due)
			ev.Fields, ev.Changes = []string{"rotationDue"}, map[string]any{"rotationDue": true, "keysChangedAt": due}
			return ev, nil
		}
		if was.Health.Status == c.Health.Status || c.Health.CheckedAt == nil {
			return nil, nil // a recorded use, or a check that found what was known
		}
		at := *c.Health.CheckedAt
		ev.DetailType, ev.At, ev.By, ev.ByID = backup.EventHealthChanged, at, "health-check", ""
		ev.ID = eventID(c.ID, c.Version, "health/"+at.Format(time.RFC3339)+"/"+c.Health.Status)
		ev.Fields = []string{"health"}
		ev.Changes = map[string]any{"health": c.Health, "previousStatus": was.Health.Status}
		return ev, nil
	}
	ev.ID = eventID(c.ID, c.Version, "changed")
	switch {
	case was.IsLocked != c.IsLocked:
		ev.DetailType = backup.EventUnlocked
		if c.IsLocked {
			ev.DetailType = backup.EventLocked
		}
		ev.Fields, ev.Changes = []string{"isLocked"}, map[string]any{"isLocked": c.IsLocked}
	case was.IsDefault != c.IsDefault:
		ev.DetailType = backup.EventDefaultChanged
		ev.Fields, ev.Changes = []string{"isDefault"}, map[string]any{"isDefault": c.IsDefault}
	default:
		ev.DetailType = backup.EventUpdated
		ev.Fields, ev.Changes = updated(old, new, was, c)
		if len(ev.Fields) == 0 {
			return nil, nil // a project's move: its history entry announces it
		}
	}
	return ev, nil
}

// updated names the fields an update changed, with the new values of those
// that are small and not secret.
func updated(old, new item, was, c *backup.Credential) ([]string, map[string]any) {
	fields, changes := []string{}, map[string]any{}
	for _, f := range []struct {
		name     string
		from, to any
		shown    bool
	}{
		{"s3Name", was.Name, c.Name, true},
		{"authType", was.AuthType, c.AuthType, true},
		{"s3RoleArn", aws.ToString(was.RoleARN), aws.ToString(c.RoleARN), true},
		{"s3AccessKeyId", was.AccessKeyID, c.AccessKeyID, true},
		{"s3SecretKey", getS(old, "secretVersion"), getS(new, "secretVersion"), false},
		{"s3Endpoint", was.Endpoint, c.Endpoint, true},
		{"s3Region", was.Region, c.Region, true},
		{"s3CaCertificate", aws.ToString(was.CACertificate), aws.ToString(c.CACertificate), false},
	} {
		if f.from != f.to {
			fields = append(fields, f.name)
			if f.shown {
				changes[f.name] = f.to
				if f.to == "" {
					changes[f.name] = nil // no longer has one: a role's ARN, a key
				}
			}
		}
	}
	return fields, changes
}
