package handlers

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/convot/convot/models"
	"github.com/convot/convot/workflows"
)

// Issue 15 item 4 (policy §9 "see our Data Deletion page"): a public page
// explains how a Customer closes its account (30 days' grace, then
// deletion) and how an End User asks for erasure, linking both flows; the
// served policy links to it; a signed-in owner starts the closure from it;
// an agent cannot.
func TestDataDeletionPage(t *testing.T) {
	ts, fc := billingServer(t)
	anon := ts.browser(t)
	r := anon.get("/data-deletion")
	for _, want := range []string{"30 days", "permanently deleted", `href="/privacy-requests"`, "ask for erasure", `href="/billing"`, `href="/login"`} {
		if r.status != http.StatusOK || !strings.Contains(r.body, want) {
			t.Fatalf("the Data Deletion page lacks %q: %d %s", want, r.status, excerpt(r.body))
		}
	}
	if strings.Contains(r.body, `action="/account/close"`) {
		t.Fatal("an anonymous visitor is offered the closure form")
	}
	if p := anon.get("/privacy"); !strings.Contains(p.body, "see our Data Deletion page ("+ts.URL+"/data-deletion)") &&
		!strings.Contains(p.body, `href="/data-deletion"`) {
		t.Fatalf("the policy does not link the Data Deletion page: %s", excerpt(p.body))
	}

	owner := ts.browser(t)
	owner.signup("olivia@deletion.test", "Deletion GmbH")
	_, org := billingOwner(t, ts, "olivia@deletion.test")
	page := owner.get("/data-deletion")
	if !strings.Contains(page.body, `action="/account/close"`) {
		t.Fatalf("the owner is not offered the closure: %s", excerpt(page.body))
	}
	if r := owner.post("/account/close", url.Values{"password": {"correct horse battery"}}); r.status != http.StatusSeeOther {
		t.Fatalf("closing from the Data Deletion page: %d %s", r.status, excerpt(r.body))
	}
	if got := fc.starts(); len(got) != 1 || got[0].OrganizationID != org.ID || got[0].Reason != workflows.CancellationClosedByOwner {
		t.Fatalf("cancellations started: %+v", got)
	}
	var after models.Organization
	if err := ts.db.First(&after, org.ID).Error; err != nil {
		t.Fatal(err)
	}
	if page := owner.get("/data-deletion"); after.Status == models.OrgCancelled && !strings.Contains(page.body, "already-closed") {
		t.Fatalf("a closed account's page: %s", excerpt(page.body))
	}
}
