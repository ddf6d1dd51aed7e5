package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/acme/backup-credentials/infra/local-api/localauth"
	"github.com/acme/backup-credentials/shared/app"
	"github.com/acme/backup-credentials/shared/backup"
	"github.com/acme/backup-credentials/shared/dynamo"
	"github.com/acme/backup-credentials/shared/httpapi"
	"github.com/acme/backup-credentials/shared/inmem"
	"github.com/acme/backup-credentials/shared/provider"
)

// pageServer serves the whole local site, as make run does: the real API on
// in-process storage, keys checked by the real checker against the demo S3
// endpoint.
func pageServer(t *testing.T) *httptest.Server {
	t.Helper()
	ctx := context.Background()
	ddb, err := inmem.DynamoDB(ctx, "page")
	if err != nil {
		t.Fatal(err)
	}
	// Roles are assumed through the local API's demo STS, as make run does:
	// the server's address first, then the service that names it.
	srv := httptest.NewUnstartedServer(nil)
	srv.Start()
	t.Cleanup(srv.Close)
	roles, err := localRoles(context.Background(), app.Config{CheckTimeout: 5 * time.Second}, srv.URL+"/local-sts")
	if err != nil {
		t.Fatal(err)
	}
	svc, err := backup.New(dynamo.New(ddb, "page"), backup.WithSecrets(inmem.NewSecretStore()),
		backup.WithChecker(provider.New([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, 5*time.Second, "")),
		backup.WithRoles(roles, LocalTrustPrincipal))
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("page-test-secret")
	api := &httpapi.API{Service: svc, Auth: localauth.Auth{Secret: secret, Claims: httpapi.DefaultClaims},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	h, err := site{api: api.Handler(), secret: secret, origins: parseOrigins(""), devTokens: true, demoSTS: true,
		demo: demoS3{accessKeyID: "LOCALDEMOKEY", secretKey: "local-demo-secret"}, logger: api.Logger}.handler()
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = h
	return srv
}

// browser starts headless Chromium. A machine without it fails the test:
// make test installs it (make chromium).
func browser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("CHROMIUM")
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path != "" {
			break
		}
		path, _ = exec.LookPath(name)
	}
	if path == "" {
		t.Fatal("Chromium is needed for the page test: `make chromium` (apt-get install -y chromium) installs it")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	alloc, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	t.Cleanup(cancelCtx)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("Chromium at %s does not start: %v", path, err)
	}
	return ctx
}

type action = chromedp.Action[chromedp.Void]

// step runs browser actions within a bounded time, failing the test with
// what was being done and what the page said.
func step(t *testing.T, ctx context.Context, what string, actions ...action) {
	t.Helper()
	bounded, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(bounded, actions...); err != nil {
		said, _ := eval[string](ctx, `[...document.querySelectorAll('.error')].map(e => e.textContent).filter(Boolean).join(' | ')`)
		shown, _ := eval[string](ctx, `document.body.innerText.slice(0, 600)`)
		t.Fatalf("%s: %v\nerrors on the page: %q\nthe page shows: %q", what, err, said, shown)
	}
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](ctx context.Context, js string) (T, error) {
	bounded, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return chromedp.Run(bounded, chromedp.Evaluate[T](js))
}

// until waits for a JavaScript condition to hold.
func until(js string) action {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Poll[bool](js, chromedp.WithPollingTimeout(10*time.Second))(ctx, t)
		return err
	})
}

// do runs a JavaScript statement, such as a click on a button found by a
// query a CSS selector cannot express.
func do(js string) action {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool]("("+js+", true)")(ctx, t)
		return err
	})
}

const row = `document.querySelector('tr[data-name="prod-backups"]')`

func button(action string) string {
	return row + `.querySelector('button[data-action="` + action + `"]')`
}

