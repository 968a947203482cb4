package handlers

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/convot/convot/models"
)

// Policy §11 with §1: a breach that touched Customers' accounts (data
// Convot holds as controller) is Convot's staff's to assess and notify, in
// the staff console, signed in with TOTP. The staff member's assessment
// and notice go to the incident's workflow naming them, and the
// deployment's audit log records them; a breach of End Users' data only is
// the Customer's (not found in the console); a Customer's owner and staff
// without TOTP are refused; bad input gets a 422 with a message.
func TestStaffActOnConvotIncidents(t *testing.T) {
	ts := newTestServer(t)
	fb := &fakeBreaches{}
	ts.srv.Breaches = fb
	owner := ts.browser(t)
	owner.signup("olivia@acme.test", "Acme")
	aware := ts.clock().Add(-2 * time.Hour)
	endUsers := incidentValues(aware)
	if r := owner.post("/incidents", endUsers); r.status != http.StatusSeeOther || r.location != "/incidents/1" {
		t.Fatalf("record end users' breach: %d %s", r.status, r.location)
	}
	accounts := incidentValues(aware)
	accounts["subject_kinds"] = []string{"customer"}
	accounts["nature"] = []string{"Operator passwords were phished"}
	if r := owner.post("/incidents", accounts); r.status != http.StatusSeeOther || r.location != "/incidents/2" {
		t.Fatalf("record accounts' breach: %d %s", r.status, r.location)
	}

	noMFA := staffWithoutTOTP(t, ts, "nomfa@convot.test")
	if r := noMFA.get("/staff/incidents"); r.status != http.StatusForbidden || !strings.Contains(r.body, "two-factor authentication") {
		t.Fatalf("staff without TOTP: %d, want 403", r.status)
	}
	for _, path := range []string{"/staff/incidents", "/staff/incidents/2"} {
		if r := owner.get(path); r.status != http.StatusForbidden {
			t.Fatalf("a Customer's owner reads %s: %d, want 403", path, r.status)
		}
	}
	if r := owner.post("/staff/incidents/2/assess", url.Values{"risk": {"low"}, "reason": {"x"}}); r.status != http.StatusForbidden {
		t.Fatalf("a Customer's owner assesses in the console: %d, want 403", r.status)
	}

	sam, samAcct := staffMember(t, ts, "sam@convot.test", "Convot Staff")
	list := sam.get("/staff/incidents")
	if list.status != http.StatusOK || !strings.Contains(list.body, `href="/staff/incidents/2"`) || strings.Contains(list.body, `href="/staff/incidents/1"`) {
		t.Fatalf("staff incidents: %d %s", list.status, excerpt(list.body))
	}
	for _, path := range []string{"/staff/incidents/1", "/staff/incidents/999", "/staff/incidents/x"} {
		if r := sam.get(path); r.status != http.StatusNotFound {
			t.Fatalf("%s: %d, want 404", path, r.status)
		}
	}
	page := sam.get("/staff/incidents/2")
	if page.status != http.StatusOK || !strings.Contains(page.body, "Operator passwords were phished") || !strings.Contains(page.body, "<code>recorded</code>") {
		t.Fatalf("staff incident: %d %s", page.status, excerpt(page.body))
	}
	if r := sam.post("/staff/incidents/2/assess", url.Values{"risk": {"catastrophic"}, "reason": {"x"}}); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "Choose the risk") {
		t.Fatalf("bad risk: %d", r.status)
	}
	if r := sam.post("/staff/incidents/2/assess", url.Values{"risk": {"high"}, "reason": {""}}); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "Give the reasons") {
		t.Fatalf("no reason: %d", r.status)
	}
	if len(fb.assessed) != 0 {
		t.Fatal("a bad assessment reached the workflow")
	}
	if r := sam.post("/staff/incidents/2/assess", url.Values{"risk": {"high"}, "reason": {"Passwords reused elsewhere"}}); r.status != http.StatusSeeOther {
		t.Fatalf("assess: %d %s", r.status, excerpt(r.body))
	}
	if len(fb.assessed) != 1 || fb.assessed[0].Risk != models.RiskHigh || fb.assessed[0].ActorID != samAcct.ID {
		t.Fatalf("assessment signals %+v, want high risk by the staff account %d", fb.assessed, samAcct.ID)
	}
	if r := sam.post("/staff/incidents/2/notice-sent", nil); r.status != http.StatusSeeOther {
		t.Fatalf("notice sent: %d %s", r.status, excerpt(r.body))
	}
	if len(fb.sent) != 1 || fb.sent[0].ActorID != samAcct.ID {
		t.Fatalf("notice signals %+v", fb.sent)
	}
	for _, action := range []string{"staff.incident_assessed", "staff.incident_notice_sent"} {
		var ev models.AuditEvent
		if err := ts.db.Where("action = ?", action).First(&ev).Error; err != nil {
			t.Fatalf("no audit event %s", action)
		}
		if ev.ActorID != samAcct.ID || ev.OrganizationID != 0 || ev.Target != "incident:2" {
			t.Fatalf("%s audit %+v: want the staff account %d in the deployment's log", action, ev, samAcct.ID)
		}
	}
}

