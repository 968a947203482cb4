package handlers

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
	"gorm.io/gorm"

	"github.com/convot/convot/internal/crypto"
	convotmail "github.com/convot/convot/internal/mail"
	"github.com/convot/convot/models"
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
	var members []models.Account
	if err := s.DB.WithContext(c).Where("organization_id = ? AND status = ?", org.ID, "active").Order("id").Find(&members).Error; err != nil {
		s.internal(c, err)
		return
	}
	var pending []models.Invitation
	if err := s.DB.WithContext(c).Where("organization_id = ? AND accepted_at IS NULL AND expires_at > ?", org.ID, s.now().UTC()).Order("id").Find(&pending).Error; err != nil {
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
		plan, err := models.PlanOf(c, s.DB, org.ID)
		if err != nil {
			s.internal(c, err)
			return
		}
		used, invited, err := models.SeatsUsed(c, s.DB, org.ID, s.now())
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
	var existing int64
	if err := s.DB.WithContext(c).Model(&models.Account{}).Where("email_index = ?", s.Keys.BlindIndex(email)).Count(&existing).Error; err != nil {
		s.internal(c, err)
		return
	}
	if existing > 0 {
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
	err = s.DB.WithContext(c).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&inv).Error; err != nil {
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
	var m models.Account
	if err := s.DB.WithContext(c).Where("id = ? AND organization_id = ? AND status = ?", id, currentOrg(c).ID, "active").Limit(1).Find(&m).Error; err != nil {
		s.internal(c, err)
		return nil, false
	}
	if m.ID == 0 {
		s.fail(c, http.StatusNotFound, "Not found", "There is no such member.")
		return nil, false
	}
	return &m, true
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
	err := s.DB.WithContext(c).Transaction(func(tx *gorm.DB) error {
		if err := s.seatForRole(tx, m.OrganizationID, m.Role, role); err != nil {
			return err
		}
		// Handing over ownership makes the previous owner an admin: an
		// organization has exactly one owner.
		if role == models.RoleOwner {
			if err := tx.Model(&models.Account{}).Where("id = ?", a.ID).Update("role", models.RoleAdmin).Error; err != nil {
				return err
			}
			if err := s.audit(tx, c, m.OrganizationID, a.ID, a.DataKeyID, "account.role_changed", target("account", a.ID), "owner -> admin"); err != nil {
				return err
			}
		}
		if err := tx.Model(&models.Account{}).Where("id = ?", m.ID).Update("role", role).Error; err != nil {
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
	err := s.DB.WithContext(c).Transaction(func(tx *gorm.DB) error {
		if err := tx.Model(&models.Account{}).Where("id = ?", m.ID).Update("status", "disabled").Error; err != nil {
			return err
		}
		if err := tx.Where("account_id = ?", m.ID).Delete(&models.Session{}).Error; err != nil {
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
	var events []models.AuditEvent
	q := s.DB.WithContext(c).Where("organization_id = ?", currentOrg(c).ID).Order("id DESC").Limit(200)
	if action := c.Query("action"); action != "" {
		q = q.Where("action = ?", action)
	}
	if err := q.Find(&events).Error; err != nil {
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
