package dashboard

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
)

// Support tickets with Convot (policy §2.1 support correspondence): an
// owner or admin opens a ticket and reads Convot's replies (which Convot's
// support team writes with `convot support reply`). Closed tickets are
// deleted two years after they closed by the support retention sweep (§8).

const maxSupportText = 10000

func (h *Handler) supportPage(c *gin.Context) {
	h.renderSupport(c, http.StatusOK, "", "", "")
}

func (h *Handler) renderSupport(c *gin.Context, status int, subject, body, problem string) {
	tickets, err := h.Store.SupportTickets(c, site.CurrentOrg(c).ID)
	if err != nil {
		h.Internal(c, err)
		return
	}
	h.RenderForm(c, status, "support", "Support", "support", gin.H{"Tickets": tickets, "Subject": subject, "Body": body}, problem)
}

func (h *Handler) openTicket(c *gin.Context) {
	a, org := site.CurrentAccount(c), site.CurrentOrg(c)
	subject := strings.TrimSpace(c.PostForm("subject"))
	body := strings.TrimSpace(c.PostForm("body"))
	switch {
	case subject == "" || len(subject) > 200:
		h.renderSupport(c, http.StatusUnprocessableEntity, subject, body, "Give the ticket a subject of at most 200 characters.")
		return
	case body == "" || len(body) > maxSupportText:
		h.renderSupport(c, http.StatusUnprocessableEntity, subject, body, "Write your message (at most 10,000 characters).")
		return
	}
	now := h.Now().UTC()
	t := models.SupportTicket{OrganizationID: org.ID, AccountID: a.ID, DataKeyID: a.DataKeyID, Subject: subject, Status: models.TicketOpen, CreatedAt: now, UpdatedAt: now}
	err := h.Store.Tx(c, func(tx *store.Store) error {
		if err := tx.CreateSupportTicket(c, &t); err != nil {
			return err
		}
		m := models.SupportMessage{TicketID: t.ID, OrganizationID: org.ID, DataKeyID: t.DataKeyID, AuthorType: models.SupportAuthorCustomer, AuthorID: a.ID, Body: body, CreatedAt: now}
		if err := tx.CreateSupportMessage(c, &m); err != nil {
			return err
		}
		return h.Audit(tx, c, org.ID, a.ID, a.DataKeyID, "support.ticket_opened", site.Target("support_ticket", t.ID), "")
	})
	h.Finish(c, err, fmt.Sprintf("/support/%d", t.ID), "")
}

// ticket loads one of the current organization's tickets; another's is
// not found.
func (h *Handler) ticket(c *gin.Context) (*models.SupportTicket, bool) {
	return site.OwnRow(h.Site, c, "ticket", h.Store.SupportTicket)
}

func (h *Handler) ticketPage(c *gin.Context) {
	t, ok := h.ticket(c)
	if !ok {
		return
	}
	h.renderTicket(c, http.StatusOK, t, "", "")
}

func (h *Handler) renderTicket(c *gin.Context, status int, t *models.SupportTicket, body, problem string) {
	msgs, err := h.Store.SupportMessages(c, t.OrganizationID, t.ID)
	if err != nil {
		h.Internal(c, err)
		return
	}
	h.RenderForm(c, status, "ticket", "Support ticket", "support", gin.H{"Ticket": t, "Messages": msgs, "Body": body}, problem)
}

func (h *Handler) postTicketMessage(c *gin.Context) {
	a := site.CurrentAccount(c)
	t, ok := h.ticket(c)
	if !ok {
		return
	}
	body := strings.TrimSpace(c.PostForm("body"))
	if body == "" || len(body) > maxSupportText {
		h.renderTicket(c, http.StatusUnprocessableEntity, t, body, "Write your message (at most 10,000 characters).")
		return
	}
	now := h.Now().UTC()
	err := h.Store.Tx(c, func(tx *store.Store) error {
		m := models.SupportMessage{TicketID: t.ID, OrganizationID: t.OrganizationID, DataKeyID: t.DataKeyID, AuthorType: models.SupportAuthorCustomer, AuthorID: a.ID, Body: body, CreatedAt: now}
		if err := tx.CreateSupportMessage(c, &m); err != nil {
			return err
		}
		// Writing again reopens a closed ticket: its two years start over
		// when it closes again.
		return tx.ReopenSupportTicket(c, t.OrganizationID, t.ID, now)
	})
	h.Finish(c, err, fmt.Sprintf("/support/%d", t.ID), "")
}

func (h *Handler) closeTicket(c *gin.Context) {
	a := site.CurrentAccount(c)
	t, ok := h.ticket(c)
	if !ok {
		return
	}
	if t.Status == models.TicketClosed {
		c.Redirect(http.StatusSeeOther, fmt.Sprintf("/support/%d", t.ID))
		return
	}
	now := h.Now().UTC()
	err := h.Store.Tx(c, func(tx *store.Store) error {
		if err := tx.CloseSupportTicket(c, t.OrganizationID, t.ID, now); err != nil {
			return err
		}
		return h.Audit(tx, c, t.OrganizationID, a.ID, a.DataKeyID, "support.ticket_closed", site.Target("support_ticket", t.ID), "")
	})
	h.Finish(c, err, fmt.Sprintf("/support/%d", t.ID), "")
}
