package handlers

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/convot/convot/models"
)

// fakeTemporalUI stands for the Temporal UI server: it answers every
// request with what it received, and sets its CSRF cookie as the UI does.
type fakeTemporalUI struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string
}

// uiStartScript is the inline script of the fake UI's page.
const uiStartScript = "\n  window.started = true;\n"

func newFakeTemporalUI(t *testing.T) *fakeTemporalUI {
	f := &fakeTemporalUI{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.seen = append(f.seen, r.Method+" "+r.URL.Path)
		f.mu.Unlock()
		http.SetCookie(w, &http.Cookie{Name: "_csrf", Value: "ui-token", Path: "/"})
		if strings.Contains(r.Header.Get("Accept"), "text/html") {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write([]byte(`<!doctype html><html><body><div id="svelte"><script>` + uiStartScript + `</script></div></body></html>`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"path": r.URL.Path, "cookie": r.Header.Get("Cookie"), "ui": "temporal"})
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeTemporalUI) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.seen...)
}

func proxiedUIServer(t *testing.T) (*testServer, *fakeTemporalUI) {
	t.Helper()
	ui := newFakeTemporalUI(t)
	upstream, _ := url.Parse(ui.URL)
	ts := newConfiguredTestServer(t, func(s *Server) { s.TemporalUIUpstream = upstream })
	return ts, ui
}

