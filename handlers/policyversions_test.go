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
	r := anon.get("/privacy")
	embedded, err := dashboard.EmbeddedPolicy()
	if err != nil {
		t.Fatal(err)
	}
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
	if r := anon.get("/privacy?version=2"); r.status != http.StatusOK || !strings.Contains(r.body, "takes effect") || !strings.Contains(r.body, "Version two") {
		t.Fatalf("/privacy?version=2: %d", r.status)
	}
	for _, bad := range []string{"0", "x", "99"} {
		if r := anon.get("/privacy?version=" + bad); r.status != http.StatusBadRequest && r.status != http.StatusNotFound {
			t.Errorf("/privacy?version=%s: %d", bad, r.status)
		}
	}

	ts.advance(31 * 24 * time.Hour)
	owner.login("olivia@acme.test", "correct horse battery") // the session has timed out meanwhile
	r = anon.get("/privacy")
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
