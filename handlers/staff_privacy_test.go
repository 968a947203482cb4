package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/convot/convot/internal/obligations"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// staffWithoutTOTP signs up email and names it staff, without a second
// factor.
func staffWithoutTOTP(t *testing.T, ts *testServer, email string) *browser {
	t.Helper()
	b := ts.browser(t)
	b.signup(email, "Convot Staff")
	var acct models.Account
	if err := ts.db.Where("email_index = ?", ts.db.Keys.BlindIndex(email)).First(&acct).Error; err != nil {
		t.Fatal(err)
	}
	if _, err := ts.srv.Store.AddStaffMember(context.Background(), acct.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	return b
}

// Policy §9, §10: requests to Convot as controller (a Customer's about their
// own account) are decided by Convot's staff in the staff console, signed
// in with TOTP. Approving an erasure first shows what will be erased; the
// approval goes to the request's workflow naming the staff member, and the
// deployment's audit log records who approved. A staff account without
// TOTP and a Customer's owner are refused; an End User's request to a
// Customer is not Convot's to decide; bad input gets a 4xx with a message.
func TestStaffDecidesRequestsToConvot(t *testing.T) {
	p := newPrivacyTestServer(t)
	status, out := p.api(t, "/api/privacy-requests", map[string]any{"type": "erasure", "email": "olivia@acme.example"})
	if status != http.StatusAccepted {
		t.Fatalf("customer's erasure request: %d %v", status, out)
	}
	id := idOf(t, out)
	if r := p.request(t, id); r.Controller != models.ControllerConvot {
		t.Fatalf("request %d is addressed to %s, want convot", id, r.Controller)
	}
	status, out = p.api(t, "/api/privacy-requests/"+p.org.PublicKey, map[string]any{"type": "access", "email": "ada@example.com"})
	if status != http.StatusAccepted {
		t.Fatalf("end user's request: %d %v", status, out)
	}
	endUserID := idOf(t, out)
	status, out = p.api(t, "/api/privacy-requests", map[string]any{"type": "access", "email": "stranger@nowhere.test"})
	if status != http.StatusAccepted {
		t.Fatalf("a stranger's request to Convot: %d %v", status, out)
	}
	strangerID := idOf(t, out)
	// The workflow verified the requester, located the account and waits
	// for the officer.
	var olivia models.Account
	if err := p.db.Where("email_index = ?", p.db.Keys.BlindIndex("olivia@acme.example")).First(&olivia).Error; err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	req := p.request(t, id)
	if err := p.db.Model(&req).Select("status", "verified_at", "subject_id", "subject_ids", "subject_key_ids", "subject_owner").
		Updates(models.PrivacyRequest{Status: obligations.DsrAwaitingApproval, VerifiedAt: &now, SubjectID: olivia.ID,
			SubjectIDs: []uint64{olivia.ID}, SubjectKeyIDs: []uint64{olivia.DataKeyID}, SubjectOwner: true}).Error; err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("/staff/privacy/%d", id)

	// Staff without TOTP: refused, and nothing is sent.
	noMFA := staffWithoutTOTP(t, p.testServer, "nomfa@convot.test")
	if r := noMFA.get("/staff/privacy"); r.status != http.StatusForbidden || !strings.Contains(r.body, "two-factor authentication") {
		t.Fatalf("staff without TOTP: %d, want 403 asking for two-factor authentication", r.status)
	}
	if r := noMFA.post(base+"/approve", url.Values{"confirm": {"yes"}}); r.status != http.StatusForbidden {
		t.Fatalf("approve without TOTP: %d, want 403", r.status)
	}
	// A Customer's owner: no console.
	for _, path := range []string{"/staff/privacy", base, base + "/approve"} {
		if r := p.owner.get(path); r.status != http.StatusForbidden {
			t.Fatalf("a Customer's owner reads %s: %d, want 403", path, r.status)
		}
	}
	if r := p.owner.post(base+"/approve", url.Values{"confirm": {"yes"}}); r.status != http.StatusForbidden {
		t.Fatalf("a Customer's owner approves: %d, want 403", r.status)
	}
	if n := len(p.flows.signalled(workflows.SignalDsrApprove)); n != 0 {
		t.Fatalf("%d approvals sent by people who may not decide", n)
	}

	sam, samAcct := staffMember(t, p.testServer, "sam@convot.test", "Convot Staff")
	list := sam.get("/staff/privacy")
	if list.status != http.StatusOK || !strings.Contains(list.body, fmt.Sprintf("dsr-%d", id)) || !strings.Contains(list.body, "erasure") ||
		!strings.Contains(list.body, "days left") {
		t.Fatalf("staff list: %d %s", list.status, excerpt(list.body))
	}
	if strings.Contains(list.body, fmt.Sprintf("dsr-%d<", endUserID)) {
		t.Fatal("the staff list shows an End User's request to a Customer")
	}
	if !strings.Contains(list.body, fmt.Sprintf("dsr-%d<", strangerID)) {
		t.Fatal("the staff list misses the request of someone no Customer knows")
	}
	if r := sam.get(fmt.Sprintf("/staff/privacy/%d", strangerID)); r.status != http.StatusOK || !strings.Contains(r.body, "access") {
		t.Fatalf("a stranger's request: %d", r.status)
	}
	if r := sam.get("/staff/privacy?status=open&type=erasure"); r.status != http.StatusOK || !strings.Contains(r.body, fmt.Sprintf("dsr-%d", id)) {
		t.Fatalf("filtered list: %d", r.status)
	}
	if r := sam.get("/staff/privacy?status=bogus"); r.status != http.StatusBadRequest || !strings.Contains(r.body, "Unknown status") {
		t.Fatalf("unknown status filter: %d, want 400", r.status)
	}
	if r := sam.get("/staff/privacy?type=bogus"); r.status != http.StatusBadRequest || !strings.Contains(r.body, "Unknown type") {
		t.Fatalf("unknown type filter: %d, want 400", r.status)
	}
	page := sam.get(base)
	if page.status != http.StatusOK || !strings.Contains(page.body, "Steps") || !strings.Contains(page.body, "Review and approve") {
		t.Fatalf("staff detail: %d %s", page.status, excerpt(page.body))
	}
	for _, path := range []string{fmt.Sprintf("/staff/privacy/%d", endUserID), "/staff/privacy/99999", "/staff/privacy/abc"} {
		if r := sam.get(path); r.status != http.StatusNotFound {
			t.Fatalf("%s: %d, want 404", path, r.status)
		}
	}
	if r := sam.post(fmt.Sprintf("/staff/privacy/%d/reject", endUserID), url.Values{"reason": {"not ours"}}); r.status != http.StatusNotFound {
		t.Fatalf("rejecting an End User's request to a Customer: %d, want 404", r.status)
	}

	// Bad input: a clear 4xx, nothing sent.
	sam.get(base)
	if r := sam.post(base+"/reject", url.Values{"reason": {"  "}}); r.status != http.StatusBadRequest || !strings.Contains(r.body, "Say why the request is rejected") {
		t.Fatalf("reject without a reason: %d %s", r.status, excerpt(r.body))
	}
	if r := sam.post(base+"/extend", url.Values{"months": {"7"}, "reason": {"complex"}}); r.status != http.StatusBadRequest || !strings.Contains(r.body, "Extend by 1 or 2 months") {
		t.Fatalf("extend by 7 months: %d %s", r.status, excerpt(r.body))
	}
	if r := sam.post(base+"/extend", url.Values{"months": {"two"}, "reason": {"complex"}}); r.status != http.StatusBadRequest {
		t.Fatalf("extend by a word: %d", r.status)
	}
	if r := sam.post(base+"/approve", nil); r.status != http.StatusBadRequest || !strings.Contains(r.body, "confirm there") {
		t.Fatalf("approve without confirming: %d %s", r.status, excerpt(r.body))
	}
	if n := len(p.flows.signals); n != 0 {
		t.Fatalf("%d signals sent on bad input", n)
	}

	// The confirmation shows what will be erased; the approval names sam.
	confirm := sam.get(base + "/approve")
	if confirm.status != http.StatusOK || !strings.Contains(confirm.body, "What will be erased") || !strings.Contains(confirm.body, "rows in all") {
		t.Fatalf("approval confirmation: %d %s", confirm.status, excerpt(confirm.body))
	}
	if r := sam.post(base+"/approve", url.Values{"confirm": {"yes"}}); r.status != http.StatusSeeOther || r.location != base+"?done=approved" {
		t.Fatalf("approve: %d %s %s", r.status, r.location, excerpt(r.body))
	}
	sent := p.flows.signalled(workflows.SignalDsrApprove)
	if len(sent) != 1 || sent[0].ID != id {
		t.Fatalf("approvals sent: %+v", sent)
	}
	if d, ok := sent[0].Arg.(workflows.DsrDecisionSignal); !ok || d.ByAccountID != samAcct.ID {
		t.Fatalf("the approval names %+v, want the staff account %d", sent[0].Arg, samAcct.ID)
	}
	var ev models.AuditEvent
	if err := p.db.Where("action = ? AND target = ?", "privacy.approved", fmt.Sprintf("privacy_request:%d", id)).First(&ev).Error; err != nil {
		t.Fatal("no audit event for the staff approval")
	}
	if ev.ActorID != samAcct.ID || ev.OrganizationID != 0 {
		t.Fatalf("approval audit %+v: want actor %d in the deployment's log (organization 0)", ev, samAcct.ID)
	}

	// Extend once, with a reason; the second time is refused.
	if r := sam.post(base+"/extend", url.Values{"months": {"2"}, "reason": {"The erasure spans billing records."}}); r.status != http.StatusSeeOther {
		t.Fatalf("extend: %d %s", r.status, excerpt(r.body))
	}
	p.db.Model(&models.PrivacyRequest{}).Where("id = ?", id).Update("extended", true) // the workflow records it
	if r := sam.post(base+"/extend", url.Values{"months": {"1"}, "reason": {"again"}}); r.status != http.StatusConflict {
		t.Fatalf("second extension: %d, want 409", r.status)
	}
	// With the workflow service down, nothing is recorded.
	p.flows.down = true
	if r := sam.post(base+"/reject", url.Values{"reason": {"Identity not established."}}); r.status != http.StatusServiceUnavailable {
		t.Fatalf("reject with the workflow service down: %d, want 503", r.status)
	}
	var n int64
	p.db.Model(&models.AuditEvent{}).Where("action = ? AND target = ?", "privacy.rejected", fmt.Sprintf("privacy_request:%d", id)).Count(&n)
	if n != 0 {
		t.Fatal("a rejection was recorded that never reached the workflow")
	}
}

// Issue 15 item 3 for requests to Convot as controller: the scanner found
// an operator's message quoting the erased Customer's address; the staff
// member sees the remnant's text, redacts it (text gone, marker stays, the
// deployment's audit log names the staff member and the row, not the
// text) and retries the failed step. Retry is refused while nothing
// failed; a row the scanner did not find is refused; a closed request
// cannot be redacted.
func TestStaffRedactsRemnantsAndRetries(t *testing.T) {
	p := newPrivacyTestServer(t)
	status, out := p.api(t, "/api/privacy-requests", map[string]any{"type": "erasure", "email": "olivia@acme.example"})
	if status != http.StatusAccepted {
		t.Fatalf("customer's erasure request: %d %v", status, out)
	}
	id := idOf(t, out)
	conv := models.Conversation{OrganizationID: p.org.ID, ContactID: p.contact.ID, DataKeyID: p.contact.DataKeyID, Channel: "widget", Status: "open", LastMessageAt: time.Now()}
	if err := p.db.Create(&conv).Error; err != nil {
		t.Fatal(err)
	}
	remnant := models.Message{OrganizationID: p.org.ID, ConversationID: conv.ID, DataKeyID: p.contact.DataKeyID, AuthorType: "operator",
		Body: "Escalated to olivia@acme.example for approval", CreatedAt: time.Now()}
	kept := models.Message{OrganizationID: p.org.ID, ConversationID: conv.ID, DataKeyID: p.contact.DataKeyID, AuthorType: "contact", Body: "Thanks", CreatedAt: time.Now()}
	for _, m := range []*models.Message{&remnant, &kept} {
		if err := p.db.Create(m).Error; err != nil {
			t.Fatal(err)
		}
	}
	evidence := fmt.Sprintf(`{"clean":false,"findings_total":1,"findings":[{"kind":"identifier_found","model":"Message","column":"body","row_id":%d}]}`, remnant.ID)
	if err := p.db.Model(&models.PrivacyRequest{}).Where("id = ?", id).Updates(map[string]any{
		"organization_id": p.org.ID, "status": obligations.DsrInProgress, "step": "scan", "evidence": evidence}).Error; err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("/staff/privacy/%d", id)
	sam, samAcct := staffMember(t, p.testServer, "sam@convot.test", "Convot Staff")

	page := sam.get(base)
	if page.status != http.StatusOK || !strings.Contains(page.body, "olivia@acme.example for approval") || !strings.Contains(page.body, "Redact this text") ||
		strings.Contains(page.body, "Retry a failed step") {
		t.Fatalf("staff request page: %d %s", page.status, excerpt(page.body))
	}
	if r := sam.post(base+"/retry", nil); r.status != http.StatusConflict || !strings.Contains(r.body, "nothing to retry") {
		t.Fatalf("retry with nothing failed: %d", r.status)
	}
	if r := sam.post(base+"/redact", url.Values{"model": {"Message"}, "column": {"body"}, "row": {fmt.Sprint(kept.ID)}}); r.status != http.StatusBadRequest {
		t.Fatalf("redacting a row the scanner did not find: %d", r.status)
	}
	if r := p.owner.post(base+"/redact", url.Values{"model": {"Message"}, "column": {"body"}, "row": {fmt.Sprint(remnant.ID)}}); r.status != http.StatusForbidden {
		t.Fatalf("a Customer's owner redacts in the console: %d, want 403", r.status)
	}
	if r := sam.post(base+"/redact", url.Values{"model": {"Message"}, "column": {"body"}, "row": {fmt.Sprint(remnant.ID)}}); r.status != http.StatusSeeOther || r.location != base+"?done=redacted" {
		t.Fatalf("redact: %d %s %s", r.status, r.location, excerpt(r.body))
	}
	var m models.Message
	if err := p.db.First(&m, remnant.ID).Error; err != nil || m.Body != store.RedactionMarker {
		t.Fatalf("the remnant: %q %v", m.Body, err)
	}
	var other models.Message
	if err := p.db.First(&other, kept.ID).Error; err != nil || other.Body != "Thanks" {
		t.Fatalf("another message changed: %q %v", other.Body, err)
	}
	var ev models.AuditEvent
	if err := p.db.Where("action = ? AND target = ?", "privacy.redacted", fmt.Sprintf("privacy_request:%d", id)).First(&ev).Error; err != nil {
		t.Fatal("no audit record of the redaction")
	}
	if ev.ActorID != samAcct.ID || ev.OrganizationID != 0 || ev.Detail != fmt.Sprintf("Message.body row %d", remnant.ID) {
		t.Fatalf("redaction audit %+v", ev)
	}
	page = sam.get(base + "?done=redacted")
	if strings.Contains(page.body, "olivia@acme.example for approval") || !strings.Contains(page.body, "redacted") {
		t.Fatalf("after redaction: %s", excerpt(page.body))
	}

	p.flows.progress.AwaitingRetry = true
	if page := sam.get(base); !strings.Contains(page.body, "Retry a failed step") {
		t.Fatal("a failed step offers no retry")
	}
	if r := sam.post(base+"/retry", nil); r.status != http.StatusSeeOther || r.location != base+"?done=retried" {
		t.Fatalf("retry: %d %s", r.status, excerpt(r.body))
	}
	sent := p.flows.signalled(workflows.SignalDsrRetry)
	if len(sent) != 1 || sent[0].ID != id {
		t.Fatalf("retries sent: %+v", sent)
	}
	if d, ok := sent[0].Arg.(workflows.DsrDecisionSignal); !ok || d.ByAccountID != samAcct.ID {
		t.Fatalf("the retry names %+v, want %d", sent[0].Arg, samAcct.ID)
	}

	p.db.Model(&models.PrivacyRequest{}).Where("id = ?", id).Update("status", obligations.DsrCompleted)
	if r := sam.post(base+"/redact", url.Values{"model": {"Message"}, "column": {"body"}, "row": {fmt.Sprint(remnant.ID)}}); r.status != http.StatusConflict {
		t.Fatalf("redacting a closed request: %d, want 409", r.status)
	}
}
