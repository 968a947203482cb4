package dashboard

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/crypto/bcrypt"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
)

// Languages the dashboard offers.
var Languages = []string{"en", "de", "fr", "es", "it", "nl", "pt"}

func (h *Handler) home(c *gin.Context) {
	a, org := site.CurrentAccount(c), site.CurrentOrg(c)
	members, err := h.Store.ActiveMemberCount(c, org.ID)
	if err != nil {
		h.Internal(c, err)
		return
	}
	h.Render(c, http.StatusOK, "home", h.Page(c, "Overview", "home", gin.H{
		"CompanyName": org.CompanyName, "DisplayName": a.DisplayName, "MFA": a.TOTPEnabled,
		"Region": org.Region, "Members": members, "RequireMFA": org.RequireMFA,
	}))
}

func (h *Handler) profileData(a *models.Account) gin.H {
	return gin.H{"FullName": a.FullName, "DisplayName": a.DisplayName, "AvatarURL": a.AvatarURL, "TimeZone": a.TimeZone,
		"Language": a.Language, "Languages": Languages, "Email": a.Email}
}

func (h *Handler) profilePage(c *gin.Context) {
	h.Render(c, http.StatusOK, "profile", h.Page(c, "Profile", "profile", h.profileData(site.CurrentAccount(c))))
}

