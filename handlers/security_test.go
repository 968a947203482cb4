package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/convot/convot/models"
	"github.com/convot/convot/workflows"
)

// vulnRecorder records what the security domain asks of report workflows.
type vulnRecorder struct {
	mu      sync.Mutex
	starts  []workflows.VulnerabilityInput
	signals []string
	sigs    []workflows.VulnSignal
}

func (r *vulnRecorder) Start(_ context.Context, in workflows.VulnerabilityInput) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.starts = append(r.starts, in)
	return nil
}

func (r *vulnRecorder) Signal(_ context.Context, _ uint64, signal string, sig workflows.VulnSignal) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.signals, r.sigs = append(r.signals, signal), append(r.sigs, sig)
	return nil
}

// staffMember signs up email, makes it staff and signs it in with TOTP.
func staffMember(t *testing.T, ts *testServer, email, company string) (*browser, models.Account) {
	t.Helper()
	b := ts.browser(t)
	b.signup(email, company)
	var acct models.Account
	if err := ts.db.Where("email_index = ?", ts.db.Keys.BlindIndex(email)).First(&acct).Error; err != nil {
		t.Fatal(err)
	}
	if _, err := ts.srv.Store.AddStaffMember(context.Background(), acct.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	secret, _ := enrolMFA(t, ts, b)
	b.logout()
	if r := b.login(email, "correct horse battery"); r.location != "/login/mfa" {
		t.Fatalf("staff login: %d %s, want the second factor", r.status, r.location)
	}
	ts.advance(31 * time.Second)
	code, _ := totp.GenerateCode(secret, ts.clock())
	b.get("/login/mfa")
	if r := b.post("/login/mfa", url.Values{"code": {code}}); r.status != http.StatusSeeOther {
		t.Fatalf("second factor: %d", r.status)
	}
	return b, acct
}

// Policy §10, §14: mail to the security address becomes one vulnerability
// report however often Postmark delivers it, and its workflow is started
// (again on a redelivery, which joins it); without a workflow engine the
// mail is refused with 503 so that Postmark delivers it again. Staff see
// it in the console and triage and close it as themselves; a bad severity
// or outcome is a 422.
func TestSecurityAddressOpensAVulnerabilityReport(t *testing.T) {
	ts := newEmailServer(t, nil)
	ts.srv.Config.SecurityAddress = "security@convot.test"
	mail := strings.ReplaceAll(fixture(t, "privacy.json", nil), "privacy@convot.io", "security@convot.test")
	mail = strings.ReplaceAll(mail, "Please delete my data", "XSS in the widget")

	if r := ts.inbound(t, mail); r.status != http.StatusServiceUnavailable {
		t.Fatalf("without workflows: %d %s, want 503", r.status, r.body)
	}
	var n int64
	ts.db.Model(&models.VulnerabilityReport{}).Count(&n)
	if n != 0 {
		t.Fatal("a report was written although its workflow could not be started")
	}

	rec := &vulnRecorder{}
	ts.srv.VulnerabilityWorkflows = rec
	first := ts.inbound(t, mail)
	if first.status != http.StatusOK || !strings.Contains(first.body, `"vulnerability_report"`) {
		t.Fatalf("report: %d %s", first.status, first.body)
	}
	if again := ts.inbound(t, mail); again.status != http.StatusOK || !strings.Contains(again.body, "duplicate") {
		t.Fatalf("redelivery: %d %s", again.status, again.body)
	}
	var reports []models.VulnerabilityReport
	ts.db.Find(&reports)
	if len(reports) != 1 {
		t.Fatalf("%d reports, want 1", len(reports))
	}
	rep := reports[0]
	if rep.ReporterEmail != "carol@example.net" || rep.Subject != "XSS in the widget" || rep.Status != models.VulnReceived {
		t.Fatalf("report %+v", rep)
	}
	if len(rec.starts) != 2 || rec.starts[0].ReportID != rep.ID || rec.starts[1].ReportID != rep.ID {
		t.Fatalf("workflow starts %+v, want report %d twice (the second joins)", rec.starts, rep.ID)
	}
	if want := workflows.AddBusinessDays(rep.ReceivedAt, 2); !rep.AcknowledgeDueAt.Equal(want) {
		t.Fatalf("acknowledgement due %s, want %s", rep.AcknowledgeDueAt, want)
	}
	var convs int64
	ts.db.Model(&models.Conversation{}).Count(&convs)
	if convs != 0 {
		t.Fatal("mail to the security address became a conversation")
	}

	customer := ts.browser(t)
	customer.signup("olivia@acme.test", "Acme")
	if r := customer.get(fmt.Sprintf("/staff/security/%d", rep.ID)); r.status != http.StatusForbidden {
		t.Fatalf("a Customer's owner reads a vulnerability report: %d", r.status)
	}
	sam, samAcct := staffMember(t, ts.testServer, "sam@convot.test", "Convot Staff")
	if page := sam.get("/staff/security"); page.status != http.StatusOK || !strings.Contains(page.body, "XSS in the widget") {
		t.Fatalf("staff list: %d", page.status)
	}
	path := fmt.Sprintf("/staff/security/%d", rep.ID)
	if page := sam.get(path); !strings.Contains(page.body, "carol@example.net") {
		t.Fatal("the report page lacks the reporter")
	}
	if r := sam.post(path+"/triage", url.Values{"severity": {"apocalyptic"}}); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("bad severity: %d, want 422", r.status)
	}
	if r := sam.post(path+"/close", url.Values{"outcome": {"shrug"}}); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("bad outcome: %d, want 422", r.status)
	}
	if r := sam.post(path+"/explode", nil); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("unknown action: %d, want 422", r.status)
	}
	if r := sam.post(path+"/triage", url.Values{"severity": {"high"}}); r.status != http.StatusSeeOther {
		t.Fatalf("triage: %d %s", r.status, excerpt(r.body))
	}
	if r := sam.post(path+"/close", url.Values{"outcome": {"fixed"}}); r.status != http.StatusSeeOther {
		t.Fatalf("close: %d", r.status)
	}
	if len(rec.sigs) != 2 || rec.signals[0] != workflows.SignalVulnTriaged || rec.sigs[0].Severity != "high" || rec.sigs[0].ActorID != samAcct.ID ||
		rec.signals[1] != workflows.SignalVulnClosed || rec.sigs[1].Outcome != "fixed" || rec.sigs[1].ActorID != samAcct.ID {
		t.Fatalf("signals %v %+v, want triaged(high) and closed(fixed) by staff account %d", rec.signals, rec.sigs, samAcct.ID)
	}
	if r := sam.get("/staff/security/99999"); r.status != http.StatusNotFound {
		t.Fatalf("missing report: %d", r.status)
	}
}