// Staff record a breach of Convot's own (its Customers' accounts, found by
// Convot): it belongs to no organization (the breach workflow starts with
// organization 0), names the organizations concerned, is sealed under a
// key of its own, and no Customer's officer sees it. Bad input (end
// users' data, an unknown organization, no organizations) gets a 422 with
// a message and starts nothing.
func TestStaffRecordConvotIncident(t *testing.T) {
	ts := newTestServer(t)
	fb := &fakeBreaches{}
	ts.srv.Breaches = fb
	owner := ts.browser(t)
	owner.signup("olivia@acme.test", "Acme")
	other := ts.browser(t)
	other.signup("bo@beta.test", "Beta")
	sam, samAcct := staffMember(t, ts, "sam@convot.test", "Convot Staff")
	orgOf := func(email string) models.Organization {
		var a models.Account
		var o models.Organization
		if err := ts.db.Where("email_index = ?", ts.db.Keys.BlindIndex(email)).First(&a).Error; err != nil {
			t.Fatal(err)
		}
		if err := ts.db.First(&o, a.OrganizationID).Error; err != nil {
			t.Fatal(err)
		}
		return o
	}
	acme, beta := orgOf("olivia@acme.test"), orgOf("bo@beta.test")

	form := incidentValues(ts.clock().Add(-time.Hour))
	form["subject_kinds"] = []string{"customer"}
	form["nature"] = []string{"A support tool exposed operator emails"}
	form["organizations"] = []string{"all"}
	form["contact_name"] = []string{"Convot DPO"}
	form["contact_email"] = []string{"dpo@convot.test"}

	for name, change := range map[string]func(v url.Values){
		"end users":        func(v url.Values) { v["subject_kinds"] = []string{"end_user"} },
		"unknown org":      func(v url.Values) { v["organizations"] = []string{"999999"} },
		"not a number":     func(v url.Values) { v["organizations"] = []string{"acme"} },
		"no organizations": func(v url.Values) { v["organizations"] = []string{" , "} },
	} {
		bad := url.Values{}
		for k, v := range form {
			bad[k] = append([]string(nil), v...)
		}
		change(bad)
		if r := sam.post("/staff/incidents", bad); r.status != http.StatusUnprocessableEntity {
			t.Fatalf("%s: %d, want 422", name, r.status)
		}
	}
	if len(fb.starts) != 0 {
		t.Fatalf("bad input started %d workflows", len(fb.starts))
	}
	if r := owner.post("/staff/incidents", form); r.status != http.StatusForbidden {
		t.Fatalf("a Customer's owner records a Convot incident: %d, want 403", r.status)
	}

	form.Del("csrf_token") // the owner's, set by their post
	r := sam.post("/staff/incidents", form)
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/staff/incidents/") {
		t.Fatalf("record: %d %s %s", r.status, r.location, excerpt(r.body))
	}
	var inc models.Incident
	if err := ts.db.Order("id DESC").First(&inc).Error; err != nil {
		t.Fatal(err)
	}
	if inc.OrganizationID != 0 || inc.RecordedByID != samAcct.ID || inc.DataKeyID == 0 || inc.DataKeyID == acme.DataKeyID || inc.DataKeyID == beta.DataKeyID {
		t.Fatalf("incident %+v: want Convot's own, by the staff member, under a key of its own", inc)
	}
	// "all": Acme, Beta and the staff member's own organization.
	if len(inc.AffectedOrganizations) != 3 || !slices.Contains(inc.AffectedOrganizations, acme.ID) || !slices.Contains(inc.AffectedOrganizations, beta.ID) {
		t.Fatalf("affected organizations %v, want all three", inc.AffectedOrganizations)
	}
	if len(fb.starts) != 1 || fb.starts[0].IncidentID != inc.ID || fb.starts[0].OrganizationID != 0 {
		t.Fatalf("workflow starts %+v", fb.starts)
	}
	page := sam.get(r.location)
	if page.status != http.StatusOK || !strings.Contains(page.body, "A support tool exposed operator emails") || !strings.Contains(page.body, "about Convot itself") ||
		!strings.Contains(page.body, "Olivia Owner (Convot&#39;s staff)") || strings.Contains(page.body, "account:") {
		t.Fatalf("staff page: %d %s", page.status, excerpt(page.body))
	}
	if list := sam.get("/staff/incidents"); !strings.Contains(list.body, r.location) {
		t.Fatal("the staff list does not show Convot's own incident")
	}
	if list := owner.get("/incidents"); strings.Contains(list.body, "A support tool exposed") {
		t.Fatal("a Customer's officer sees Convot's own incident")
	}
	if got := owner.get(strings.TrimPrefix(r.location, "/staff")); got.status != http.StatusNotFound {
		t.Fatalf("a Customer's officer opens Convot's incident: %d, want 404", got.status)
	}
	var ev models.AuditEvent
	if err := ts.db.Where("action = ?", "staff.incident_recorded").First(&ev).Error; err != nil || ev.OrganizationID != 0 || ev.ActorID != samAcct.ID {
		t.Fatalf("audit %+v %v", ev, err)
	}
}