func (h *Handler) saveProfile(c *gin.Context) {
	a := *site.CurrentAccount(c)
	a.FullName = strings.TrimSpace(c.PostForm("full_name"))
	a.DisplayName = strings.TrimSpace(c.PostForm("display_name"))
	a.AvatarURL = strings.TrimSpace(c.PostForm("avatar_url"))
	a.TimeZone = strings.TrimSpace(c.PostForm("time_zone"))
	a.Language = c.PostForm("language")
	msg := ""
	switch {
	case a.FullName == "" || len(a.FullName) > 200:
		msg = "Enter your full name (at most 200 characters)."
	case len(a.DisplayName) > 100:
		msg = "Choose a display name of at most 100 characters."
	case a.AvatarURL != "" && !httpsURL(a.AvatarURL):
		msg = "The avatar must be an https:// image URL."
	case !validTimeZone(a.TimeZone):
		msg = "Enter a time zone such as Europe/Berlin or UTC."
	case !contains(Languages, a.Language):
		msg = "Choose one of the offered languages."
	}
	if msg != "" {
		p := h.Page(c, "Profile", "profile", h.profileData(&a))
		p.Error = msg
		h.Render(c, http.StatusUnprocessableEntity, "profile", p)
		return
	}
	if a.DisplayName == "" {
		a.DisplayName = firstName(a.FullName)
	}
	if err := h.Store.SaveProfile(c, a.OrganizationID, &a); err != nil {
		h.Internal(c, err)
		return
	}
	h.RedirectWithFlash(c, "/settings/profile", "saved")
}

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
	err := h.Store.Tx(c, func(tx *store.Store) error {
		if err := tx.EnableTOTP(c, a.OrganizationID, a.ID, step); err != nil {
			return err
		}
		if err := tx.ReplaceRecoveryCodes(c, a.OrganizationID, a.ID, hashes, h.Now()); err != nil {
			return err
		}
		return h.Audit(tx, c, a.OrganizationID, a.ID, a.DataKeyID, "auth.mfa_enabled", site.Target("account", a.ID), "")
	})
	if err != nil {
		h.Internal(c, err)
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
	err := h.Store.Tx(c, func(tx *store.Store) error {
		if err := tx.DisableTOTP(c, a.OrganizationID, a.ID); err != nil {
			return err
		}
		if err := tx.DeleteRecoveryCodes(c, a.OrganizationID, a.ID); err != nil {
			return err
		}
		return h.Audit(tx, c, a.OrganizationID, a.ID, a.DataKeyID, "auth.mfa_disabled", site.Target("account", a.ID), "")
	})
	if err != nil {
		h.Internal(c, err)
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
	err := h.Store.Tx(c, func(tx *store.Store) error {
		if err := tx.ReplaceRecoveryCodes(c, a.OrganizationID, a.ID, hashes, h.Now()); err != nil {
			return err
		}
		return h.Audit(tx, c, a.OrganizationID, a.ID, a.DataKeyID, "auth.recovery_codes_regenerated", site.Target("account", a.ID), "")
	})
	if err != nil {
		h.Internal(c, err)
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
	err = h.Store.Tx(c, func(tx *store.Store) error {
		if err := tx.SetPasswordHash(c, a.OrganizationID, a.ID, hash); err != nil {
			return err
		}
		// Other browsers must sign in again; this one stays.
		if err := tx.DeleteOtherSessions(c, a.OrganizationID, a.ID, sess.ID); err != nil {
			return err
		}
		return h.Audit(tx, c, a.OrganizationID, a.ID, a.DataKeyID, "auth.password_changed", site.Target("account", a.ID), "")
	})
	if err != nil {
		h.Internal(c, err)
		return
	}
	h.sendSecurityAlert(c, a, "Your Convot password was changed", "The password of your Convot account was just changed. If this was not you, reset it now and contact support@convot.io.")
	h.RedirectWithFlash(c, "/settings/security", "password_changed")
}

func (h *Handler) organizationData(o *models.Organization) gin.H {
	return gin.H{"CompanyName": o.CompanyName, "Website": o.Website, "Industry": o.Industry, "TeamSize": o.TeamSize,
		"BillingAddress": o.BillingAddress, "TaxIdentifier": o.TaxIdentifier, "Region": o.Region, "RequireMFA": o.RequireMFA}
}

func (h *Handler) organizationPage(c *gin.Context) {
	h.Render(c, http.StatusOK, "organization", h.Page(c, "Organization", "organization", h.organizationData(site.CurrentOrg(c))))
}

func (h *Handler) saveOrganization(c *gin.Context) {
	a, o := site.CurrentAccount(c), *site.CurrentOrg(c)
	o.CompanyName = strings.TrimSpace(c.PostForm("company_name"))
	o.Website = strings.TrimSpace(c.PostForm("website"))
	o.Industry = strings.TrimSpace(c.PostForm("industry"))
	o.BillingAddress = strings.TrimSpace(c.PostForm("billing_address"))
	o.TaxIdentifier = strings.TrimSpace(c.PostForm("tax_identifier"))
	teamSize, err := strconv.Atoi(strings.TrimSpace(c.DefaultPostForm("team_size", "0")))
	msg := ""
	switch {
	case o.CompanyName == "" || len(o.CompanyName) > 200:
		msg = "Enter the company name (at most 200 characters)."
	case o.Website != "" && !httpURL(o.Website):
		msg = "The website must be an http:// or https:// URL."
	case len(o.Industry) > 100 || len(o.BillingAddress) > 1000 || len(o.TaxIdentifier) > 64:
		msg = "A field is too long."
	case err != nil || teamSize < 0 || teamSize > 1000000:
		msg = "Team size must be a whole number."
	}
	o.TeamSize = teamSize
	if msg != "" {
		p := h.Page(c, "Organization", "organization", h.organizationData(&o))
		p.Error = msg
		h.Render(c, http.StatusUnprocessableEntity, "organization", p)
		return
	}
	err = h.Store.Tx(c, func(tx *store.Store) error {
		if err := tx.SaveOrganizationProfile(c, o.ID, &o); err != nil {
			return err
		}
		return h.Audit(tx, c, o.ID, a.ID, a.DataKeyID, "organization.updated", site.Target("organization", o.ID), "")
	})
	if err != nil {
		h.Internal(c, err)
		return
	}
	h.RedirectWithFlash(c, "/settings/organization", "saved")
}

func (h *Handler) saveOrganizationMFA(c *gin.Context) {
	a, o := site.CurrentAccount(c), site.CurrentOrg(c)
	require := c.PostForm("require_mfa") == "1"
	if require && !a.TOTPEnabled {
		h.Fail(c, http.StatusConflict, "Organization", "Turn on two-factor authentication for yourself before requiring it of everyone.")
		return
	}
	err := h.Store.Tx(c, func(tx *store.Store) error {
		if err := tx.SetRequireMFA(c, o.ID, require); err != nil {
			return err
		}
		return h.Audit(tx, c, o.ID, a.ID, a.DataKeyID, "organization.mfa_required", site.Target("organization", o.ID), strconv.FormatBool(require))
	})
	if err != nil {
		h.Internal(c, err)
		return
	}
	h.RedirectWithFlash(c, "/settings/organization", "saved")
}

func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && len(s) <= 500
}

func httpsURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "https" && u.Host != "" && len(s) <= 500
}

func validTimeZone(tz string) bool {
	if tz == "" || len(tz) > 64 {
		return false
	}
	_, err := time.LoadLocation(tz)
	return err == nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