// screenshot saves a PNG under build/screenshots, and under docs/ too when
// UPDATE_SCREENSHOTS is set (the README shows those).
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if len(png) < 10_000 {
		t.Fatalf("screenshot %s is %d bytes: nothing rendered", name, len(png))
	}
	dirs := []string{"../../build/screenshots"}
	if os.Getenv("UPDATE_SCREENSHOTS") != "" {
		dirs = append(dirs, "../../docs")
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPageInBrowser walks the README's walk-through in the page, in headless
// Chromium, as a person would: sign in, bad keys, create, make default, lock,
// unlock, associate, dissociate, history, delete; then a reader's view.
func TestPageInBrowser(t *testing.T) {
	srv := pageServer(t)
	ctx := browser(t)
	endpoint := srv.URL + "/local-s3"
	pageSignIn(t, ctx, srv.URL)
	pageCreate(t, ctx, endpoint)
	pageRowActions(t, ctx)
	pageEditAndDelete(t, ctx)
	pageRole(t, ctx)
	pageReader(t, srv.URL, endpoint)
	pageSort(t, ctx, srv.URL, endpoint)
}

// pageSignIn opens the page, gets a development token for two
// organizations, and checks every control is labelled.
func pageSignIn(t *testing.T, ctx context.Context, site string) {
	step(t, ctx, "open the page and get a development token",
		chromedp.Navigate(site+"/"),
		chromedp.WaitVisible(chromedp.CSS("#dev-token-form")),
		chromedp.SetValue(chromedp.CSS("#dev-orgs"), "org-1, org-2"),
		chromedp.SetValue(chromedp.CSS("#dev-role"), "partner"),
		chromedp.Click(chromedp.CSS("#dev-token")),
		chromedp.WaitVisible(chromedp.CSS("#app")),
		until(`document.querySelector('#org').options.length === 3`))

	unlabelled, err := eval[[]string](ctx, `[...document.querySelectorAll('input, select, textarea, button')]
		.filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim())
		.map(e => e.id || e.outerHTML.slice(0, 60))`)
	if err != nil || len(unlabelled) > 0 {
		t.Errorf("controls without a label: %v", unlabelled)
	}

}

// pageCreate adds a credential through the dialog: a field error, keys the
// provider refuses (by Check keys and by saving), then the right keys.
func pageCreate(t *testing.T, ctx context.Context, endpoint string) {
	step(t, ctx, "open the add dialog",
		chromedp.Click(chromedp.CSS("#add")),
		chromedp.WaitVisible(chromedp.CSS("#edit-dialog[open]")),
		until(`document.activeElement.id === 'f-s3Name'`))
	fill := func(name, key, secret string) []action {
		return []action{
			chromedp.SetValue(chromedp.CSS("#f-organizationId"), "org-1"),
			chromedp.SetValue(chromedp.CSS("#f-s3Name"), name),
			chromedp.SetValue(chromedp.CSS("#f-s3AccessKeyId"), key),
			chromedp.SetValue(chromedp.CSS("#f-s3SecretKey"), secret),
			chromedp.SetValue(chromedp.CSS("#f-s3Endpoint"), endpoint),
			chromedp.SetValue(chromedp.CSS("#f-s3Region"), "us-east-1"),
		}
	}
	step(t, ctx, "a name too short is shown next to its field", append(fill("ab", "LOCALDEMOKEY", "local-demo-secret"),
		chromedp.Click(chromedp.CSS("#save")),
		until(`document.querySelector('#e-s3Name').textContent.includes('3 to 30')`),
		until(`document.querySelector('#f-s3Name').getAttribute('aria-invalid') === 'true'`))...)
	step(t, ctx, "Check keys with a wrong secret says Invalid S3 credentials", append(fill("prod-backups", "LOCALDEMOKEY", "not-the-secret"),
		chromedp.Click(chromedp.CSS("#check-keys")),
		until(`document.querySelector('#form-error').textContent.startsWith('Invalid S3 credentials')`))...)
	step(t, ctx, "saving with the wrong secret is refused the same way",
		chromedp.Click(chromedp.CSS("#save")),
		until(`document.querySelector('#form-error').textContent.startsWith('Invalid S3 credentials')`),
		until(`document.querySelector('#edit-dialog').open`))
	screenshot(t, ctx, "ui-add.png")
	step(t, ctx, "Check keys with the right secret says they are valid",
		chromedp.SetValue(chromedp.CSS("#f-s3SecretKey"), "local-demo-secret"),
		chromedp.Click(chromedp.CSS("#check-keys")),
		until(`document.querySelector('#form-ok').textContent.includes('valid')`))
	step(t, ctx, "save creates a row",
		chromedp.Click(chromedp.CSS("#save")),
		until(`!document.querySelector('#edit-dialog').open`),
		until(row+` !== null`),
		until(row+`.textContent.includes('LOCALDEMOKEY') && `+row+`.textContent.includes('healthy')`))

}

// pageRowActions makes the row the default, locks and unlocks it,
// associates and dissociates a project, and reads its history.
func pageRowActions(t *testing.T, ctx context.Context) {
	step(t, ctx, "make default marks it",
		do(button("make-default")+`.click()`),
		until(row+`.querySelector('.badge.default') !== null`))
	screenshot(t, ctx, "ui-list.png")
	if wide, err := eval[bool](ctx, `document.querySelector('.table-wrap').scrollWidth > document.querySelector('.table-wrap').clientWidth`); err != nil || wide {
		t.Errorf("at 1280 px the table is wider than the page (%v)", err)
	}

	step(t, ctx, "lock disables delete and says why",
		do(button("lock")+`.click()`),
		until(row+`.querySelector('.badge.locked')?.textContent === 'Locked: restores only'`),
		until(button("delete")+`.disabled && `+row+`.querySelector('.reason').textContent.startsWith('Locked')`),
		until(button("delete")+`.getAttribute('aria-describedby') === `+row+`.querySelector('.reason').id`))
	step(t, ctx, "unlock enables delete",
		do(button("unlock")+`.click()`),
		until(row+`.querySelector('.badge.locked') === null && !`+button("delete")+`.disabled`))

	step(t, ctx, "a project association disables delete",
		do(button("associate")+`.click()`),
		chromedp.WaitVisible(chromedp.CSS("#project-dialog[open]")),
		chromedp.SetValue(chromedp.CSS("#p-id"), "p-1"),
		chromedp.SetValue(chromedp.CSS("#p-name"), "shop"),
		chromedp.Click(chromedp.CSS("#project-save")),
		until(row+`.textContent.includes('shop (p-1)')`),
		until(button("delete")+`.disabled && `+row+`.querySelector('.reason').textContent.startsWith('Used by 1 project')`))
	step(t, ctx, "dissociate enables delete",
		do(button("dissociate")+`.click()`),
		until(`!`+row+`.textContent.includes('shop (p-1)') && !`+button("delete")+`.disabled`))

	step(t, ctx, "the history panel lists every change, newest first",
		do(button("history")+`.click()`),
		chromedp.WaitVisible(chromedp.CSS("#history-dialog[open]")),
		until(`document.querySelectorAll('#history-list li').length === 6`),
		until(`document.querySelector('#history-list li').textContent.startsWith('project-dissociated')`),
		until(`document.querySelector('#history-list li:last-child').textContent.startsWith('created')`),
		chromedp.Click(chromedp.CSS("#history-close")))

}

// pageEditAndDelete edits the row (asking for the secret when the region
// moves) and deletes it.
func pageEditAndDelete(t *testing.T, ctx context.Context) {
	step(t, ctx, "edit shows ID and organization read-only, never the secret, and asks for it to move the keys",
		do(button("edit")+`.click()`),
		chromedp.WaitVisible(chromedp.CSS("#edit-dialog[open]")),
		until(`document.querySelector('#f-id').readOnly && document.querySelector('#f-id').value.startsWith('bc_')`),
		until(`document.querySelector('#f-organizationId-ro').readOnly && document.querySelector('#f-organizationId-ro').value === 'org-1'`),
		until(`document.querySelector('#f-s3SecretKey').value === ''`),
		until(`!document.querySelector('#f-s3SecretKey').required && document.querySelector('#secret-hint').textContent.startsWith('Never shown')`),
		chromedp.SetValue(chromedp.CSS("#f-s3Region"), "eu-west-1"),
		do(`document.querySelector('#f-s3Region').dispatchEvent(new Event('input'))`),
		until(`document.querySelector('#f-s3SecretKey').required && document.querySelector('#f-s3SecretKey').getAttribute('aria-required') === 'true'`),
		until(`/^Required: the region changes, so the keys are checked where they will be used/.test(document.querySelector('#secret-hint').textContent)`),
		chromedp.SetValue(chromedp.CSS("#f-s3Region"), "us-east-1"),
		do(`document.querySelector('#f-s3Region').dispatchEvent(new Event('input'))`),
		until(`!document.querySelector('#f-s3SecretKey').required`),
		chromedp.SetValue(chromedp.CSS("#f-s3Region"), "eu-west-1"),
		do(`document.querySelector('#f-s3Region').dispatchEvent(new Event('input'))`),
		chromedp.Click(chromedp.CSS("#save")),
		until(`document.querySelector('#e-s3SecretKey').textContent.includes('is required')`),
		chromedp.SetValue(chromedp.CSS("#f-s3SecretKey"), "local-demo-secret"),
		chromedp.Click(chromedp.CSS("#save")),
		until(`!document.querySelector('#edit-dialog').open`),
		until(row+`.textContent.includes('eu-west-1')`))

	step(t, ctx, "delete removes the row",
		do(button("delete")+`.click()`),
		chromedp.WaitVisible(chromedp.CSS("#confirm-dialog[open]")),
		chromedp.Click(chromedp.CSS("#confirm-yes")),
		until(row+` === null`),
		until(`!document.querySelector('#empty').hidden`))

}

// pageRole adds a role credential: the dialog names what the trust policy
// needs, a refused role is said so, and the row shows the role.
func pageRole(t *testing.T, ctx context.Context) {
	step(t, ctx, "a role credential: the dialog asks for the role, says what its trust policy must name, and the row shows the role",
		chromedp.Click(chromedp.CSS("#add")),
		chromedp.WaitVisible(chromedp.CSS("#edit-dialog[open]")),
		chromedp.SetValue(chromedp.CSS("#f-organizationId"), "org-1"),
		chromedp.SetValue(chromedp.CSS("#f-authType"), "role"),
		do(`document.querySelector('#f-authType').dispatchEvent(new Event('change'))`),
		until(`document.querySelector('#f-s3AccessKeyId').closest('.field').hidden && !document.querySelector('#f-s3RoleArn').closest('.field').hidden`),
		until(`document.querySelector('#trust-hint').textContent.includes('`+LocalTrustPrincipal+`') && /sts:ExternalId = bcx-/.test(document.querySelector('#trust-hint').textContent)`),
		chromedp.SetValue(chromedp.CSS("#f-s3Name"), "role-backups"),
		chromedp.SetValue(chromedp.CSS("#f-s3RoleArn"), "arn:aws:iam::444455556666:role/denied-backups"),
		chromedp.SetValue(chromedp.CSS("#f-s3Endpoint"), "https://s3.eu-central-1.amazonaws.com"),
		chromedp.SetValue(chromedp.CSS("#f-s3Region"), "eu-central-1"),
		chromedp.Click(chromedp.CSS("#check-keys")),
		until(`document.querySelector('#form-error').textContent.startsWith('Invalid S3 credentials') && document.querySelector('#form-error').textContent.includes('AccessDenied')`),
		chromedp.SetValue(chromedp.CSS("#f-s3RoleArn"), "arn:aws:iam::444455556666:role/backups"),
		chromedp.SetValue(chromedp.CSS("#f-s3Endpoint"), "https://s3.eu-central-1.amazonaws.com"),
		chromedp.SetValue(chromedp.CSS("#f-s3Region"), "eu-central-1"),
		chromedp.Click(chromedp.CSS("#check-keys")),
		until(`document.querySelector('#form-ok').textContent.includes('may be assumed')`),
		chromedp.Click(chromedp.CSS("#save")),
		until(`!document.querySelector('#edit-dialog').open`),
		until(`(document.querySelector('tr[data-name="role-backups"]') || {textContent: ''}).textContent.includes('arn:aws:iam::444455556666:role/backups')`))

}

// devToken asks the local API's /local/token for a development token of
// org-1 with the role.
func devToken(t *testing.T, site, role string) string {
	resp, err := http.Post(site+"/local/token", "application/json", strings.NewReader(`{"organizations":["org-1"],"role":"`+role+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Token == "" {
		t.Fatalf("token: %v", err)
	}
	return out.Token
}

// pageReader signs a reader in, in a browser of its own, and checks it sees
// no write buttons, and that the page reads as cards at 390 px.
func pageReader(t *testing.T, site, endpoint string) {
	// A reader, in a browser context of its own, sees no write buttons.
	mint := func(role string) string { return devToken(t, site, role) }
	req, _ := http.NewRequest("POST", site+"/v1/backup-credentials", strings.NewReader(fmt.Sprintf(
		`{"organizationId":"org-1","s3Name":"prod-backups","s3AccessKeyId":"LOCALDEMOKEY","s3SecretKey":"local-demo-secret","s3Endpoint":%q,"s3Region":"us-east-1"}`, endpoint)))
	req.Header.Set("Authorization", "Bearer "+mint("partner"))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 201 {
		t.Fatalf("create for the reader: %v %v", resp, err)
	}
	reader := browser(t) // a browser of its own: no storage shared with the partner's
	step(t, reader, "a reader signs in with a pasted token",
		chromedp.Navigate(site+"/"),
		chromedp.WaitVisible(chromedp.CSS("#token-form")),
		chromedp.SetValue(chromedp.CSS("#token"), mint("user")),
		chromedp.Click(chromedp.CSS("#use-token")),
		chromedp.WaitVisible(chromedp.CSS("#app")),
		until(row+` !== null`))
	writable, err := eval[int](reader, `[...document.querySelectorAll('button.write')].filter(b => !b.hidden && b.offsetParent !== null).length`)
	if err != nil || writable != 0 {
		t.Errorf("a reader sees %d write buttons (%v)", writable, err)
	}
	if history, err := eval[bool](reader, button("history")+` !== null`); err != nil || !history {
		t.Error("a reader cannot open the history")
	}
	step(t, reader, "at 390 px wide the rows read as cards", chromedp.EmulateViewport(390, 844),
		until(`getComputedStyle(document.querySelector('thead')).position === 'absolute'`))
	screenshot(t, reader, "ui-narrow.png")
	if overflow, err := eval[bool](reader, `document.documentElement.scrollWidth > 390`); err != nil || overflow {
		t.Errorf("at 390 px the page is wider than the screen (%v)", err)
	}
}

// pageSort sorts the table by its column headers: each click asks the API
// for the order, the header says it with aria-sort, and only that one.
func pageSort(t *testing.T, ctx context.Context, site, endpoint string) {
	req, _ := http.NewRequest("POST", site+"/v1/backup-credentials", strings.NewReader(fmt.Sprintf(
		`{"organizationId":"org-1","s3Name":"alpha-backups","s3AccessKeyId":"LOCALDEMOKEY","s3SecretKey":"local-demo-secret","s3Endpoint":%q,"s3Region":"us-east-1"}`, endpoint)))
	req.Header.Set("Authorization", "Bearer "+devToken(t, site, "partner"))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 201 {
		t.Fatalf("create for sorting: %v %v", resp, err)
	}
	const rows = `[...document.querySelectorAll('#list tbody tr')].map(r => r.dataset.name).join(',')`
	sorted := func(field string) string { return `document.querySelector('th[data-sort="` + field + `"]')` }
	click := func(field string) action { return do(sorted(field) + `.querySelector('button').click()`) }
	only := func(field, dir string) string {
		return sorted(field) + `.getAttribute('aria-sort') === '` + dir + `' && document.querySelectorAll('th[aria-sort]').length === 1`
	}
	step(t, ctx, "the table starts by name, ascending",
		do(`document.querySelector('#org').dispatchEvent(new Event('change'))`),
		until(rows+` === 'alpha-backups,prod-backups,role-backups'`), until(only("name", "ascending")))
	step(t, ctx, "a second click on S3 name sorts descending",
		click("name"), until(rows+` === 'role-backups,prod-backups,alpha-backups'`), until(only("name", "descending")))
	step(t, ctx, "Endpoint sorts by endpoint: the local ones before AWS's",
		click("s3Endpoint"), until(rows+`.endsWith(',role-backups')`), until(only("s3Endpoint", "ascending")))
	step(t, ctx, "and the other way",
		click("s3Endpoint"), until(rows+`.startsWith('role-backups,')`), until(only("s3Endpoint", "descending")))
	step(t, ctx, "Last modified sorts by when each changed",
		click("lastModified"), until(rows+`.split(',').length === 3`), until(only("lastModified", "ascending")))
}

// TestOtherOriginsInBrowser plays, in Chromium, a web page on another
// origin that tries what the attack on the local API did (a development
// token as text/plain, for the backup engine and for a partner, then a
// list with a token it was given), and a UI on its own dev server at
// http://localhost:<port> that calls the API with a pasted token: the page
// learns nothing, the dev server works.
func TestOtherOriginsInBrowser(t *testing.T) {
	api := pageServer(t)
	ctx := browser(t)
	tok := devToken(t, api.URL, "partner")
	// attempts reads what each call lets the page see: "read <status>"
	// when the browser let it read the answer, "blocked" when not.
	attempts := fmt.Sprintf(`<!doctype html><title>page</title><script>
const api = %q, token = %q;
const read = (p) => p.then(r => "read " + r.status).catch(() => "blocked");
window.results = Promise.all([
  read(fetch(api + "/local/token", {method: "POST", headers: {"Content-Type": "text/plain"}, body: '{"organizations":["org-1"],"role":"backup-engine"}'})),
  read(fetch(api + "/local/token", {method: "POST", headers: {"Content-Type": "application/json"}, body: '{"organizations":["org-1"],"role":"partner"}'})),
  read(fetch(api + "/v1/backup-credentials", {headers: {"Authorization": "Bearer " + token}})),
]).then(r => r.join(","));
</script>`, api.URL, tok)
	serve := func(addr string) string {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, attempts)
		}))
		srv.Listener = l
		srv.Start()
		t.Cleanup(srv.Close)
		return srv.URL
	}
	results := func(page string) string {
		step(t, ctx, "open "+page, chromedp.Navigate(page))
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.results`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("%s: %v", page, err)
		}
		return got
	}
	// 127.0.0.2 is this machine too, but another origin than the default
	// allows: a web page as far as the local API knows.
	if got := results(serve("127.0.0.2:0") + "/"); got != "blocked,blocked,blocked" {
		t.Errorf("a page on another origin: %s, want every call blocked", got)
	}
	devServer := strings.Replace(serve("127.0.0.1:0"), "127.0.0.1", "localhost", 1)
	if got := results(devServer + "/"); got != "blocked,blocked,read 200" {
		t.Errorf("a UI dev server on %s: %s, want no development token and the list read", devServer, got)
	}
}
