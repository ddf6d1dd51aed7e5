package dynamo

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// An organization's external ID, which its role credentials' trust policies name.

const attrExternalID = "externalId"

// newExternalID is 128 random bits, as AWS advises for an external ID that
// a third party issues.
func newExternalID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "bcx-" + hex.EncodeToString(b[:])
}

// ExternalID returns the organization's external ID, making it on first
// use: one conditional write keeps the first one made, however many callers
// race to make it.
func (st *Store) ExternalID(ctx context.Context, org string) (string, error) {
	it, err := st.getItem(ctx, orgKey(org), attrExternalID)
	if err != nil {
		return "", failed("read the external ID of "+org, err)
	}
	if ext := getS(it, attrExternalID); ext != "" {
		return ext, nil
	}
	return st.makeExternalID(ctx, org)
}

// makeExternalID sets the organization's external ID unless it has one,
// and returns the one it has.
func (st *Store) makeExternalID(ctx context.Context, org string) (string, error) {
	ext := expression.Name(attrExternalID)
	ex := build(expression.NewBuilder().WithUpdate(expression.Set(ext, ext.IfNotExists(expression.Value(newExternalID())))))
	out, err := st.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: st.table, Key: orgKey(org),
		UpdateExpression: ex.Update(), ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
		ReturnValues: types.ReturnValueAllNew})
	if err != nil {
		return "", failed("make the external ID of "+org, err)
	}
	return getS(out.Attributes, attrExternalID), nil
}
