package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/convot/convot/models"
)

// Policy §10: multi-factor authentication for all support staff. The staff
// console answers Convot's own staff only, and a staff account only once
// it uses TOTP; a staff reply to a Customer's ticket names the staff member
// in the deployment's audit log (organization 0), not in the Customer's.
func TestStaffConsoleNeedsStaffWithTOTP(t *testing.T) {
	ts, customer := acmeOwner(t)
	if r := customer.post("/support", url.Values{"subject": {"Export question"}, "body": {"How do I export my contacts?"}}); r.status != http.StatusSeeOther {
		t.Fatalf("open ticket: %d %s", r.status, excerpt(r.body))
	}

	sam := ts.browser(t)
	sam.signup("sam@convot.test", "Convot Staff")
	if r := sam.get("/staff"); r.status != http.StatusForbidden {
		t.Fatalf("not staff: %d, want 403", r.status)
	}
	var acct models.Account
	if err := ts.db.Where("email_index = ?", ts.db.Keys.BlindIndex("sam@convot.test")).First(&acct).Error; err != nil {
		t.Fatal(err)
	}
	if _, err := ts.srv.Store.AddStaffMember(context.Background(), acct.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	r := sam.get("/staff")
	if r.status != http.StatusForbidden || !strings.Contains(r.body, "two-factor authentication") {
		t.Fatalf("staff without TOTP: %d, want 403 asking for two-factor authentication", r.status)
	}
	if strings.Contains(r.body, "Export question") {
		t.Fatal("a staff account without TOTP saw a ticket")
	}
	if r := sam.post("/staff/support/1/reply", url.Values{"body": {"hello"}}); r.status != http.StatusForbidden {
		t.Fatalf("reply without TOTP: %d, want 403", r.status)
	}

	secret, _ := enrolMFA(t, ts, sam)
	// Sign in again: password, then the second factor.
	sam.logout()
	if r := sam.login("sam@convot.test", "correct horse battery"); r.location != "/login/mfa" {
		t.Fatalf("staff login: %d %s, want the second factor", r.status, r.location)
	}
	ts.advance(31 * time.Second) // the enrolment's step is spent
	code, _ := totp.GenerateCode(secret, ts.clock())
	sam.get("/login/mfa")
	if r := sam.post("/login/mfa", url.Values{"code": {code}}); r.status != http.StatusSeeOther {
		t.Fatalf("second factor: %d", r.status)
	}
	page := sam.get("/staff")
	if page.status != http.StatusOK || !strings.Contains(page.body, "Export question") {
		t.Fatalf("staff console: %d %s", page.status, excerpt(page.body))
	}
	if !strings.Contains(sam.get("/").body, `href="/staff"`) {
		t.Fatal("the layout does not link the staff console for staff")
	}
	if strings.Contains(customer.get("/").body, `href="/staff"`) {
		t.Fatal("the layout links the staff console for a Customer's owner")
	}
	if r := customer.get("/staff/support/1"); r.status != http.StatusForbidden {
		t.Fatalf("a Customer's owner reads the staff console: %d", r.status)
	}

	sam.get("/staff/support/1")
	if r := sam.post("/staff/support/1/reply", url.Values{"body": {""}}); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("empty reply: %d, want 422", r.status)
	}
	if r := sam.post("/staff/support/1/reply", url.Values{"body": {"Contacts → Export."}}); r.status != http.StatusSeeOther {
		t.Fatalf("reply: %d %s", r.status, excerpt(r.body))
	}
	if r := sam.get("/staff/support/999"); r.status != http.StatusNotFound {
		t.Fatalf("missing ticket: %d", r.status)
	}
	var msg models.SupportMessage
	ts.db.Where("ticket_id = 1 AND author_type = ?", models.SupportAuthorSupport).First(&msg)
	if msg.AuthorID != acct.ID {
		t.Fatalf("the reply names author %d, want the staff account %d", msg.AuthorID, acct.ID)
	}
	var ev models.AuditEvent
	if err := ts.db.Where("action = ?", "staff.support_replied").First(&ev).Error; err != nil {
		t.Fatal("no audit event for the staff reply")
	}
	if ev.OrganizationID != 0 || ev.ActorID != acct.ID || ev.Target != "support_ticket:1" {
		t.Fatalf("staff reply audit %+v: want organization 0, actor %d", ev, acct.ID)
	}
	if page := customer.get("/support/1"); !strings.Contains(page.body, "Contacts → Export.") || !strings.Contains(page.body, "Convot support") {
		t.Fatal("the Customer does not see the staff reply as Convot support")
	}
	sam.get("/staff/support/1")
	if r := sam.post("/staff/support/1/close", nil); r.status != http.StatusSeeOther {
		t.Fatalf("close: %d", r.status)
	}
	var ticket models.SupportTicket
	ts.db.First(&ticket, 1)
	if ticket.Status != models.TicketClosed {
		t.Fatalf("ticket %s after the staff closed it", ticket.Status)
	}
	if r := sam.get("/staff?status=bogus"); r.status != http.StatusBadRequest {
		t.Fatalf("unknown status filter: %d, want 400", r.status)
	}

	// Removed from staff: no console, whatever the second factor.
	if _, err := ts.srv.Store.RemoveStaffMember(context.Background(), acct.ID); err != nil {
		t.Fatal(err)
	}
	if r := sam.get("/staff"); r.status != http.StatusForbidden {
		t.Fatalf("former staff: %d, want 403", r.status)
	}
}