// disclosureRecorder records what the register asks of disclosure
// workflows.
type disclosureRecorder struct {
	mu      sync.Mutex
	starts  []workflows.DisclosureInput
	signals []string
	actors  []uint64
}

func (r *disclosureRecorder) Start(_ context.Context, in workflows.DisclosureInput) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.starts = append(r.starts, in)
	return nil
}

func (r *disclosureRecorder) Signal(_ context.Context, _ uint64, signal string, sig workflows.DisclosureDecision) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.signals, r.actors = append(r.signals, signal), append(r.actors, sig.ActorID)
	return nil
}

// Policy §6: staff record a disclosure request in the register with who
// asked, the legal basis, the recipient, the categories and the deadline
// (each missing or bad one a 422), its workflow starts; the staff member
// who recorded it cannot approve it (four eyes), another one can; a
// refusal needs a reason. A Customer's owner cannot see the register.
func TestStaffRecordAndApproveADisclosure(t *testing.T) {
	ts := newTestServer(t)
	rec := &disclosureRecorder{}
	ts.srv.DisclosureWorkflows = rec
	owner := ts.browser(t)
	owner.signup("olivia@acme.test", "Acme")
	org := models.Organization{ID: accountByEmail(t, ts, "olivia@acme.test").OrganizationID}
	contact := models.Contact{OrganizationID: org.ID, Name: "Vera Visitor", Email: "vera@example.net"}
	if err := ts.db.Create(&contact).Error; err != nil {
		t.Fatal(err)
	}
	if r := owner.get("/staff/disclosures"); r.status != http.StatusForbidden {
		t.Fatalf("a Customer's owner reads the register: %d", r.status)
	}
	sam, samAcct := staffMember(t, ts, "sam@convot.test", "Convot Staff")
	pat, patAcct := staffMember(t, ts, "pat@convot.test", "Convot Officer")

	good := url.Values{"kind": {"legal_demand"}, "organization_id": {fmt.Sprint(org.ID)}, "requested_by": {"District Court of Exampleton"},
		"legal_basis": {"Court order 12/345"}, "recipient": {"District Court of Exampleton, registry"}, "recipient_address": {"registry@court.example"},
		"subject_kind": {"end_user"}, "subject_id": {fmt.Sprint(contact.ID)}, "categories": {"user.name", "user.contact.email"},
		"due_at": {"2030-01-31"}}
	with := func(k, v string) url.Values {
		out := url.Values{}
		for key, vals := range good {
			out[key] = vals
		}
		if v == "" {
			out.Del(k)
		} else {
			out.Set(k, v)
		}
		return out
	}
	sam.get("/staff/disclosures")
	for _, bad := range []url.Values{
		with("kind", "curiosity"), with("legal_basis", ""), with("recipient", ""), with("recipient_address", "not an address"),
		with("categories", ""), with("categories", "user.nonsense"), with("due_at", "soon"), with("organization_id", "x"),
		with("subject_id", "999999"), with("subject_kind", ""), with("notice_forbidden", "yes"),
	} {
		if r := sam.post("/staff/disclosures", bad); r.status != http.StatusUnprocessableEntity {
			t.Errorf("bad form %v: %d, want 422", bad, r.status)
		}
	}
	if len(rec.starts) != 0 {
		t.Fatal("a refused form started a workflow")
	}
	r := sam.post("/staff/disclosures", good)
	if r.status != http.StatusSeeOther {
		t.Fatalf("record: %d %s", r.status, excerpt(r.body))
	}
	var d models.DisclosureRequest
	if err := ts.db.First(&d).Error; err != nil {
		t.Fatal(err)
	}
	if d.CreatedByID != samAcct.ID || d.LegalBasis != "Court order 12/345" || d.Status != models.DisclosureReceived || len(d.Categories) != 2 {
		t.Fatalf("recorded %+v", d)
	}
	if len(rec.starts) != 1 || rec.starts[0].DisclosureID != d.ID || rec.starts[0].OrganizationID != org.ID {
		t.Fatalf("workflow starts %+v", rec.starts)
	}
	path := fmt.Sprintf("/staff/disclosures/%d", d.ID)
	sam.get(path)
	if r := sam.post(path+"/approve", nil); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("approval by the recorder: %d, want 422", r.status)
	}
	pat.get(path)
	if r := pat.post(path+"/refuse", url.Values{"reason": {""}}); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("refusal without reason: %d, want 422", r.status)
	}
	if r := pat.post(path+"/approve", nil); r.status != http.StatusSeeOther {
		t.Fatalf("approval: %d %s", r.status, excerpt(r.body))
	}
	if len(rec.signals) != 1 || rec.signals[0] != workflows.SignalDisclosureApprove || rec.actors[0] != patAcct.ID {
		t.Fatalf("signals %v by %v, want approve by %d", rec.signals, rec.actors, patAcct.ID)
	}
}
