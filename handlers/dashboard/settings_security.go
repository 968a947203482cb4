package dashboard

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"golang.org/x/crypto/bcrypt"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
)

func (h *Handler) securityPage(c *gin.Context) {
	a, org := site.CurrentAccount(c), site.CurrentOrg(c)
	data := gin.H{"Enabled": a.TOTPEnabled, "Required": org.RequireMFA}
	if a.TOTPEnabled {
		left, err := h.Store.RecoveryCodesLeft(c, a.OrganizationID, a.ID)
		if err != nil {
			h.Internal(c, err)
			return
		}
		data["RecoveryLeft"] = left
	} else {
		// A pending secret is kept until enrolment succeeds, so reloading
		// the page does not invalidate a code already scanned.
		if a.TOTPSecret == "" {
			secret, err := newTOTPSecret(a.Email)
			if err != nil {
				h.Internal(c, err)
				return
			}
			a.TOTPSecret = secret
			if err := h.Store.SaveTOTPSecret(c, a.OrganizationID, a); err != nil {
				h.Internal(c, err)
				return
			}
		}
		qr, err := totpQR(a.TOTPSecret, a.Email)
		if err != nil {
			h.Internal(c, err)
			return
		}
		data["QR"], data["Secret"] = qrURL(qr), a.TOTPSecret
	}
	h.Render(c, http.StatusOK, "security", h.Page(c, "Security", "security", data))
}

func (h *Handler) securityError(c *gin.Context, status int, msg string) {
	if site.WantsJSON(c) {
		c.JSON(status, gin.H{"error": msg})
		return
	}
	h.Fail(c, status, "Security", msg)
}

// changeOwnAccount applies change to the signed-in account a and records
// the audit event action about it in one transaction; false when it
// answered.
func (h *Handler) changeOwnAccount(c *gin.Context, a *models.Account, action string, change func(tx *store.Store) error) bool {
	err := h.Store.Tx(c, func(tx *store.Store) error {
		if err := change(tx); err != nil {
			return err
		}
		return h.Audit(tx, c, a.OrganizationID, a.ID, a.DataKeyID, action, site.Target("account", a.ID), "")
	})
	if err != nil {
		h.Internal(c, err)
		return false
	}
	return true
}

func (h *Handler) enableMFA(c *gin.Context) {
	a := site.CurrentAccount(c)
	if a.TOTPEnabled {
		h.securityError(c, http.StatusConflict, "Two-factor authentication is already on.")
		return
	}
	step, ok := matchTOTP(a.TOTPSecret, c.PostForm("code"), h.Now(), a.TOTPLastStep)
	if !ok {
		h.securityError(c, http.StatusUnprocessableEntity, "That code is not valid. Check your authenticator app's clock and enter the current code.")
		return
	}
	codes, hashes := newRecoveryCodes()
	if !h.changeOwnAccount(c, a, "auth.mfa_enabled", func(tx *store.Store) error {
		if err := tx.EnableTOTP(c, a.OrganizationID, a.ID, step); err != nil {
			return err
		}
		return tx.ReplaceRecoveryCodes(c, a.OrganizationID, a.ID, hashes, h.Now())
	}) {
		return
	}
	h.sendSecurityAlert(c, a, "Two-factor authentication turned on", "Two-factor authentication is now on for your Convot account. If this was not you, contact support@convot.io at once.")
	if site.WantsJSON(c) {
		c.JSON(http.StatusOK, gin.H{"recovery_codes": codes})
		return
	}
	h.Render(c, http.StatusOK, "recovery", h.Page(c, "Recovery codes", "security", codes))
}

func (h *Handler) disableMFA(c *gin.Context) {
	a, org := site.CurrentAccount(c), site.CurrentOrg(c)
	if org.RequireMFA {
		h.securityError(c, http.StatusForbidden, "Your organization requires two-factor authentication.")
		return
	}
	if !a.TOTPEnabled {
		h.securityError(c, http.StatusConflict, "Two-factor authentication is already off.")
		return
	}
	if bcrypt.CompareHashAndPassword([]byte(a.PasswordHash), []byte(c.PostForm("password"))) != nil {
		h.securityError(c, http.StatusUnauthorized, "Wrong password.")
		return
	}
	if _, err := h.checkSecondFactor(c, a, c.PostForm("code")); err != nil {
		h.securityError(c, http.StatusUnauthorized, "That code is not valid.")
		return
	}
	if !h.changeOwnAccount(c, a, "auth.mfa_disabled", func(tx *store.Store) error {
		if err := tx.DisableTOTP(c, a.OrganizationID, a.ID); err != nil {
			return err
		}
		return tx.DeleteRecoveryCodes(c, a.OrganizationID, a.ID)
	}) {
		return
	}
	h.sendSecurityAlert(c, a, "Two-factor authentication turned off", "Two-factor authentication is now off for your Convot account. If this was not you, reset your password and contact support@convot.io at once.")
	h.RedirectWithFlash(c, "/settings/security", "mfa_off")
}

func (h *Handler) regenerateRecoveryCodes(c *gin.Context) {
	a := site.CurrentAccount(c)
	if !a.TOTPEnabled {
		h.securityError(c, http.StatusConflict, "Turn on two-factor authentication first.")
		return
	}
	if _, ok := matchTOTP(a.TOTPSecret, c.PostForm("code"), h.Now(), a.TOTPLastStep); !ok {
		h.securityError(c, http.StatusUnauthorized, "That code is not valid.")
		return
	}
	codes, hashes := newRecoveryCodes()
	if !h.changeOwnAccount(c, a, "auth.recovery_codes_regenerated", func(tx *store.Store) error {
		return tx.ReplaceRecoveryCodes(c, a.OrganizationID, a.ID, hashes, h.Now())
	}) {
		return
	}
	h.Render(c, http.StatusOK, "recovery", h.Page(c, "Recovery codes", "security", codes))
}

func (h *Handler) changePassword(c *gin.Context) {
	a := site.CurrentAccount(c)
	if bcrypt.CompareHashAndPassword([]byte(a.PasswordHash), []byte(c.PostForm("current_password"))) != nil {
		h.securityError(c, http.StatusUnauthorized, "Your current password is wrong.")
		return
	}
	password := c.PostForm("password")
	if msg := checkPassword(password); msg != "" {
		h.securityError(c, http.StatusUnprocessableEntity, msg)
		return
	}
	hash, err := HashPassword(password)
	if err != nil {
		h.Internal(c, err)
		return
	}
	sess := site.CurrentSession(c)
	if !h.changeOwnAccount(c, a, "auth.password_changed", func(tx *store.Store) error {
		if err := tx.SetPasswordHash(c, a.OrganizationID, a.ID, hash); err != nil {
			return err
		}
		// Other browsers must sign in again; this one stays.
		return tx.DeleteOtherSessions(c, a.OrganizationID, a.ID, sess.ID)
	}) {
		return
	}
	h.sendSecurityAlert(c, a, "Your Convot password was changed", "The password of your Convot account was just changed. If this was not you, reset it now and contact support@convot.io.")
	h.RedirectWithFlash(c, "/settings/security", "password_changed")
}
