package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// demoSTS answers AssumeRole as AWS STS would for any role, so role
// credentials work in make run with nothing else running: except that a
// role whose name starts with "denied" is refused (AccessDenied), to show
// the refusal. It checks no signature and no trust policy. It is part of the
// local API only, and the local API uses it only when no STS endpoint is
// configured.
type demoSTS struct{}

func (demoSTS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.Form.Get("Action") != "AssumeRole" {
		stsError(w, http.StatusBadRequest, "InvalidAction", "The local STS answers AssumeRole only.")
		return
	}
	arn := r.Form.Get("RoleArn")
	name := arn[strings.LastIndex(arn, "/")+1:]
	if strings.HasPrefix(name, "denied") {
		stsError(w, http.StatusForbidden, "AccessDenied", "User is not authorized to perform: sts:AssumeRole on resource: "+arn)
		return
	}
	secs, _ := strconv.Atoi(r.Form.Get("DurationSeconds"))
	if secs == 0 {
		secs = 3600
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials>`+
		`<AccessKeyId>ASIALOCAL%s</AccessKeyId><SecretAccessKey>local-%s</SecretAccessKey><SessionToken>local-session-%s</SessionToken>`+
		`<Expiration>%s</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>AROALOCAL:%s</AssumedRoleId><Arn>%s</Arn></AssumedRoleUser>`+
		`</AssumeRoleResult><ResponseMetadata><RequestId>local</RequestId></ResponseMetadata></AssumeRoleResponse>`,
		strings.ToUpper(hex.EncodeToString(b[:4])), hex.EncodeToString(b[4:]), hex.EncodeToString(b[:8]),
		time.Now().Add(time.Duration(secs)*time.Second).UTC().Format(time.RFC3339), escape(r.Form.Get("RoleSessionName")), escape(arn))
}

func stsError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>%s</Code>`+
		`<Message>%s</Message></Error><RequestId>local</RequestId></ErrorResponse>`, code, escape(msg))
}

func escape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
