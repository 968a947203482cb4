package site

import (
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/subprocessors"
	"github.com/gin-gonic/gin"
)

const (
	SessionCookie = "convot_session"
	CSRFCookie    = "convot_csrf"
	CSRFField     = "csrf_token"
	CSRFHeader    = "X-CSRF-Token"

	ctxCSRF    = "convot.csrf"
	ctxAccount = "convot.account"
	ctxOrg     = "convot.org"
	CtxSession = "convot.session"

	SessionLifetime = 7 * 24 * time.Hour
	SessionIdle     = 24 * time.Hour
)

// CSRF implements the double-submit cookie: every state-changing request
// must echo the random value of the convot_csrf cookie in a form field or
// header. Another site can make the browser send the cookie, but cannot
// read it to echo it.
func (s *Site) CSRF(c *gin.Context) {
	token, err := c.Cookie(CSRFCookie)
	if err != nil || len(token) < 32 {
		token = crypto.RandomToken(32)
		s.SetCSRFCookie(c, token)
	}
	c.Set(ctxCSRF, token)
	switch c.Request.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		c.Next()
		return
	}
	if !s.ParseForm(c) {
		return
	}
	sent := c.GetHeader(CSRFHeader)
	if sent == "" {
		sent = c.Request.PostForm.Get(CSRFField)
	}
	if err != nil || sent == "" || subtle.ConstantTimeCompare([]byte(sent), []byte(token)) != 1 {
		s.Fail(c, http.StatusForbidden, "Forbidden", "Missing or invalid CSRF token. Reload the page and try again.")
		return
	}
	c.Next()
}

func (s *Site) SetCSRFCookie(c *gin.Context, token string) {
	http.SetCookie(c.Writer, &http.Cookie{Name: CSRFCookie, Value: token, Path: "/", HttpOnly: true, Secure: s.Config.TLS(), SameSite: http.SameSiteStrictMode})
	c.Set(ctxCSRF, token)
}

// LoadSession attaches the signed-in account, if any.
func (s *Site) LoadSession(c *gin.Context) {
	token, err := c.Cookie(SessionCookie)
	if err != nil || token == "" {
		c.Next()
		return
	}
	sess, err := s.Store.SessionByTokenHash(c, crypto.HashToken(token))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.Internal(c, err)
		return
	}
	now := s.Now()
	if sess == nil || now.After(sess.ExpiresAt) || now.Sub(sess.LastSeenAt) > SessionIdle {
		if sess != nil {
			// Refused either way; the row is only tidied away.
			if err := s.Store.DeleteSession(c, sess.OrganizationID, sess.ID); err != nil {
				slog.Warn("expired session not deleted", "err", err)
			}
		}
		s.ClearSessionCookie(c)
		c.Next()
		return
	}
	account, err := s.Store.ActiveAccount(c, sess.OrganizationID, sess.AccountID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.Internal(c, err)
		return
	}
	if account == nil {
		s.ClearSessionCookie(c)
		c.Next()
		return
	}
	org, err := s.Store.Organization(c, account.OrganizationID)
	if err != nil {
		s.Internal(c, err)
		return
	}
	if now.Sub(sess.LastSeenAt) > time.Minute {
		// Missed, the session may idle out sooner; the request goes on and
		// the next one tries again.
		if err := s.Store.TouchSession(c, sess.OrganizationID, sess.ID, now); err != nil {
			slog.Warn("session not touched", "err", err)
		}
	}
	c.Set(CtxSession, sess)
	if sess.MFAPending {
		c.Next() // only the second-factor page accepts it; see requireAccount
		return
	}
	c.Set(ctxAccount, account)
	c.Set(ctxOrg, org)
	subprocessors.SentrySetOrganization(c, org.GateContext())
	c.Next()
}

func (s *Site) ClearSessionCookie(c *gin.Context) {
	http.SetCookie(c.Writer, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.Config.TLS(), SameSite: http.SameSiteLaxMode})
}

// Loaded returns what a middleware stored in the request's context under
// key, or nil when it stored nothing (or something else) there.
func Loaded[T any](c *gin.Context, key string) *T {
	v, _ := c.Get(key)
	t, _ := v.(*T)
	return t
}

// CurrentAccount is the signed-in operator, or nil.
func CurrentAccount(c *gin.Context) *models.Account { return Loaded[models.Account](c, ctxAccount) }

// CurrentOrg is the signed-in operator's organization, or nil.
func CurrentOrg(c *gin.Context) *models.Organization {
	return Loaded[models.Organization](c, ctxOrg)
}

// CurrentSession is the session of the request, also one still waiting
// for its second factor, or nil.
func CurrentSession(c *gin.Context) *models.Session { return Loaded[models.Session](c, CtxSession) }

// RequireAccount sends visitors to sign in, half-signed-in sessions to the
// second factor, and members of an organization that requires two-factor
// authentication to set it up first.
func (s *Site) RequireAccount(c *gin.Context) {
	a := CurrentAccount(c)
	if a == nil {
		if sess := CurrentSession(c); sess != nil && sess.MFAPending {
			c.Redirect(http.StatusSeeOther, "/login/mfa")
			c.Abort()
			return
		}
		if WantsJSON(c) {
			c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "sign in first"})
			return
		}
		c.Redirect(http.StatusSeeOther, "/login")
		c.Abort()
		return
	}
	if org := CurrentOrg(c); org.RequireMFA && !a.TOTPEnabled && !strings.HasPrefix(c.FullPath(), "/settings/security") {
		c.Redirect(http.StatusSeeOther, "/settings/security")
		c.Abort()
		return
	}
	c.Next()
}

// Require checks a permission of access.go; 403 otherwise.
func (s *Site) Require(permission string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if a := CurrentAccount(c); a == nil || !Can(a.Role, permission) {
			s.Fail(c, http.StatusForbidden, "Forbidden", "Your role does not allow this.")
			return
		}
		c.Next()
	}
}

// RequireStaff lets through Convot's own staff only (models.StaffMember),
// after RequireAccount. Policy §10 requires multi-factor authentication of
// all support and engineering staff: a staff account without TOTP is sent
// to set it up and sees nothing of the console before.
func (s *Site) RequireStaff(c *gin.Context) {
	a := CurrentAccount(c)
	if a == nil {
		s.Fail(c, http.StatusForbidden, "Forbidden", "The staff console is for Convot's staff.")
		return
	}
	_, err := s.Store.ActiveStaffMember(c, a.ID)
	if errors.Is(err, store.ErrNotFound) {
		s.Fail(c, http.StatusForbidden, "Forbidden", "The staff console is for Convot's staff.")
		return
	}
	if err != nil {
		s.Internal(c, err)
		c.Abort()
		return
	}
	if !a.TOTPEnabled {
		s.Fail(c, http.StatusForbidden, "Two-factor authentication required",
			"Convot's staff must sign in with two-factor authentication (privacy policy §10). Turn it on in Settings → Security, then come back.")
		return
	}
	c.Next()
}
