package dashboard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"golang.org/x/crypto/bcrypt"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
)

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
	// The attempt is counted before the password is checked: a burst of
	// parallel guesses gets maxFailedLogins checks, not one per guess.
	attempt, err := h.Store.AdmitLoginAttempt(c, account.ID, now, maxFailedLogins, lockoutDuration)
	if err != nil {
		h.Internal(c, err)
		return
	}
	if !attempt.Admitted {
		h.auditAuth(c, account.OrganizationID, account.ID, account.DataKeyID, "auth.login_refused_locked", site.Target("account", account.ID), "")
		h.countFailedSignIn(c, account)
		minutes := int(attempt.LockedUntil.Sub(now).Minutes()) + 1
		refuse(http.StatusTooManyRequests, fmt.Sprintf("This account is locked after too many failed sign-ins. Try again in %d minutes, or reset your password.", minutes))
		return
	}
	if bcrypt.CompareHashAndPassword([]byte(account.PasswordHash), []byte(password)) != nil {
		detail := fmt.Sprintf("failure %d", attempt.Count)
		if attempt.LockedUntil != nil {
			detail += ", locked"
		}
		h.auditAuth(c, account.OrganizationID, account.ID, account.DataKeyID, "auth.login_failed", site.Target("account", account.ID), detail)
		h.countFailedSignIn(c, account)
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

// countFailedSignIn counts a failed sign-in to account for the
// unusual-activity alerts (per account, per IP); the answer does not wait
// on a failure to count it.
func (h *Handler) countFailedSignIn(c *gin.Context, account *models.Account) {
	if err := h.Alerts.FailedSignIn(c, account.OrganizationID, account.ID, c.ClientIP()); err != nil {
		slog.Warn("failed sign-in not counted for alerts", "err", err)
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
	if err := h.Alerts.SignedIn(c, account.OrganizationID, account.ID, c.ClientIP()); err != nil {
		slog.Warn("sign-in country not recorded for alerts", "err", err)
	}
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
		h.countFailedSignIn(c, account)
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
