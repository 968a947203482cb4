package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
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

func (s *Server) supportRoutes(r *gin.RouterGroup) {
	g := r.Group("/support", s.RequireAccount, s.Require("support_contact"), s.RecordUsage)
	g.GET("", s.supportPage)
	g.POST("", s.openTicket)
	g.GET("/:id", s.ticketPage)
	g.POST("/:id/messages", s.postTicketMessage)
	g.POST("/:id/close", s.closeTicket)
}

const maxSupportText = 10000

func (s *Server) supportPage(c *gin.Context) {
	s.renderSupport(c, http.StatusOK, "", "", "")
}

func (s *Server) renderSupport(c *gin.Context, status int, subject, body, problem string) {
	tickets, err := s.Store.SupportTickets(c, site.CurrentOrg(c).ID)
	if err != nil {
		s.Internal(c, err)
		return
	}
	p := s.Page(c, "Support", "support", gin.H{"Tickets": tickets, "Subject": subject, "Body": body})
	p.Error = problem
	s.Render(c, status, "support", p)
}

func (s *Server) openTicket(c *gin.Context) {
	a, org := site.CurrentAccount(c), site.CurrentOrg(c)
	subject := strings.TrimSpace(c.PostForm("subject"))
	body := strings.TrimSpace(c.PostForm("body"))
	switch {
	case subject == "" || len(subject) > 200:
		s.renderSupport(c, http.StatusUnprocessableEntity, subject, body, "Give the ticket a subject of at most 200 characters.")
		return
	case body == "" || len(body) > maxSupportText:
		s.renderSupport(c, http.StatusUnprocessableEntity, subject, body, "Write your message (at most 10,000 characters).")
		return
	}
	now := s.now().UTC()
	t := models.SupportTicket{OrganizationID: org.ID, AccountID: a.ID, DataKeyID: a.DataKeyID, Subject: subject, Status: models.TicketOpen, CreatedAt: now, UpdatedAt: now}
	err := s.Store.Tx(c, func(tx *store.Store) error {
		if err := tx.CreateSupportTicket(c, &t); err != nil {
			return err
		}
		m := models.SupportMessage{TicketID: t.ID, OrganizationID: org.ID, DataKeyID: t.DataKeyID, AuthorType: models.SupportAuthorCustomer, AuthorID: a.ID, Body: body, CreatedAt: now}
		if err := tx.CreateSupportMessage(c, &m); err != nil {
			return err
		}
		return s.Audit(tx, c, org.ID, a.ID, a.DataKeyID, "support.ticket_opened", site.Target("support_ticket", t.ID), "")
	})
	if err != nil {
		s.Internal(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/support/%d", t.ID))
}

// ticket loads one of the current organization's tickets; another's is
// not found.
func (s *Server) ticket(c *gin.Context) (*models.SupportTicket, bool) {
	id, err := strconv.ParseUint(c.Param("id"), 10, 64)
	if err != nil {
		s.Fail(c, http.StatusNotFound, "Not found", "There is no such ticket.")
		return nil, false
	}
	t, err := s.Store.SupportTicket(c, site.CurrentOrg(c).ID, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.Fail(c, http.StatusNotFound, "Not found", "There is no such ticket.")
		return nil, false
	case err != nil:
		s.Internal(c, err)
		return nil, false
	}
	return t, true
}

func (s *Server) ticketPage(c *gin.Context) {
	t, ok := s.ticket(c)
	if !ok {
		return
	}
	s.renderTicket(c, http.StatusOK, t, "", "")
}

func (s *Server) renderTicket(c *gin.Context, status int, t *models.SupportTicket, body, problem string) {
	msgs, err := s.Store.SupportMessages(c, t.OrganizationID, t.ID)
	if err != nil {
		s.Internal(c, err)
		return
	}
	p := s.Page(c, "Support ticket", "support", gin.H{"Ticket": t, "Messages": msgs, "Body": body})
	p.Error = problem
	s.Render(c, status, "ticket", p)
}

func (s *Server) postTicketMessage(c *gin.Context) {
	a := site.CurrentAccount(c)
	t, ok := s.ticket(c)
	if !ok {
		return
	}
	body := strings.TrimSpace(c.PostForm("body"))
	if body == "" || len(body) > maxSupportText {
		s.renderTicket(c, http.StatusUnprocessableEntity, t, body, "Write your message (at most 10,000 characters).")
		return
	}
	now := s.now().UTC()
	err := s.Store.Tx(c, func(tx *store.Store) error {
		m := models.SupportMessage{TicketID: t.ID, OrganizationID: t.OrganizationID, DataKeyID: t.DataKeyID, AuthorType: models.SupportAuthorCustomer, AuthorID: a.ID, Body: body, CreatedAt: now}
		if err := tx.CreateSupportMessage(c, &m); err != nil {
			return err
		}
		// Writing again reopens a closed ticket: its two years start over
		// when it closes again.
		return tx.ReopenSupportTicket(c, t.OrganizationID, t.ID, now)
	})
	if err != nil {
		s.Internal(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/support/%d", t.ID))
}

func (s *Server) closeTicket(c *gin.Context) {
	a := site.CurrentAccount(c)
	t, ok := s.ticket(c)
	if !ok {
		return
	}
	if t.Status == models.TicketClosed {
		c.Redirect(http.StatusSeeOther, fmt.Sprintf("/support/%d", t.ID))
		return
	}
	now := s.now().UTC()
	err := s.Store.Tx(c, func(tx *store.Store) error {
		if err := tx.CloseSupportTicket(c, t.OrganizationID, t.ID, now); err != nil {
			return err
		}
		return s.Audit(tx, c, t.OrganizationID, a.ID, a.DataKeyID, "support.ticket_closed", site.Target("support_ticket", t.ID), "")
	})
	if err != nil {
		s.Internal(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/support/%d", t.ID))
}
