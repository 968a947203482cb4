package dashboard

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/models"
	"github.com/convot/convot/plans"
	"github.com/convot/convot/store"
)

func (h *Handler) findInvitation(c *gin.Context, token string) (*models.Invitation, bool) {
	return findLiveToken(h, c, token, h.Store.InvitationByTokenHash,
		func(i *models.Invitation) (bool, time.Time) { return i.AcceptedAt != nil, i.ExpiresAt },
		"Invitation expired", "This invitation is invalid, used or expired. Ask for a new one.")
}

func (h *Handler) acceptPage(c *gin.Context) {
	token := c.Query("token")
	inv, ok := h.findInvitation(c, token)
	if !ok {
		return
	}
	org, err := h.Store.Organization(c, inv.OrganizationID)
	if err != nil {
		h.Internal(c, err)
		return
	}
	h.Render(c, http.StatusOK, "accept", h.Page(c, "Join "+org.CompanyName, "", gin.H{"Token": token, "CompanyName": org.CompanyName, "Role": inv.Role, "Email": inv.Email}))
}

func (h *Handler) accept(c *gin.Context) {
	token := c.PostForm("token")
	inv, ok := h.findInvitation(c, token)
	if !ok {
		return
	}
	fullName := strings.TrimSpace(c.PostForm("full_name"))
	password := c.PostForm("password")
	msg := checkPassword(password)
	if fullName == "" || len(fullName) > 200 {
		msg = "Enter your full name (at most 200 characters)."
	}
	if msg != "" {
		h.Fail(c, http.StatusUnprocessableEntity, "Check the form", msg)
		return
	}
	hash, err := HashPassword(password)
	if err != nil {
		h.Internal(c, err)
		return
	}
	var account models.Account
	err = h.Store.Tx(c, func(tx *store.Store) error {
		if err := claimed(tx.ClaimInvitation(c, inv.ID, h.Now().UTC())); err != nil {
			return err
		}
		if err := h.Plans.SeatForMember(c, tx, inv.OrganizationID, inv.Role); err != nil {
			return err
		}
		account = models.Account{
			OrganizationID: inv.OrganizationID, FullName: fullName, DisplayName: firstName(fullName), Email: inv.Email,
			PasswordHash: hash, Role: inv.Role, TimeZone: "UTC", Language: "en", Status: "active",
		}
		if err := tx.CreateAccount(c, &account); err != nil {
			if errors.Is(err, store.ErrEmailTaken) {
				return errDuplicateEmail
			}
			return err
		}
		// The invitation's own key goes: its copy of the email is shredded.
		if err := tx.ShredInvitationEmail(c, inv.OrganizationID, inv.ID); err != nil {
			return err
		}
		return h.Audit(tx, c, account.OrganizationID, account.ID, account.DataKeyID, "team.joined", site.Target("account", account.ID), account.Role)
	})
	switch {
	case errors.Is(err, errDuplicateEmail):
		h.Fail(c, http.StatusConflict, "Already a member", "An account with this email already exists. Sign in instead.")
		return
	case errors.Is(err, errBadCode):
		h.Fail(c, http.StatusGone, "Invitation expired", "This invitation was already used.")
		return
	case plans.LimitMessage(err) != "":
		h.Fail(c, http.StatusPaymentRequired, "No seat left", plans.LimitMessage(err))
		return
	case err != nil:
		h.Internal(c, err)
		return
	}
	h.Finish(c, h.startSession(c, &account, false), "/", "welcome")
}
