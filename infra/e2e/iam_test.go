//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

// iamRecorder stands between the functions and moto. It records, for each
// function (told by the access key it signs with), the IAM actions its
// requests need by AWS's rules, which moto does not apply: a transaction
// needs the action of each of its items (there is no TransactWriteItems
// action), a batch write PutItem or DeleteItem per request, and a secret
// created with tags secretsmanager:TagResource too.
type iamRecorder struct {
	mu       sync.Mutex
	function map[string]string          // access key ID -> function
	needs    map[string]map[string]bool // function -> IAM actions
}

func newIAMRecorder() *iamRecorder {
	return &iamRecorder{function: map[string]string{}, needs: map[string]map[string]bool{}}
}

// keyOf is the access key ID a function signs with.
func keyOf(function string) string {
	return "AKIDE2E" + strings.ToUpper(strings.ReplaceAll(function, "-", ""))
}

// sign registers a function, and returns the environment that makes it
// sign with its own key.
func (r *iamRecorder) sign(function string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.function[keyOf(function)] = function
	return []string{"AWS_ACCESS_KEY_ID=" + keyOf(function), "AWS_SECRET_ACCESS_KEY=local"}
}

// Proxy returns a handler that records each request and passes it to
// target.
func (r *iamRecorder) proxy(target *url.URL) http.Handler {
	next := httputil.NewSingleHostReverseProxy(target)
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		r.record(req, body)
		next.ServeHTTP(w, req)
	})
}

var credentialScope = regexp.MustCompile(`Credential=([^/]+)/[^/]+/[^/]+/([^/]+)/`)

func (r *iamRecorder) record(req *http.Request, body []byte) {
	m := credentialScope.FindStringSubmatch(req.Header.Get("Authorization"))
	if m == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	fn, ok := r.function[m[1]]
	if !ok {
		return // a customer's keys (a check of an AWS endpoint), not the function's
	}
	if r.needs[fn] == nil {
		r.needs[fn] = map[string]bool{}
	}
	var on struct{ IndexName string }
	_ = json.Unmarshal(body, &on)
	for _, a := range actionsOf(m[2], req.Header.Get("X-Amz-Target"), body) {
		if on.IndexName != "" {
			a += " on an index"
		}
		r.needs[fn][a] = true
	}
}

// actionsOf returns the IAM actions a request needs, from the service of
// its signature, its X-Amz-Target (JSON protocols) or its Action (query
// protocol, STS).
func actionsOf(service, target string, body []byte) []string {
	op := target[strings.LastIndex(target, ".")+1:]
	if target == "" {
		if q, err := url.ParseQuery(string(body)); err == nil {
			op = q.Get("Action")
		}
	}
	var doc struct {
		TransactItems []map[string]json.RawMessage
		RequestItems  map[string][]map[string]json.RawMessage
		Tags          []json.RawMessage
	}
	_ = json.Unmarshal(body, &doc)
	itemAction := map[string]string{"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem",
		"Get": "GetItem", "PutRequest": "PutItem", "DeleteRequest": "DeleteItem"}
	var out []string
	switch {
	case service == "dynamodb" && (op == "TransactWriteItems" || op == "TransactGetItems"):
		for _, it := range doc.TransactItems {
			for kind := range it {
				out = append(out, "dynamodb:"+itemAction[kind])
			}
		}
	case service == "dynamodb" && op == "BatchWriteItem":
		for _, reqs := range doc.RequestItems {
			for _, it := range reqs {
				for kind := range it {
					out = append(out, "dynamodb:"+itemAction[kind])
				}
			}
		}
	case service == "secretsmanager" && op == "BatchGetSecretValue":
		// Authorized on "*", then each secret's GetSecretValue on its ARN.
		out = append(out, "secretsmanager:BatchGetSecretValue", "secretsmanager:GetSecretValue")
	case service == "sqs" && strings.HasSuffix(op, "Batch"):
		out = append(out, "sqs:"+strings.TrimSuffix(op, "Batch"))
	case service == "secretsmanager" && op == "CreateSecret" && len(doc.Tags) > 0:
		out = append(out, "secretsmanager:CreateSecret", "secretsmanager:TagResource")
	default:
		out = append(out, service+":"+op)
	}
	return out
}

// check fails t for every action a function needed that its policy in the
// template does not allow (a DynamoDB read of an index needs a statement
// on the table's indexes), and for a function that made no AWS call.
func (r *iamRecorder) check(t *testing.T, functions []string) {
	t.Helper()
	allowed := templateGrants(t)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, fn := range functions {
		logical := logicalID(fn)
		grants, ok := allowed[logical]
		if !ok {
			t.Errorf("functions/%s has no %s in template.yaml", fn, logical)
			continue
		}
		if len(r.needs[fn]) == 0 && fn != "validate" { // validating keys for an S3-compatible endpoint asks only the endpoint
			t.Errorf("%s made no AWS call through the recorder: the check saw nothing", fn)
		}
		for need := range r.needs[fn] {
			action, index := strings.CutSuffix(need, " on an index")
			if !slices.ContainsFunc(grants, func(g grant) bool {
				ok, _ := path.Match(g.action, action)
				return ok && (!index || g.indexes)
			}) {
				t.Errorf("%s calls %s, which %s's policy in template.yaml does not allow (it grants %v): on AWS the call is refused",
					fn, need, logical, grants)
			}
		}
	}
}

// logicalID is a function's logical ID in the template: functions/lock is
// LockFunction.
func logicalID(dir string) string {
	var b strings.Builder
	for _, part := range strings.Split(dir, "-") {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String() + "Function"
}
