package dashboard

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/crypto/bcrypt"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/internal/crypto"
	convotmail "github.com/convot/convot/internal/mail"
	"github.com/convot/convot/models"
	"github.com/convot/convot/plans"
	"github.com/convot/convot/store"
)

// BcryptCost is the work factor of password hashes (policy §10).
const BcryptCost = 12

const (
	maxFailedLogins    = 5
	lockoutDuration    = 15 * time.Minute
	resetLifetime      = time.Hour
	invitationLifetime = 7 * 24 * time.Hour
	minPasswordLength  = 10
)

// A hash to compare against when the email is unknown, so that a wrong
// email takes as long as a wrong password.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("convot-timing-equaliser"), BcryptCost)

type signupForm struct {
	FullName, Email, CompanyName, Region string
}

func (h *Handler) signupPage(c *gin.Context) {
	if site.CurrentAccount(c) != nil {
		c.Redirect(http.StatusSeeOther, "/")
		return
	}
	h.Render(c, http.StatusOK, "signup", h.Page(c, "Sign up", "", signupForm{Region: "us"}))
}

func (h *Handler) signup(c *gin.Context) {
	f := signupForm{
		FullName:    strings.TrimSpace(c.PostForm("full_name")),
		Email:       strings.TrimSpace(c.PostForm("email")),
		CompanyName: strings.TrimSpace(c.PostForm("company_name")),
		Region:      c.PostForm("region"),
	}
	password := c.PostForm("password")
	bad := func(msg string) {
		p := h.Page(c, "Sign up", "", f)
		p.Error = msg
		if site.WantsJSON(c) {
			c.JSON(http.StatusUnprocessableEntity, gin.H{"error": msg})
			return
		}
		h.Render(c, http.StatusUnprocessableEntity, "signup", p)
	}
	email, err := validEmail(f.Email)
	if err != nil {
		bad(err.Error())
		return
	}
	switch {
	case f.FullName == "" || len(f.FullName) > 200:
		bad("Enter your full name (at most 200 characters).")
		return
	case f.CompanyName == "" || len(f.CompanyName) > 200:
		bad("Enter your company name (at most 200 characters).")
		return
	case f.Region != "us" && f.Region != "eu":
		bad("Choose where your data is processed: us or eu.")
		return
	}
	if msg := checkPassword(password); msg != "" {
		bad(msg)
		return
	}
	hash, err := HashPassword(password)
	if err != nil {
		h.Internal(c, err)
		return
	}
	var account models.Account
	err = h.Store.Tx(c, func(tx *store.Store) error {
		taken, err := tx.AccountEmailTaken(c, email)
		if err != nil {
			return err
		}
		if taken {
			return errDuplicateEmail
		}
		org := models.Organization{PublicKey: crypto.RandomToken(16), CompanyName: f.CompanyName, Region: f.Region, Status: models.OrgActive}
		if err := tx.CreateOrganization(c, &org); err != nil {
			return err
		}
		account = models.Account{
			OrganizationID: org.ID, FullName: f.FullName, DisplayName: firstName(f.FullName), Email: email,
			PasswordHash: hash, Role: models.RoleOwner, TimeZone: "UTC", Language: "en", Status: "active",
		}
		if err := tx.CreateAccount(c, &account); err != nil {
			if errors.Is(err, store.ErrEmailTaken) {
				return errDuplicateEmail
			}
			return err
		}
		return h.Audit(tx, c, org.ID, account.ID, account.DataKeyID, "auth.signup", site.Target("account", account.ID), "")
	})
	if errors.Is(err, errDuplicateEmail) {
		if site.WantsJSON(c) {
			c.JSON(http.StatusConflict, gin.H{"error": "An account with this email already exists."})
			return
		}
		p := h.Page(c, "Sign up", "", f)
		p.Error = "An account with this email already exists. Sign in instead."
		h.Render(c, http.StatusConflict, "signup", p)
		return
	}
	if err != nil {
		h.Internal(c, err)
		return
	}
	if err := h.startSession(c, &account, false); err != nil {
		h.Internal(c, err)
		return
	}
	h.RedirectWithFlash(c, "/", "welcome")
}

var errDuplicateEmail = errors.New("duplicate email")