func (b *browser) do(method, path string, header map[string]string) response {
	b.t.Helper()
	req, err := http.NewRequest(method, b.ts.URL+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.read(resp)
}

// The Temporal UI, proxied at /temporal/, answers only a signed-in
// officer or auditor: a browser without a session is sent to sign in, the
// UI's API calls get 401, an agent 403, and none of them reaches the UI
// server. An officer's requests reach it, without Convot's cookies, read
// only; Convot's staff with two-factor authentication may act.
func TestTemporalUIIsProxiedToOfficersOnly(t *testing.T) {
	ts, ui := proxiedUIServer(t)
	html := map[string]string{"Accept": "text/html,application/xhtml+xml"}
	api := map[string]string{"Accept": "*/*"}
	const workflowPage = "/temporal/namespaces/default/workflows/dsr-1"
	const workflowAPI = "/temporal/api/v1/namespaces/default/workflows/dsr-1"

	anon := ts.browser(t)
	if r := anon.do("GET", workflowPage, html); r.status != http.StatusSeeOther || r.location != "/login" {
		t.Fatalf("page without a session: %d %q, want a redirect to /login", r.status, r.location)
	}
	for _, path := range []string{workflowAPI, "/temporal/api/v1/settings", "/temporal/_app/immutable/entry/start.js", "/temporal/"} {
		if r := anon.do("GET", path, api); r.status != http.StatusUnauthorized || strings.Contains(r.body, "temporal\"") {
			t.Fatalf("%s without a session: %d %s, want 401", path, r.status, excerpt(r.body))
		}
	}
	if r := anon.do("POST", workflowAPI+"/terminate", api); r.status != http.StatusUnauthorized {
		t.Fatalf("terminate without a session: %d, want 401", r.status)
	}

	owner := ts.browser(t)
	owner.signup("olivia@acme.test", "Acme")
	agent := inviteAndJoin(t, ts, owner, "adam@acme.test", "agent")
	if r := agent.do("GET", workflowAPI, api); r.status != http.StatusForbidden {
		t.Fatalf("agent: %d, want 403", r.status)
	}
	if n := len(ui.requests()); n != 0 {
		t.Fatalf("refused requests reached the UI server: %v", ui.requests())
	}

	r := owner.do("GET", workflowAPI+"?x=1", api)
	if r.status != http.StatusOK {
		t.Fatalf("owner: %d %s", r.status, excerpt(r.body))
	}
	var got map[string]string
	if err := json.Unmarshal([]byte(r.body), &got); err != nil || got["ui"] != "temporal" || got["path"] != workflowAPI {
		t.Fatalf("not proxied to the UI server's %s: %s", workflowAPI, r.body)
	}
	if strings.Contains(got["cookie"], "convot_session") || strings.Contains(got["cookie"], "convot_csrf") {
		t.Fatalf("Convot's cookies reached the UI server: %q", got["cookie"])
	}
	if c := r.header.Get("Set-Cookie"); !strings.Contains(c, "_csrf=ui-token") || !strings.Contains(c, "Path=/temporal/") {
		t.Fatalf("the UI's cookie is not kept under /temporal/: %q", c)
	}
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "connect-src 'self'") || len(r.header.Values("Content-Security-Policy")) != 1 {
		t.Fatalf("CSP of the proxied UI: %q", r.header.Values("Content-Security-Policy"))
	}
	// The UI sends the cookie back: the UI server gets it, not Convot's.
	r = owner.do("GET", "/temporal/api/v1/settings", api)
	if err := json.Unmarshal([]byte(r.body), &got); err != nil || !strings.Contains(got["cookie"], "_csrf=ui-token") || strings.Contains(got["cookie"], "convot_") {
		t.Fatalf("cookies sent to the UI server: %s", r.body)
	}
	// The page runs on the dashboard's origin: its CSP admits its own
	// inline start-up script by hash, and no other inline script.
	r = owner.do("GET", workflowPage, html)
	sum := sha256.Sum256([]byte(uiStartScript))
	csp := r.header.Get("Content-Security-Policy")
	if r.status != http.StatusOK || !strings.Contains(r.body, "window.started") ||
		!strings.Contains(csp, "script-src 'self' 'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"';") || strings.Contains(csp, "unsafe-inline'; style") {
		t.Fatalf("owner's page load: %d, CSP %q", r.status, csp)
	}
	// Read-only for an organization's officers: queries pass, actions do not.
	if r := owner.do("POST", workflowAPI+"/query/DsrProgress", api); r.status != http.StatusOK {
		t.Fatalf("owner's query: %d", r.status)
	}
	for _, path := range []string{workflowAPI + "/terminate", workflowAPI + "/signal/approve", "/temporal/api/v1/namespaces/default/workflows/a%2Fquery%2Fb/terminate"} {
		if r := owner.do("POST", path, api); r.status != http.StatusForbidden {
			t.Fatalf("owner's POST %s: %d, want 403", path, r.status)
		}
	}
	if r := owner.do("DELETE", "/temporal/api/v1/namespaces/default/schedules/x", api); r.status != http.StatusForbidden {
		t.Fatalf("owner's DELETE: %d, want 403", r.status)
	}

	auditor := inviteAndJoin(t, ts, owner, "aude@acme.test", "auditor")
	if r := auditor.do("GET", workflowAPI, api); r.status != http.StatusOK {
		t.Fatalf("auditor: %d", r.status)
	}

	// Convot's staff, with two-factor authentication, may act.
	sam := ts.browser(t)
	sam.signup("sam@convot.test", "Convot Staff")
	var acct models.Account
	if err := ts.db.Where("email_index = ?", ts.db.Keys.BlindIndex("sam@convot.test")).First(&acct).Error; err != nil {
		t.Fatal(err)
	}
	if _, err := ts.srv.Store.AddStaffMember(context.Background(), acct.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if r := sam.do("POST", workflowAPI+"/signal/approve", api); r.status != http.StatusForbidden {
		t.Fatalf("staff without TOTP signals: %d, want 403", r.status)
	}
	enrolMFA(t, ts, sam)
	if r := sam.do("POST", workflowAPI+"/signal/approve", api); r.status != http.StatusOK {
		t.Fatalf("staff with TOTP signals: %d %s", r.status, excerpt(r.body))
	}
	want := "POST " + workflowAPI + "/signal/approve"
	for _, seen := range ui.requests() {
		if strings.Contains(seen, "/terminate") || strings.Contains(seen, "DELETE") {
			t.Fatalf("a refused action reached the UI server: %v", ui.requests())
		}
	}
	if reqs := ui.requests(); reqs[len(reqs)-1] != want {
		t.Fatalf("last request at the UI server %q, want %q", reqs[len(reqs)-1], want)
	}
}
