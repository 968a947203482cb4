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

// The staff console: Convot's own staff answer Customers' support tickets
// here, each reply and closure recorded with the staff member who made it.
// Staff are named with `convot staff add`; site.RequireStaff keeps out
// everyone else and any staff account without TOTP (policy §10).
//
// Staff act for the deployment, not for an organization: their audit
// events are the deployment's (organization 0), so a Customer's audit log
// never names an account of another organization.

func (h *Handler) staffRoutes(r *gin.RouterGroup) {
	g := r.Group("/staff", h.RequireAccount, h.RequireStaff, h.RecordUsage)
	g.GET("", h.staffHome)
	g.GET("/support/:id", h.staffTicketPage)
	g.POST("/support/:id/reply", h.staffReply)
	g.POST("/support/:id/close", h.staffClose)
	h.staffSecurityRoutes(g)
	h.staffDisclosureRoutes(g)
	h.staffPrivacyRoutes(g)
	h.staffIncidentRoutes(g)
}

func (h *Handler) staffHome(c *gin.Context) {
	status := c.Query("status")
	switch status {
	case "", models.TicketOpen, models.TicketAnswered, models.TicketClosed:
	default:
		h.Fail(c, http.StatusBadRequest, "Unknown status", "Filter tickets by open, answered or closed.")
		return
	}
	tickets, err := h.Store.RecentSupportTickets(c, 500)
	if err != nil {
		h.Internal(c, err)
		return
	}
	if status != "" {
		kept := tickets[:0]
		for _, t := range tickets {
			if t.Status == status {
				kept = append(kept, t)
			}
		}
		tickets = kept
	}
	staff, err := h.Store.StaffAccounts(c)
	if err != nil {
		h.Internal(c, err)
		return
	}
	h.Render(c, http.StatusOK, "staff", h.Page(c, "Staff console", "staff", gin.H{"Tickets": tickets, "Status": status, "Staff": staff}))
}

// staffTicket loads any organization's ticket: answering every Customer's
// tickets is what staff are for.
func (h *Handler) staffTicket(c *gin.Context) (*models.SupportTicket, bool) {
	id, ok := site.PathID(c, "id")
	if !ok {
		h.Fail(c, http.StatusNotFound, "Not found", "There is no such ticket.")
		return nil, false
	}
	t, err := h.Store.SupportTicketByID(c, id)
	return site.Found(h.Site, c, "ticket", t, err)
}

func (h *Handler) staffTicketPage(c *gin.Context) {
	if t, ok := h.staffTicket(c); ok {
		h.renderStaffTicket(c, http.StatusOK, t, "", "")
	}
}

func (h *Handler) renderStaffTicket(c *gin.Context, status int, t *models.SupportTicket, body, problem string) {
	msgs, err := h.Store.SupportMessagesByTicketID(c, t.ID)
	if err != nil {
		h.Internal(c, err)
		return
	}
	h.RenderForm(c, status, "staff_ticket", "Support ticket", "staff", gin.H{"Ticket": t, "Messages": msgs, "Body": body}, problem)
}

func (h *Handler) staffReply(c *gin.Context) {
	a := site.CurrentAccount(c)
	t, ok := h.staffTicket(c)
	if !ok {
		return
	}
	body := strings.TrimSpace(c.PostForm("body"))
	if body == "" || len(body) > maxSupportText {
		h.renderStaffTicket(c, http.StatusUnprocessableEntity, t, body, "Write the reply (at most 10,000 characters).")
		return
	}
	now := h.Now().UTC()
	err := h.Store.Tx(c, func(tx *store.Store) error {
		m := models.SupportMessage{TicketID: t.ID, OrganizationID: t.OrganizationID, DataKeyID: t.DataKeyID, AuthorType: models.SupportAuthorSupport, AuthorID: a.ID, Body: body, CreatedAt: now}
		if err := tx.CreateSupportMessage(c, &m); err != nil {
			return err
		}
		if err := tx.AnswerSupportTicketByID(c, t.ID, now); err != nil {
			return err
		}
		return h.Audit(tx, c, 0, a.ID, a.DataKeyID, "staff.support_replied", site.Target("support_ticket", t.ID), fmt.Sprintf("organization %d", t.OrganizationID))
	})
	h.Finish(c, err, fmt.Sprintf("/staff/support/%d", t.ID), "")
}

func (h *Handler) staffClose(c *gin.Context) {
	a := site.CurrentAccount(c)
	t, ok := h.staffTicket(c)
	if !ok {
		return
	}
	now := h.Now().UTC()
	err := h.Store.Tx(c, func(tx *store.Store) error {
		if err := tx.CloseSupportTicketByID(c, t.ID, now); err != nil {
			return err
		}
		return h.Audit(tx, c, 0, a.ID, a.DataKeyID, "staff.support_closed", site.Target("support_ticket", t.ID), fmt.Sprintf("organization %d", t.OrganizationID))
	})
	h.Finish(c, err, fmt.Sprintf("/staff/support/%d", t.ID), "")
}