func (h *Handler) loginPage(c *gin.Context) {
	if site.CurrentAccount(c) != nil {
		c.Redirect(http.StatusSeeOther, "/")
		return
	}
	h.Render(c, http.StatusOK, "login", h.Page(c, "Sign in", "", gin.H{"Email": ""}))
}

func (h *Handler) login(c *gin.Context) {
	email := strings.TrimSpace(c.PostForm("email"))
	password := c.PostForm("password")
	refuse := func(status int, msg string) {
		if site.WantsJSON(c) {
			c.JSON(status, gin.H{"error": msg})
			return
		}
		p := h.Page(c, "Sign in", "", gin.H{"Email": email})
		p.Error = msg
		h.Render(c, status, "login", p)
	}
	if !h.AllowAttempt(c, "login:"+c.ClientIP()) {
		refuse(http.StatusTooManyRequests, "Too many sign-in attempts from your network. Wait a few minutes and try again.")
		return
	}
	if email == "" || password == "" {
		refuse(http.StatusBadRequest, "Enter your email and password.")
		return
	}
	account, err := h.Store.ActiveAccountByEmail(c, email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		h.Internal(c, err)
		return
	}
	now := h.Now()
	if account == nil {
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password)) // for its time only: it never matches
		h.auditAuth(c, 0, 0, h.Keys.SystemKey(), "auth.login_failed", "", "unknown email")
		refuse(http.StatusUnauthorized, "Wrong email or password.")
		return
	}
	if account.LockedUntil != nil && now.Before(*account.LockedUntil) {
		h.auditAuth(c, account.OrganizationID, account.ID, account.DataKeyID, "auth.login_refused_locked", site.Target("account", account.ID), "")
		minutes := int(account.LockedUntil.Sub(now).Minutes()) + 1
		refuse(http.StatusTooManyRequests, fmt.Sprintf("This account is locked after too many failed sign-ins. Try again in %d minutes, or reset your password.", minutes))
		return
	}
	if bcrypt.CompareHashAndPassword([]byte(account.PasswordHash), []byte(password)) != nil {
		failedLogins := account.FailedLogins + 1
		var lockedUntil *time.Time
		detail := fmt.Sprintf("failure %d", account.FailedLogins+1)
		if account.FailedLogins+1 >= maxFailedLogins {
			until := now.Add(lockoutDuration).UTC()
			lockedUntil = &until
			failedLogins = 0
			detail += ", locked"
		}
		if err := h.Store.RecordFailedLogin(c, account.ID, failedLogins, lockedUntil); err != nil {
			h.Internal(c, err)
			return
		}
		h.auditAuth(c, account.OrganizationID, account.ID, account.DataKeyID, "auth.login_failed", site.Target("account", account.ID), detail)
		refuse(http.StatusUnauthorized, "Wrong email or password.")
		return
	}
	if err := h.Store.ClearFailedLogins(c, account.ID); err != nil {
		h.Internal(c, err)
		return
	}
	if err := h.startSession(c, account, account.TOTPEnabled); err != nil {
		h.Internal(c, err)
		return
	}
	if account.TOTPEnabled {
		if site.WantsJSON(c) {
			c.JSON(http.StatusOK, gin.H{"next": "/login/mfa"})
			return
		}
		c.Redirect(http.StatusSeeOther, "/login/mfa")
		return
	}
	h.completeLogin(c, account, "password")
}

// auditAuth records an authentication event (sign-in, its failure,
// sign-out, reset request) in the audit log. The answer does not depend on
// it: a failure is logged with the action and the error only (no account,
// address or IP), and the request goes on as before.
func (h *Handler) auditAuth(c *gin.Context, orgID, actorID, keyID uint64, action, target, detail string) {
	if err := h.Audit(h.Store, c, orgID, actorID, keyID, action, target, detail); err != nil {
		slog.Error("audit event not recorded", "action", action, "err", err)
	}
}

