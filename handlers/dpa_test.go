package handlers

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/convot/convot/models"
)

// Policy §14: the DPA's text is public at /dpa; only an owner accepts it
// for the organization (an agent gets 403, a stale version or a missing
// tick a 422), once per version; the acceptance names the version, the
// date and who, and the organization's auditor sees it at /auditor/dpa,
// in JSON too; another organization's auditor does not.
func TestOwnerAcceptsTheDPAAndAuditorsSeeIt(t *testing.T) {
	ts, owner := acmeOwner(t)
	anon := ts.browser(t)
	if r := anon.get("/dpa"); r.status != http.StatusOK || !strings.Contains(r.body, "Data Processing Agreement") || !strings.Contains(r.body, models.DPAVersion) {
		t.Fatalf("/dpa: %d", r.status)
	}
	agent := inviteAndJoin(t, ts, owner, "abe@acme.test", models.RoleAgent)
	auditor := inviteAndJoin(t, ts, owner, "audrey@acme.test", models.RoleAuditor)
	agent.get("/settings/dpa")
	if r := agent.post("/settings/dpa", url.Values{"version": {models.DPAVersion}, "agree": {"yes"}}); r.status != http.StatusForbidden {
		t.Fatalf("an agent accepts the DPA: %d, want 403", r.status)
	}
	page := owner.get("/settings/dpa")
	if page.status != http.StatusOK || !strings.Contains(page.body, "Accept version "+models.DPAVersion) {
		t.Fatalf("/settings/dpa: %d", page.status)
	}
	if r := owner.post("/settings/dpa", url.Values{"version": {"1999-01-01"}, "agree": {"yes"}}); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("a stale version: %d, want 422", r.status)
	}
	if r := owner.post("/settings/dpa", url.Values{"version": {models.DPAVersion}}); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("without the tick: %d, want 422", r.status)
	}
	var n int64
	ts.db.Model(&models.DPAAcceptance{}).Count(&n)
	if n != 0 {
		t.Fatal("a refused acceptance was recorded")
	}
	for range 2 {
		if r := owner.post("/settings/dpa", url.Values{"version": {models.DPAVersion}, "agree": {"yes"}}); r.status != http.StatusSeeOther {
			t.Fatalf("accept: %d %s", r.status, excerpt(r.body))
		}
	}
	var rows []models.DPAAcceptance
	ts.db.Find(&rows)
	if len(rows) != 1 || rows[0].Version != models.DPAVersion || len(rows[0].TextSHA256) != 64 || rows[0].AcceptedAt.IsZero() {
		t.Fatalf("acceptances %+v, want one of version %s", rows, models.DPAVersion)
	}
	owners := accountByEmail(t, ts, "olivia@acme.test")
	if rows[0].AcceptedByID != owners.ID {
		t.Fatalf("accepted by %d, want the owner %d", rows[0].AcceptedByID, owners.ID)
	}
	var ev models.AuditEvent
	if err := ts.db.Where("action = ?", "dpa.accepted").First(&ev).Error; err != nil || ev.ActorID != owners.ID {
		t.Fatalf("no audit event of the acceptance: %v %+v", err, ev)
	}
	view := auditor.get("/auditor/dpa")
	if view.status != http.StatusOK || !strings.Contains(view.body, models.DPAVersion) || !strings.Contains(view.body, owners.FullName) {
		t.Fatalf("/auditor/dpa: %d %s", view.status, excerpt(view.body))
	}
	if js := auditor.get("/auditor/dpa?format=json"); !strings.Contains(js.body, `"acceptances"`) || !strings.Contains(js.body, models.DPAVersion) {
		t.Fatalf("/auditor/dpa JSON: %s", excerpt(js.body))
	}
	if r := agent.get("/auditor/dpa"); r.status != http.StatusForbidden {
		t.Fatalf("an agent reads the auditor page: %d", r.status)
	}
	other := ts.browser(t)
	other.signup("oscar@other.test", "Other")
	if v := other.get("/auditor/dpa"); v.status != http.StatusOK || strings.Contains(v.body, owners.FullName) {
		t.Fatalf("another organization sees Acme's acceptance: %d", v.status)
	}
}
