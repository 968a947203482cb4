package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/internal/crypto"
	convotmail "github.com/convot/convot/internal/mail"
	"github.com/convot/convot/models"
	"github.com/convot/convot/plans"
	"github.com/convot/convot/store"
)

func (s *Server) teamRoutes(r *gin.RouterGroup) {
	g := r.Group("/", s.RequireAccount, s.RecordUsage)
	g.GET("/settings/team", s.Require("team_view"), s.teamPage)
	g.POST("/settings/team/invite", s.Require("team_invite"), s.invite)
	g.POST("/settings/team/:id/role", s.Require("team_change_role"), s.changeRole)
	g.POST("/settings/team/:id/remove", s.Require("team_remove"), s.removeMember)
	g.GET("/audit-log", s.Require("audit_log_view"), s.auditLog)
}

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

func (s *Server) teamPage(c *gin.Context) {
	a, org := site.CurrentAccount(c), site.CurrentOrg(c)
	members, err := s.Store.ActiveMembers(c, org.ID)
	if err != nil {
		s.Internal(c, err)
		return
	}
	pending, err := s.Store.PendingInvitations(c, org.ID, s.now())
	if err != nil {
		s.Internal(c, err)
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
	if s.Plans.Apply {
		plan, err := s.Store.PlanOf(c, org.ID)
		if err != nil {
			s.Internal(c, err)
			return
		}
		used, invited, err := s.Store.SeatsUsed(c, org.ID, s.now())
		if err != nil {
			s.Internal(c, err)
			return
		}
		seats = &seatsView{Plan: plan, Used: used + invited, Full: used+invited >= int64(plan.Seats)}
	}
	s.Render(c, http.StatusOK, "team", s.Page(c, "Team", "team", gin.H{
		"Members": members, "Pending": pending, "SelfID": a.ID, "Roles": models.Roles,
		"InviteRoles": invitableRoles(), "Access": access, "Seats": seats,
	}))
}

func (s *Server) invite(c *gin.Context) {
	a, org := site.CurrentAccount(c), site.CurrentOrg(c)
	email, err := validEmail(c.PostForm("email"))
	if err != nil {
		s.Fail(c, http.StatusUnprocessableEntity, "Invite", err.Error())
		return
	}
	role := c.PostForm("role")
	if !contains(invitableRoles(), role) {
		s.Fail(c, http.StatusUnprocessableEntity, "Invite", "Choose admin, agent or auditor.")
		return
	}
	existing, err := s.Store.AccountEmailTaken(c, email)
	if err != nil {
		s.Internal(c, err)
		return
	}
	if existing {
		s.Fail(c, http.StatusConflict, "Invite", "Someone with this email already has a Convot account.")
		return
	}
	if err := s.Plans.SeatForInvitation(c, org, role); err != nil {
		if msg := plans.LimitMessage(err); msg != "" {
			s.Fail(c, http.StatusPaymentRequired, "No seat left", msg)
			return
		}
		s.Internal(c, err)
		return
	}
	token := crypto.RandomToken(32)
	inv := models.Invitation{
		OrganizationID: org.ID, Email: email, Role: role, TokenHash: crypto.HashToken(token),
		InvitedByID: a.ID, ExpiresAt: s.now().Add(invitationLifetime).UTC(), CreatedAt: s.now().UTC(),
	}
	err = s.Store.Tx(c, func(tx *store.Store) error {
		if err := tx.CreateInvitation(c, &inv); err != nil {
			return err
		}
		return s.Audit(tx, c, org.ID, a.ID, a.DataKeyID, "team.invited", site.Target("invitation", inv.ID), role)
	})
	if err != nil {
		s.Internal(c, err)
		return
	}
	s.Send(c, convotmail.Message{
		To: email, Subject: fmt.Sprintf("%s invited you to %s on Convot", a.DisplayName, org.CompanyName), Tag: "invitation",
		Text: fmt.Sprintf("%s invited you to join %s on Convot as %s.\n\nAccept within 7 days: %s/invitations/accept?token=%s",
			a.FullName, org.CompanyName, role, s.Config.BaseURL, token),
	})
	s.RedirectWithFlash(c, "/settings/team", "invited")
}

// member loads an account of the current organization; another
// organization's account is 404, never a hint that it exists.
func (s *Server) member(c *gin.Context) (*models.Account, bool) {
	id, err := strconv.ParseUint(c.Param("id"), 10, 64)
	if err != nil {
		s.Fail(c, http.StatusNotFound, "Not found", "There is no such member.")
		return nil, false
	}
	m, err := s.Store.ActiveAccount(c, site.CurrentOrg(c).ID, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.Fail(c, http.StatusNotFound, "Not found", "There is no such member.")
		return nil, false
	case err != nil:
		s.Internal(c, err)
		return nil, false
	}
	return m, true
}

func (s *Server) changeRole(c *gin.Context) {
	a := site.CurrentAccount(c)
	m, ok := s.member(c)
	if !ok {
		return
	}
	role := c.PostForm("role")
	switch {
	case !contains(models.Roles, role):
		s.Fail(c, http.StatusUnprocessableEntity, "Team", "Unknown role.")
		return
	case m.ID == a.ID:
		s.Fail(c, http.StatusConflict, "Team", "You cannot change your own role.")
		return
	case m.Role == role:
		s.RedirectWithFlash(c, "/settings/team", "role_changed")
		return
	}
	err := s.Store.Tx(c, func(tx *store.Store) error {
		if err := s.Plans.SeatForRole(c, tx, m.OrganizationID, m.Role, role); err != nil {
			return err
		}
		// Handing over ownership makes the previous owner an admin: an
		// organization has exactly one owner.
		if role == models.RoleOwner {
			if err := tx.SetRole(c, m.OrganizationID, a.ID, models.RoleAdmin); err != nil {
				return err
			}
			if err := s.Audit(tx, c, m.OrganizationID, a.ID, a.DataKeyID, "account.role_changed", site.Target("account", a.ID), "owner -> admin"); err != nil {
				return err
			}
		}
		if err := tx.SetRole(c, m.OrganizationID, m.ID, role); err != nil {
			return err
		}
		return s.Audit(tx, c, m.OrganizationID, a.ID, a.DataKeyID, "account.role_changed", site.Target("account", m.ID), m.Role+" -> "+role)
	})
	if msg := plans.LimitMessage(err); msg != "" {
		s.Fail(c, http.StatusPaymentRequired, "No seat left", msg)
		return
	}
	if err != nil {
		s.Internal(c, err)
		return
	}
	s.RedirectWithFlash(c, "/settings/team", "role_changed")
}

func (s *Server) removeMember(c *gin.Context) {
	a := site.CurrentAccount(c)
	m, ok := s.member(c)
	if !ok {
		return
	}
	if m.ID == a.ID || m.Role == models.RoleOwner {
		s.Fail(c, http.StatusConflict, "Team", "The owner and yourself cannot be removed here.")
		return
	}
	err := s.Store.Tx(c, func(tx *store.Store) error {
		if err := tx.DisableAccount(c, m.OrganizationID, m.ID); err != nil {
			return err
		}
		if err := tx.DeleteSessions(c, m.OrganizationID, m.ID); err != nil {
			return err
		}
		return s.Audit(tx, c, m.OrganizationID, a.ID, a.DataKeyID, "team.removed", site.Target("account", m.ID), m.Role)
	})
	if err != nil {
		s.Internal(c, err)
		return
	}
	s.RedirectWithFlash(c, "/settings/team", "removed")
}

func (s *Server) auditLog(c *gin.Context) {
	events, err := s.Store.AuditEvents(c, site.CurrentOrg(c).ID, c.Query("action"), 200)
	if err != nil {
		s.Internal(c, err)
		return
	}
	if site.WantsJSON(c) {
		out := make([]gin.H, len(events))
		for i, e := range events {
			out[i] = gin.H{"id": e.ID, "action": e.Action, "actor_id": e.ActorID, "target": e.Target, "detail": e.Detail, "created_at": e.CreatedAt}
		}
		c.JSON(http.StatusOK, gin.H{"events": out})
		return
	}
	s.Render(c, http.StatusOK, "audit", s.Page(c, "Audit log", "audit", events))
}
