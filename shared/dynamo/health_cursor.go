package dynamo

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/acme/backup-credentials/shared/backup"
)

// ScanCredentials returns up to limit credentials of every organization,
// starting after the position a previous call returned ("" for the start),
// and the position after them, "" when the table is done. Memory stays
// bounded by one page, however many credentials there are.
func (st *Store) ScanCredentials(ctx context.Context, after string, limit int) ([]*backup.Credential, string, error) {
	ex := build(expression.NewBuilder().WithFilter(expression.Name(attrSK).Equal(expression.Value("CRED"))).
		WithProjection(names(credentialAttributes...)))
	in := &dynamodb.ScanInput{
		TableName: st.table, Limit: aws.Int32(int32(limit)), FilterExpression: ex.Filter(),
		ProjectionExpression: ex.Projection(), ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
	}
	if after != "" {
		pk, sk, ok := strings.Cut(after, "\x00")
		if !ok {
			return nil, "", fmt.Errorf("scan credentials: bad position")
		}
		in.ExclusiveStartKey = key(pk, sk)
	}
	out, err := st.api.Scan(ctx, in)
	if err != nil {
		return nil, "", failed("scan credentials", err)
	}
	cs := make([]*backup.Credential, 0, len(out.Items))
	for _, it := range out.Items {
		c, err := credentialFrom(it)
		if err != nil {
			return nil, "", err
		}
		cs = append(cs, c)
	}
	next := ""
	if lek := out.LastEvaluatedKey; lek != nil {
		next = getS(lek, attrPK) + "\x00" + getS(lek, attrSK)
	}
	return cs, next, nil
}

func healthCursorKey() item { return key("HEALTH", "CURSOR") }

// HealthCursor returns where the last unfinished health run stopped, "" to
// start from the beginning.
func (st *Store) HealthCursor(ctx context.Context) (string, error) {
	it, err := st.getItem(ctx, healthCursorKey())
	if err != nil {
		return "", failed("read health cursor", err)
	}
	return getS(it, "position"), nil
}

// SaveHealthCursor records where a health run stopped ("" when it finished).
func (st *Store) SaveHealthCursor(ctx context.Context, position string) error {
	it := healthCursorKey()
	it["position"] = s(position)
	if _, err := st.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: st.table, Item: it}); err != nil {
		return failed("save health cursor", err)
	}
	return nil
}
