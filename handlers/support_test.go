package handlers

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/convot/convot/models"
)

// An owner opens a support ticket with Convot, reads the reply, closes
// it; the close starts its two years (closed_at). Correspondence is
// sealed; another organization gets 404; agents may not.
func TestSupportTickets(t *testing.T) {
	ts, owner := acmeOwner(t)
	owner.get("/support")
	if r := owner.post("/support", url.Values{"subject": {""}, "body": {"x"}}); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("no subject: %d", r.status)
	}
	r := owner.post("/support", url.Values{"subject": {"Invoice question"}, "body": {"Why was I charged twice?"}})
	if r.status != http.StatusSeeOther || r.location != "/support/1" {
		t.Fatalf("open: %d %s %s", r.status, r.location, excerpt(r.body))
	}
	var raw string
	ts.db.Raw("SELECT body FROM support_messages WHERE ticket_id = 1").Scan(&raw)
	if strings.Contains(raw, "charged") {
		t.Fatal("support correspondence stored in clear")
	}
	// Convot's support team replies (convot support reply).
	var ticket models.SupportTicket
	ts.db.First(&ticket, 1)
	if err := ts.db.Create(&models.SupportMessage{TicketID: 1, OrganizationID: ticket.OrganizationID, DataKeyID: ticket.DataKeyID,
		AuthorType: models.SupportAuthorSupport, Body: "We refunded the second charge."}).Error; err != nil {
		t.Fatal(err)
	}
	page := owner.get("/support/1")
	if !strings.Contains(page.body, "Why was I charged twice?") || !strings.Contains(page.body, "We refunded the second charge.") || !strings.Contains(page.body, "Convot support") {
		t.Fatal("the thread is not shown")
	}
	if r := owner.post("/support/1/close", nil); r.status != http.StatusSeeOther {
		t.Fatalf("close: %d", r.status)
	}
	ts.db.First(&ticket, 1)
	if ticket.Status != models.TicketClosed || ticket.ClosedAt == nil {
		t.Fatalf("closed ticket %+v", ticket)
	}
	owner.get("/support/1")
	if r := owner.post("/support/1/messages", url.Values{"body": {"One more thing"}}); r.status != http.StatusSeeOther {
		t.Fatalf("write again: %d", r.status)
	}
	var reopened models.SupportTicket
	ts.db.First(&reopened, 1)
	if reopened.Status != models.TicketOpen || reopened.ClosedAt != nil {
		t.Fatal("writing again does not reopen the ticket")
	}
	assertAudit(t, ts, "support.ticket_opened", "support.ticket_closed")

	other := ts.browser(t)
	other.signup("boris@other.test", "Other")
	if r := other.get("/support/1"); r.status != http.StatusNotFound {
		t.Fatalf("another organization's ticket: %d, want 404", r.status)
	}
	other.get("/support")
	for _, path := range []string{"/support/1/messages", "/support/1/close"} {
		if r := other.post(path, url.Values{"body": {"hi"}}); r.status != http.StatusNotFound {
			t.Errorf("POST %s from another organization: %d", path, r.status)
		}
	}
	agent := inviteAndJoin(t, ts, owner, "adam@acme.test", "agent")
	if r := agent.get("/support"); r.status != http.StatusForbidden {
		t.Fatalf("agent: %d, want 403", r.status)
	}
}
