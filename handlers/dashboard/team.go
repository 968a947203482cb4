package dashboard

import (
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/internal/crypto"
	convotmail "github.com/convot/convot/internal/mail"
	"github.com/convot/convot/models"
	"github.com/convot/convot/plans"
	"github.com/convot/convot/store"
)

// seatsView is the plan's seats as the team page shows them (nil where
// plan limits do not apply).
type seatsView struct {
	Plan models.Plan
	Used int64
	Full bool
}

type accessRow struct {
	Description string
	Allowed     []bool
}

func (h *Handler) teamPage(c *gin.Context) {
	a, org := site.CurrentAccount(c), site.CurrentOrg(c)
	members, err := h.Store.ActiveMembers(c, org.ID)
	if err != nil {
		h.Internal(c, err)
		return
	}
	pending, err := h.Store.PendingInvitations(c, org.ID, h.Now())
	if err != nil {
		h.Internal(c, err)
		return
	}
	var access []accessRow
	for _, p := range site.Permissions {
		row := accessRow{Description: p.Description}
		for _, r := range models.Roles {
			row.Allowed = append(row.Allowed, site.Can(r, p.Name))
		}
		access = append(access, row)
	}
	var seats *seatsView
	if h.Plans.Apply {
		plan, err := h.Store.PlanOf(c, org.ID)
		if err != nil {
			h.Internal(c, err)
			return
		}
		used, invited, err := h.Store.SeatsUsed(c, org.ID, h.Now())
		if err != nil {
			h.Internal(c, err)
			return
		}
		seats = &seatsView{Plan: plan, Used: used + invited, Full: used+invited >= int64(plan.Seats)}
	}
	h.Render(c, http.StatusOK, "team", h.Page(c, "Team", "team", gin.H{
		"Members": members, "Pending": pending, "SelfID": a.ID, "Roles": models.Roles,
		"InviteRoles": invitableRoles(), "Access": access, "Seats": seats,
	}))
}

func (h *Handler) invite(c *gin.Context) {
	a, org := site.CurrentAccount(c), site.CurrentOrg(c)
	email, err := validEmail(c.PostForm("email"))
	if err != nil {
		h.Fail(c, http.StatusUnprocessableEntity, "Invite", err.Error())
		return
	}
	role := c.PostForm("role")
	if !contains(invitableRoles(), role) {
		h.Fail(c, http.StatusUnprocessableEntity, "Invite", "Choose admin, agent or auditor.")
		return
	}
	existing, err := h.Store.AccountEmailTaken(c, email)
	if err != nil {
		h.Internal(c, err)
		return
	}
	if existing {
		h.Fail(c, http.StatusConflict, "Invite", "Someone with this email already has a Convot account.")
		return
	}
	if err := h.Plans.SeatForInvitation(c, org, role); err != nil {
		if msg := plans.LimitMessage(err); msg != "" {
			h.Fail(c, http.StatusPaymentRequired, "No seat left", msg)
			return
		}
		h.Internal(c, err)
		return
	}
	token := crypto.RandomToken(32)
	inv := models.Invitation{
		OrganizationID: org.ID, Email: email, Role: role, TokenHash: crypto.HashToken(token),
		InvitedByID: a.ID, ExpiresAt: h.Now().Add(invitationLifetime).UTC(), CreatedAt: h.Now().UTC(),
	}
	err = h.Store.Tx(c, func(tx *store.Store) error {
		if err := tx.CreateInvitation(c, &inv); err != nil {
			return err
		}
		return h.Audit(tx, c, org.ID, a.ID, a.DataKeyID, "team.invited", site.Target("invitation", inv.ID), role)
	})
	if err != nil {
		h.Internal(c, err)
		return
	}
	h.Send(c, convotmail.Message{
		To: email, Subject: fmt.Sprintf("%s invited you to %s on Convot", a.DisplayName, org.CompanyName), Tag: "invitation",
		Text: fmt.Sprintf("%s invited you to join %s on Convot as %s.\n\nAccept within 7 days: %s/invitations/accept?token=%s",
			a.FullName, org.CompanyName, role, h.Config.BaseURL, token),
	})
	h.RedirectWithFlash(c, "/settings/team", "invited")
}

// member loads an account of the current organization; another
// organization's account is 404, never a hint that it exists.
func (h *Handler) member(c *gin.Context) (*models.Account, bool) {
	return site.OwnRow(h.Site, c, "member", h.Store.ActiveAccount)
}

func (h *Handler) changeRole(c *gin.Context) {
	a := site.CurrentAccount(c)
	m, ok := h.member(c)
	if !ok {
		return
	}
	role := c.PostForm("role")
	switch {
	case !contains(models.Roles, role):
		h.Fail(c, http.StatusUnprocessableEntity, "Team", "Unknown role.")
		return
	case m.ID == a.ID:
		h.Fail(c, http.StatusConflict, "Team", "You cannot change your own role.")
		return
	case m.Role == role:
		h.RedirectWithFlash(c, "/settings/team", "role_changed")
		return
	}
	err := h.Store.Tx(c, func(tx *store.Store) error {
		if err := h.Plans.SeatForRole(c, tx, m.OrganizationID, m.Role, role); err != nil {
			return err
		}
		// Handing over ownership makes the previous owner an admin: an
		// organization has exactly one owner.
		if role == models.RoleOwner {
			if err := tx.SetRole(c, m.OrganizationID, a.ID, models.RoleAdmin); err != nil {
				return err
			}
			if err := h.Audit(tx, c, m.OrganizationID, a.ID, a.DataKeyID, "account.role_changed", site.Target("account", a.ID), "owner -> admin"); err != nil {
				return err
			}
		}
		if err := tx.SetRole(c, m.OrganizationID, m.ID, role); err != nil {
			return err
		}
		return h.Audit(tx, c, m.OrganizationID, a.ID, a.DataKeyID, "account.role_changed", site.Target("account", m.ID), m.Role+" -> "+role)
	})
	if msg := plans.LimitMessage(err); msg != "" {
		h.Fail(c, http.StatusPaymentRequired, "No seat left", msg)
		return
	}
	h.Finish(c, err, "/settings/team", "role_changed")
}

func (h *Handler) removeMember(c *gin.Context) {
	a := site.CurrentAccount(c)
	m, ok := h.member(c)
	if !ok {
		return
	}
	if m.ID == a.ID || m.Role == models.RoleOwner {
		h.Fail(c, http.StatusConflict, "Team", "The owner and yourself cannot be removed here.")
		return
	}
	err := h.Store.Tx(c, func(tx *store.Store) error {
		if err := tx.DisableAccount(c, m.OrganizationID, m.ID); err != nil {
			return err
		}
		if err := tx.DeleteSessions(c, m.OrganizationID, m.ID); err != nil {
			return err
		}
		return h.Audit(tx, c, m.OrganizationID, a.ID, a.DataKeyID, "team.removed", site.Target("account", m.ID), m.Role)
	})
	h.Finish(c, err, "/settings/team", "removed")
}