// completeLogin records a full sign-in and tells the account holder.
func (h *Handler) completeLogin(c *gin.Context, account *models.Account, method string) {
	now := h.Now().UTC()
	if err := h.Store.SetLastLogin(c, account.OrganizationID, account.ID, now); err != nil {
		// A record, not a gate: the sign-in stands without it.
		slog.Warn("last sign-in not recorded", "err", err)
	}
	h.auditAuth(c, account.OrganizationID, account.ID, account.DataKeyID, "auth.login", site.Target("account", account.ID), method)
	browser, os, _ := site.DescribeUserAgent(c.Request.UserAgent())
	h.sendSecurityAlert(c, account, "New sign-in to your Convot account",
		fmt.Sprintf("Someone signed in to your Convot account at %s using %s on %s.\n\nIf this was not you, reset your password now: %s/password/forgot",
			now.Format("2006-01-02 15:04 UTC"), orUnknown(browser), orUnknown(os), h.Config.BaseURL))
	if site.WantsJSON(c) {
		c.JSON(http.StatusOK, gin.H{"next": "/"})
		return
	}
	c.Redirect(http.StatusSeeOther, "/")
}

func orUnknown(s string) string {
	if s == "" {
		return "an unknown browser"
	}
	return s
}

// startSession issues a new session cookie (and a new CSRF token, so one
// planted before sign-in is worthless after it).
func (h *Handler) startSession(c *gin.Context, account *models.Account, mfaPending bool) error {
	if old := site.CurrentSession(c); old != nil {
		if err := h.Store.DeleteSession(c, old.OrganizationID, old.ID); err != nil {
			return err
		}
	}
	token := crypto.RandomToken(32)
	now := h.Now().UTC()
	sess := models.Session{
		TokenHash: crypto.HashToken(token), AccountID: account.ID, OrganizationID: account.OrganizationID,
		DataKeyID: account.DataKeyID, MFAPending: mfaPending, IP: c.ClientIP(), UserAgent: site.Truncate(c.Request.UserAgent(), 500),
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(site.SessionLifetime),
	}
	if err := h.Store.CreateSession(c, &sess); err != nil {
		return err
	}
	http.SetCookie(c.Writer, &http.Cookie{
		Name: site.SessionCookie, Value: token, Path: "/", HttpOnly: true, Secure: h.Config.TLS(),
		SameSite: http.SameSiteLaxMode, Expires: sess.ExpiresAt,
	})
	h.SetCSRFCookie(c, crypto.RandomToken(32))
	return nil
}

func (h *Handler) mfaPage(c *gin.Context) {
	if sess := site.CurrentSession(c); sess == nil || !sess.MFAPending {
		c.Redirect(http.StatusSeeOther, "/login")
		return
	}
	h.Render(c, http.StatusOK, "mfa", h.Page(c, "Two-factor authentication", "", nil))
}

func (h *Handler) mfaLogin(c *gin.Context) {
	sess := site.CurrentSession(c)
	if sess == nil || !sess.MFAPending {
		h.Fail(c, http.StatusUnauthorized, "Sign in first", "Your sign-in has expired. Sign in again.")
		return
	}
	refuse := func(status int, msg string) {
		if site.WantsJSON(c) {
			c.JSON(status, gin.H{"error": msg})
			return
		}
		p := h.Page(c, "Two-factor authentication", "", nil)
		p.Error = msg
		h.Render(c, status, "mfa", p)
	}
	if !h.AllowAttempt(c, fmt.Sprintf("mfa:%d", sess.AccountID)) {
		refuse(http.StatusTooManyRequests, "Too many attempts. Wait a few minutes and try again.")
		return
	}
	account, err := h.Store.Account(c, sess.OrganizationID, sess.AccountID)
	if err != nil {
		h.Internal(c, err)
		return
	}
	code := strings.TrimSpace(c.PostForm("code"))
	method, err := h.checkSecondFactor(c, account, code)
	if err != nil {
		h.auditAuth(c, account.OrganizationID, account.ID, account.DataKeyID, "auth.mfa_failed", site.Target("account", account.ID), "")
		refuse(http.StatusUnauthorized, "That code is not valid. Codes can be used once; wait for the next one.")
		return
	}
	if err := h.Store.CompleteSessionMFA(c, sess.OrganizationID, sess.ID); err != nil {
		h.Internal(c, err)
		return
	}
	h.completeLogin(c, account, method)
}

