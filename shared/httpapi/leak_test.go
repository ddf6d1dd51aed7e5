package httpapi_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// findLeaks returns, for each secret found in any text, where it was found.
func findLeaks(texts map[string]string, secrets []string) []string {
	var out []string
	for _, s := range secrets {
		for where, text := range texts {
			if strings.Contains(text, s) {
				out = append(out, fmt.Sprintf("secret %q in %s", s, where))
			}
		}
	}
	return out
}

// suiteLeaks searches every log line and every response of the suite for
// every secret key the suite used. The backup engine's 200 answers are the
// one place a secret belongs (its headers are still searched).
func suiteLeaks() []string {
	texts := map[string]string{"logs": logs.String()}
	for i, r := range recorded.all() {
		body := string(r.body)
		if strings.HasPrefix(r.path, "/internal/v1/") && r.status == 200 {
			body = ""
		}
		texts[fmt.Sprintf("response %d to %s %s", i, r.method, r.path)] = body + fmt.Sprint(r.header)
	}
	var secrets []string
	usedSecrets.Range(func(k, _ any) bool {
		secrets = append(secrets, k.(string))
		return true
	})
	if len(secrets) == 0 {
		return []string{"no secrets were used, so none could be looked for"}
	}
	return findLeaks(texts, secrets)
}

// tableLeaks searches every item of the env's table for the suite's secrets:
// metadata never holds a secret key.
func (e *env) tableLeaks() []string {
	out, err := e.ddb.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(e.table)})
	if err != nil {
		return []string{err.Error()}
	}
	texts := map[string]string{}
	for i, it := range out.Items {
		texts[fmt.Sprintf("item %d", i)] = fmt.Sprintf("%+v", it)
	}
	var secrets []string
	usedSecrets.Range(func(k, _ any) bool {
		secrets = append(secrets, k.(string))
		return true
	})
	return findLeaks(texts, secrets)
}

func TestFindLeaks(t *testing.T) {
	got := findLeaks(map[string]string{"log": `{"msg":"x","key":"wJalr/XUtnFEMI"}`, "body": "{}"}, []string{"wJalr/XUtnFEMI", "other"})
	if len(got) != 1 || !strings.Contains(got[0], "log") {
		t.Errorf("findLeaks = %v", got)
	}
}
