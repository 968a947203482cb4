package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/internal/crypto"
	convotmail "github.com/convot/convot/internal/mail"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
)

func (s *Server) teamRoutes(r *gin.RouterGroup) {
	g := r.Group("/", s.requireAccount, s.recordUsage)
	g.GET("/settings/team", s.require("team_view"), s.teamPage)
	g.POST("/settings/team/invite", s.require("team_invite"), s.invite)
	g.POST("/settings/team/:id/role", s.require("team_change_role"), s.changeRole)
	g.POST("/settings/team/:id/remove", s.require("team_remove"), s.removeMember)
	g.GET("/audit-log", s.require("audit_log_view"), s.auditLog)
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
	a, org := currentAccount(c), currentOrg(c)
	members, err := s.Store.ActiveMembers(c, org.ID)
	if err != nil {
		s.internal(c, err)
		return
	}
	pending, err := s.Store.PendingInvitations(c, org.ID, s.now())
	if err != nil {
		s.internal(c, err)
		return
	}
	var access []accessRow
	for _, p := range Permissions {
		row := accessRow{Description: p.Description}
		for _, r := range models.Roles {
			row.Allowed = append(row.Allowed, can(r, p.Name))
		}
		access = append(access, row)
	}
	var seats *seatsView
	if s.planLimitsApply() {
		plan, err := s.Store.PlanOf(c, org.ID)
		if err != nil {
			s.internal(c, err)
			return
		}
		used, invited, err := s.Store.SeatsUsed(c, org.ID, s.now())
		if err != nil {
			s.internal(c, err)
			return
		}
		seats = &seatsView{Plan: plan, Used: used + invited, Full: used+invited >= int64(plan.Seats)}
	}
	s.render(c, http.StatusOK, "team", s.page(c, "Team", "team", gin.H{
		"Members": members, "Pending": pending, "SelfID": a.ID, "Roles": models.Roles,
		"InviteRoles": invitableRoles(), "Access": access, "Seats": seats,
	}))
}

func (s *Server) invite(c *gin.Context) {
	a, org := currentAccount(c), currentOrg(c)
	email, err := validEmail(c.PostForm("email"))
	if err != nil {
		s.fail(c, http.StatusUnprocessableEntity, "Invite", err.Error())
		return
	}
	role := c.PostForm("role")
	if !contains(invitableRoles(), role) {
		s.fail(c, http.StatusUnprocessableEntity, "Invite", "Choose admin, agent or auditor.")
		return
	}
	existing, err := s.Store.AccountEmailTaken(c, email)
	if err != nil {
		s.internal(c, err)
		return
	}
	if existing {
		s.fail(c, http.StatusConflict, "Invite", "Someone with this email already has a Convot account.")
		return
	}
	if err := s.seatForInvitation(c, org, role); err != nil {
		if msg := isPlanLimit(err); msg != "" {
			s.fail(c, http.StatusPaymentRequired, "No seat left", msg)
			return
		}
		s.internal(c, err)
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
		return s.audit(tx, c, org.ID, a.ID, a.DataKeyID, "team.invited", target("invitation", inv.ID), role)
	})
	if err != nil {
		s.internal(c, err)
		return
	}
	s.send(c, convotmail.Message{
		To: email, Subject: fmt.Sprintf("%s invited you to %s on Convot", a.DisplayName, org.CompanyName), Tag: "invitation",
		Text: fmt.Sprintf("%s invited you to join %s on Convot as %s.\n\nAccept within 7 days: %s/invitations/accept?token=%s",
			a.FullName, org.CompanyName, role, s.Config.BaseURL, token),
	})
	s.redirectWithFlash(c, "/settings/team", "invited")
}

// member loads an account of the current organization; another
// organization's account is 404, never a hint that it exists.
func (s *Server) member(c *gin.Context) (*models.Account, bool) {
	id, err := strconv.ParseUint(c.Param("id"), 10, 64)
	if err != nil {
		s.fail(c, http.StatusNotFound, "Not found", "There is no such member.")
		return nil, false
	}
	m, err := s.Store.ActiveAccount(c, currentOrg(c).ID, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.fail(c, http.StatusNotFound, "Not found", "There is no such member.")
		return nil, false
	case err != nil:
		s.internal(c, err)
		return nil, false
	}
	return m, true
}

func (s *Server) changeRole(c *gin.Context) {
	a := currentAccount(c)
	m, ok := s.member(c)
	if !ok {
		return
	}
	role := c.PostForm("role")
	switch {
	case !contains(models.Roles, role):
		s.fail(c, http.StatusUnprocessableEntity, "Team", "Unknown role.")
		return
	case m.ID == a.ID:
		s.fail(c, http.StatusConflict, "Team", "You cannot change your own role.")
		return
	case m.Role == role:
		s.redirectWithFlash(c, "/settings/team", "role_changed")
		return
	}
	err := s.Store.Tx(c, func(tx *store.Store) error {
		if err := s.seatForRole(c, tx, m.OrganizationID, m.Role, role); err != nil {
			return err
		}
		// Handing over ownership makes the previous owner an admin: an
		// organization has exactly one owner.
		if role == models.RoleOwner {
			if err := tx.SetRole(c, m.OrganizationID, a.ID, models.RoleAdmin); err != nil {
				return err
			}
			if err := s.audit(tx, c, m.OrganizationID, a.ID, a.DataKeyID, "account.role_changed", target("account", a.ID), "owner -> admin"); err != nil {
				return err
			}
		}
		if err := tx.SetRole(c, m.OrganizationID, m.ID, role); err != nil {
			return err
		}
		return s.audit(tx, c, m.OrganizationID, a.ID, a.DataKeyID, "account.role_changed", target("account", m.ID), m.Role+" -> "+role)
	})
	if msg := isPlanLimit(err); msg != "" {
		s.fail(c, http.StatusPaymentRequired, "No seat left", msg)
		return
	}
	if err != nil {
		s.internal(c, err)
		return
	}
	s.redirectWithFlash(c, "/settings/team", "role_changed")
}

func (s *Server) removeMember(c *gin.Context) {
	a := currentAccount(c)
	m, ok := s.member(c)
	if !ok {
		return
	}
	if m.ID == a.ID || m.Role == models.RoleOwner {
		s.fail(c, http.StatusConflict, "Team", "The owner and yourself cannot be removed here.")
		return
	}
	err := s.Store.Tx(c, func(tx *store.Store) error {
		if err := tx.DisableAccount(c, m.OrganizationID, m.ID); err != nil {
			return err
		}
		if err := tx.DeleteSessions(c, m.OrganizationID, m.ID); err != nil {
			return err
		}
		return s.audit(tx, c, m.OrganizationID, a.ID, a.DataKeyID, "team.removed", target("account", m.ID), m.Role)
	})
	if err != nil {
		s.internal(c, err)
		return
	}
	s.redirectWithFlash(c, "/settings/team", "removed")
}

func (s *Server) auditLog(c *gin.Context) {
	events, err := s.Store.AuditEvents(c, currentOrg(c).ID, c.Query("action"), 200)
	if err != nil {
		s.internal(c, err)
		return
	}
	if wantsJSON(c) {
		out := make([]gin.H, len(events))
		for i, e := range events {
			out[i] = gin.H{"id": e.ID, "action": e.Action, "actor_id": e.ActorID, "target": e.Target, "detail": e.Detail, "created_at": e.CreatedAt}
		}
		c.JSON(http.StatusOK, gin.H{"events": out})
		return
	}
	s.render(c, http.StatusOK, "audit", s.page(c, "Audit log", "audit", events))
}