// checkSecondFactor accepts a current TOTP code once, or an unused
// recovery code, and returns which it was.
func (h *Handler) checkSecondFactor(ctx context.Context, account *models.Account, code string) (string, error) {
	if step, ok := matchTOTP(account.TOTPSecret, code, h.Now(), account.TOTPLastStep); ok {
		// The conditional update makes a code single-use even under races.
		claimed, err := h.Store.ClaimTOTPStep(ctx, account.ID, step)
		if err != nil {
			return "", err
		}
		if claimed {
			account.TOTPLastStep = step
			return "totp", nil
		}
		return "", errBadCode
	}
	normalized := normalizeRecoveryCode(code)
	if normalized == "" {
		return "", errBadCode
	}
	used, err := h.Store.UseRecoveryCode(ctx, account.ID, crypto.HashToken(normalized), h.Now().UTC())
	if err != nil {
		return "", err
	}
	if used {
		return "recovery_code", nil
	}
	return "", errBadCode
}

var errBadCode = errors.New("invalid code")

func (h *Handler) logout(c *gin.Context) {
	if sess := site.CurrentSession(c); sess != nil {
		// Signed out means the session is over on the server too, not only
		// its cookie gone: if it cannot be deleted, say so.
		if err := h.Store.DeleteSession(c, sess.OrganizationID, sess.ID); err != nil {
			h.Internal(c, err)
			return
		}
		if a := site.CurrentAccount(c); a != nil {
			h.auditAuth(c, a.OrganizationID, a.ID, a.DataKeyID, "auth.logout", site.Target("account", a.ID), "")
		}
	}
	h.ClearSessionCookie(c)
	h.RedirectWithFlash(c, "/login", "signed_out")
}

func (h *Handler) forgotPage(c *gin.Context) {
	h.Render(c, http.StatusOK, "forgot", h.Page(c, "Reset your password", "", nil))
}

// forgot answers the same whether or not the account exists, so the form
// cannot be used to discover who has an account.
func (h *Handler) forgot(c *gin.Context) {
	email, err := validEmail(c.PostForm("email"))
	if err != nil {
		p := h.Page(c, "Reset your password", "", nil)
		p.Error = err.Error()
		h.Render(c, http.StatusUnprocessableEntity, "forgot", p)
		return
	}
	if !h.AllowAttempt(c, "reset:"+c.ClientIP()) {
		h.Fail(c, http.StatusTooManyRequests, "Too many requests", "Too many reset requests. Wait a few minutes and try again.")
		return
	}
	account, err := h.Store.ActiveAccountByEmail(c, email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		h.Internal(c, err)
		return
	}
	if account != nil {
		token := crypto.RandomToken(32)
		reset := models.PasswordReset{AccountID: account.ID, TokenHash: crypto.HashToken(token), ExpiresAt: h.Now().Add(resetLifetime).UTC(), CreatedAt: h.Now().UTC()}
		if err := h.Store.CreatePasswordReset(c, &reset); err != nil {
			h.Internal(c, err)
			return
		}
		h.auditAuth(c, account.OrganizationID, account.ID, account.DataKeyID, "auth.password_reset_requested", site.Target("account", account.ID), "")
		h.Send(c, convotmail.Message{
			To: account.Email, Subject: "Reset your Convot password", Tag: "password_reset", Org: h.OrgContext(c, account.OrganizationID),
			Text: fmt.Sprintf("Someone asked to reset the password of your Convot account.\n\nChoose a new password within one hour: %s/password/reset?token=%s\n\nIf this was not you, ignore this email; your password stays as it is.", h.Config.BaseURL, token),
		})
	}
	h.RedirectWithFlash(c, "/login", "reset_sent")
}

func (h *Handler) findReset(c *gin.Context, token string) (*models.PasswordReset, bool) {
	return findLiveToken(h, c, token, h.Store.PasswordResetByTokenHash,
		func(r *models.PasswordReset) (bool, time.Time) { return r.UsedAt != nil, r.ExpiresAt })
}

// claimed turns a single-use row's claim into errBadCode when it was used
// already, so two concurrent uses cannot both pass.
func claimed(ok bool, err error) error {
	if err == nil && !ok {
		return errBadCode
	}
	return err
}

// findLiveToken loads the row whose token hash matches a single-use link's
// token, unless it was used or has expired.
func findLiveToken[T any](h *Handler, c *gin.Context, token string, byHash func(context.Context, string) (*T, error), state func(*T) (used bool, expires time.Time)) (*T, bool) {
	if token == "" {
		return nil, false
	}
	row, err := byHash(c, crypto.HashToken(token))
	if err != nil {
		return nil, false
	}
	used, expires := state(row)
	if used || h.Now().After(expires) {
		return nil, false
	}
	return row, true
}

