package handlers

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/convot/convot/handlers/dashboard"
	"github.com/convot/convot/models"
)

// /privacy serves the version in effect with its last-updated date: the
// embedded text as version 1 until another is published; a published
// material change is announced in the dashboard from its publication until
// two weeks after it takes effect, and served at /privacy once in effect.
func TestPrivacyServesTheVersionInEffect(t *testing.T) {
	ts := newTestServer(t)
	anon := ts.browser(t)
	r := anon.get("/privacy?format=txt")
	embedded, err := dashboard.EmbeddedPolicy()
	if err != nil {
		t.Fatal(err)
	}
	cfg := ts.srv.Config
	embedded = models.FillPolicy(embedded, models.ContactAddresses{Privacy: cfg.PrivacyAddress, Security: cfg.SecurityAddress, Support: cfg.SupportAddress})
	// §9's "see our Data Deletion page" is served with the page's address.
	embedded = strings.ReplaceAll(embedded, "see our Data Deletion page", "see our Data Deletion page ("+strings.TrimSuffix(cfg.BaseURL.String(), "/")+"/data-deletion)")
	if r.status != http.StatusOK || !strings.HasPrefix(r.body, "Last updated: ") || !strings.Contains(r.body, "(version 1)") || !strings.HasSuffix(r.body, embedded) {
		t.Fatalf("/privacy before any publication: %d %q", r.status, r.body[:min(120, len(r.body))])
	}
	owner := ts.browser(t)
	owner.signup("olivia@acme.test", "Acme")
	if strings.Contains(owner.get("/").body, `class="banner"`) {
		t.Fatal("a banner without a change")
	}

	now := ts.clock().UTC()
	effective := now.Add(30 * 24 * time.Hour)
	v2 := models.PolicyVersion{Version: 2, Text: "Version two of the policy.", Summary: "Logs are now kept for six months.", Material: true, PublishedAt: now, EffectiveAt: effective}
	if err := ts.db.Create(&v2).Error; err != nil {
		t.Fatal(err)
	}
	ts.advance(2 * time.Minute) // past the banner's cache
	home := owner.get("/").body
	if !strings.Contains(home, `class="banner"`) || !strings.Contains(home, "Logs are now kept for six months.") || !strings.Contains(home, "/privacy?version=2") {
		t.Fatal("no banner for a published material change")
	}
	if r := anon.get("/privacy"); !strings.Contains(r.body, "(version 1)") {
		t.Fatal("/privacy serves a version before it takes effect")
	}
	if r := anon.get("/privacy?version=2&format=txt"); r.status != http.StatusOK || !strings.Contains(r.body, "takes effect") || !strings.Contains(r.body, "Version two") {
		t.Fatalf("/privacy?version=2: %d", r.status)
	}
	for _, bad := range []string{"0", "x", "99"} {
		if r := anon.get("/privacy?version=" + bad); r.status != http.StatusBadRequest && r.status != http.StatusNotFound {
			t.Errorf("/privacy?version=%s: %d", bad, r.status)
		}
	}

	ts.advance(31 * 24 * time.Hour)
	owner.login("olivia@acme.test", "correct horse battery") // the session has timed out meanwhile
	r = anon.get("/privacy?format=txt")
	if !strings.Contains(r.body, "Last updated: "+effective.Format("2 January 2006")+" (version 2)") || !strings.Contains(r.body, "Version two of the policy.") {
		t.Fatalf("/privacy after the effective date: %q", r.body)
	}
	if !strings.Contains(owner.get("/").body, "changed on") {
		t.Fatal("no banner just after the change took effect")
	}
	ts.advance(15 * 24 * time.Hour)
	owner.login("olivia@acme.test", "correct horse battery")
	if strings.Contains(owner.get("/").body, `class="banner"`) {
		t.Fatal("the banner outstays two weeks after the effective date")
	}
}

// The served policy names the contact addresses of the settings where the
// policy text has them (§9 rights and §12 children: privacy; §10
// vulnerabilities: security; §14 each), never the e-mail-obfuscation
// artefact; it is HTML with a heading per numbered section, and plain text
// on request (?format=txt or Accept: text/plain).
func TestPrivacyPolicyServesTheContactAddresses(t *testing.T) {
	ts := newConfiguredTestServer(t, func(s *Server) {
		s.Config.PrivacyAddress, s.Config.SecurityAddress, s.Config.SupportAddress = "dpo@example.test", "psirt@example.test", "help@example.test"
	})
	anon := ts.browser(t)
	wantLines := []string{
		"please contact us at dpo@example.test. We will respond within thirty (30) days",
		"please report it responsibly to psirt@example.test.",
		"please contact us at dpo@example.test and we will promptly delete it",
		"Privacy inquiries and data subject requests: dpo@example.test",
		"Security vulnerability reports: psirt@example.test",
		"General support: help@example.test",
	}
	check := func(name string, r response, contentType string) {
		t.Helper()
		if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), contentType) {
			t.Fatalf("%s: %d %s", name, r.status, r.header.Get("Content-Type"))
		}
		if strings.Contains(r.body, models.PolicyArtefact) || strings.Contains(r.body, "{{") {
			t.Errorf("%s holds %q or an unfilled placeholder", name, models.PolicyArtefact)
		}
		for _, line := range wantLines {
			if !strings.Contains(r.body, line) {
				t.Errorf("%s lacks %q", name, line)
			}
		}
	}

	page := anon.get("/privacy")
	check("/privacy", page, "text/html")
	for _, heading := range []string{
		`<h1>Privacy Policy</h1>`,
		`<h2 id="section-9">9. Your rights</h2>`,
		`<h2 id="section-14">14. Contact us</h2>`,
		`<h3 id="section-2-1">2.1 From Customers</h3>`,
		`<li>General support: help@example.test</li>`,
		`href="/privacy?format=txt"`,
	} {
		if !strings.Contains(page.body, heading) {
			t.Errorf("/privacy lacks %s", heading)
		}
	}
	if n := strings.Count(page.body, "<h2 "); n != 14 {
		t.Errorf("/privacy has %d section headings, want 14", n)
	}

	text := anon.get("/privacy?format=txt")
	check("/privacy?format=txt", text, "text/plain")
	if strings.Contains(text.body, "<") {
		t.Error("the plain text holds markup")
	}
	req, err := http.NewRequest(http.MethodGet, ts.URL+"/privacy", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/plain")
	resp, err := anon.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	check("/privacy with Accept: text/plain", anon.read(resp), "text/plain")
}