func (h *Handler) resetPage(c *gin.Context) {
	token := c.Query("token")
	if _, ok := h.findReset(c, token); !ok {
		h.Fail(c, http.StatusGone, "Link expired", "This reset link is invalid, used or expired. Ask for a new one.")
		return
	}
	h.Render(c, http.StatusOK, "reset", h.Page(c, "Choose a new password", "", gin.H{"Token": token}))
}

func (h *Handler) reset(c *gin.Context) {
	token := c.PostForm("token")
	reset, ok := h.findReset(c, token)
	if !ok {
		h.Fail(c, http.StatusGone, "Link expired", "This reset link is invalid, used or expired. Ask for a new one.")
		return
	}
	password := c.PostForm("password")
	if msg := checkPassword(password); msg != "" {
		p := h.Page(c, "Choose a new password", "", gin.H{"Token": token})
		p.Error = msg
		h.Render(c, http.StatusUnprocessableEntity, "reset", p)
		return
	}
	hash, err := HashPassword(password)
	if err != nil {
		h.Internal(c, err)
		return
	}
	var account *models.Account
	err = h.Store.Tx(c, func(tx *store.Store) error {
		if err := claimed(tx.ClaimPasswordReset(c, reset.ID, h.Now().UTC())); err != nil {
			return err
		}
		var err error
		if account, err = tx.PasswordResetAccount(c, reset); err != nil {
			return err
		}
		if err := tx.ResetPassword(c, account.OrganizationID, account.ID, hash); err != nil {
			return err
		}
		// Every signed-in browser must sign in again with the new password.
		if err := tx.DeleteSessions(c, account.OrganizationID, account.ID); err != nil {
			return err
		}
		return h.Audit(tx, c, account.OrganizationID, account.ID, account.DataKeyID, "auth.password_reset", site.Target("account", account.ID), "")
	})
	if errors.Is(err, errBadCode) {
		h.Fail(c, http.StatusGone, "Link expired", "This reset link was already used.")
		return
	}
	if err != nil {
		h.Internal(c, err)
		return
	}
	h.sendSecurityAlert(c, account, "Your Convot password was changed", "The password of your Convot account was just reset. If this was not you, contact support@convot.io at once.")
	h.RedirectWithFlash(c, "/login", "password_reset")
}

func (h *Handler) findInvitation(c *gin.Context, token string) (*models.Invitation, bool) {
	return findLiveToken(h, c, token, h.Store.InvitationByTokenHash,
		func(i *models.Invitation) (bool, time.Time) { return i.AcceptedAt != nil, i.ExpiresAt })
}

func (h *Handler) acceptPage(c *gin.Context) {
	token := c.Query("token")
	inv, ok := h.findInvitation(c, token)
	if !ok {
		h.Fail(c, http.StatusGone, "Invitation expired", "This invitation is invalid, used or expired. Ask for a new one.")
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
		h.Fail(c, http.StatusGone, "Invitation expired", "This invitation is invalid, used or expired. Ask for a new one.")
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
	if err := h.startSession(c, &account, false); err != nil {
		h.Internal(c, err)
		return
	}
	h.RedirectWithFlash(c, "/", "welcome")
}

// sendSecurityAlert sends a transactional security alert (policy §4).
func (h *Handler) sendSecurityAlert(c *gin.Context, account *models.Account, subject, text string) {
	h.Send(c, convotmail.Message{To: account.Email, Subject: subject, Text: text, Tag: "security_alert",
		Org: h.OrgContext(c, account.OrganizationID)})
}

// validEmail is the address as Convot keeps it (convotmail.CanonicalAddress).
func validEmail(s string) (string, error) { return convotmail.CanonicalAddress(s) }

func checkPassword(p string) string {
	switch {
	case len([]rune(p)) < minPasswordLength:
		return fmt.Sprintf("Choose a password of at least %d characters.", minPasswordLength)
	case len(p) > 72:
		return "Choose a password of at most 72 bytes."
	}
	return ""
}

func firstName(full string) string {
	if f := strings.Fields(full); len(f) > 0 {
		return f[0]
	}
	return full
}

// timingSafeEqual compares secrets.
func timingSafeEqual(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// HashPassword hashes a password with the work factor Convot uses.
func HashPassword(p string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(p), BcryptCost)
	return string(h), err
}
