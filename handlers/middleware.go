package handlers

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/internal/ratelimit"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/subprocessors"
)

const (
	sessionCookie = "convot_session"
	csrfCookie    = "convot_csrf"
	csrfField     = "csrf_token"
	csrfHeader    = "X-CSRF-Token"

	ctxCSRF    = "convot.csrf"
	ctxAccount = "convot.account"
	ctxOrg     = "convot.org"
	ctxSession = "convot.session"

	sessionLifetime = 7 * 24 * time.Hour
	sessionIdle     = 24 * time.Hour
)

// securityHeaders sets the headers every response carries (policy §10).
func (s *Server) securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
	if s.Config.TLS() {
		h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	}
	c.Next()
}

// limitBody refuses bodies over the configured size with 413.
func (s *Server) limitBody(c *gin.Context) {
	if s.largeBodies[c.FullPath()] {
		c.Next() // the upload handler limits the body itself
		return
	}
	if c.Request.ContentLength > s.Config.MaxBodyBytes {
		s.fail(c, http.StatusRequestEntityTooLarge, "Too large", "The request body is too large.")
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, s.Config.MaxBodyBytes)
	c.Next()
}

// form reads a form field, answering 413 or 400 when the body cannot be
// read; ok is false when the request has been answered.
func (s *Server) parseForm(c *gin.Context) bool {
	if err := c.Request.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			s.fail(c, http.StatusRequestEntityTooLarge, "Too large", "The request body is too large.")
		} else {
			s.fail(c, http.StatusBadRequest, "Bad request", "The form could not be read.")
		}
		return false
	}
	return true
}

// csrf implements the double-submit cookie: every state-changing request
// must echo the random value of the convot_csrf cookie in a form field or
// header. Another site can make the browser send the cookie, but cannot
// read it to echo it.
func (s *Server) csrf(c *gin.Context) {
	token, err := c.Cookie(csrfCookie)
	if err != nil || len(token) < 32 {
		token = crypto.RandomToken(32)
		s.setCSRFCookie(c, token)
	}
	c.Set(ctxCSRF, token)
	switch c.Request.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		c.Next()
		return
	}
	if !s.parseForm(c) {
		return
	}
	sent := c.GetHeader(csrfHeader)
	if sent == "" {
		sent = c.Request.PostForm.Get(csrfField)
	}
	if err != nil || sent == "" || subtle.ConstantTimeCompare([]byte(sent), []byte(token)) != 1 {
		s.fail(c, http.StatusForbidden, "Forbidden", "Missing or invalid CSRF token. Reload the page and try again.")
		return
	}
	c.Next()
}

func (s *Server) setCSRFCookie(c *gin.Context, token string) {
	http.SetCookie(c.Writer, &http.Cookie{Name: csrfCookie, Value: token, Path: "/", HttpOnly: true, Secure: s.Config.TLS(), SameSite: http.SameSiteStrictMode})
	c.Set(ctxCSRF, token)
}

// loadSession attaches the signed-in account, if any.
func (s *Server) loadSession(c *gin.Context) {
	token, err := c.Cookie(sessionCookie)
	if err != nil || token == "" {
		c.Next()
		return
	}
	sess, err := s.Store.SessionByTokenHash(c, crypto.HashToken(token))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.internal(c, err)
		return
	}
	now := s.now()
	if sess == nil || now.After(sess.ExpiresAt) || now.Sub(sess.LastSeenAt) > sessionIdle {
		if sess != nil {
			s.Store.DeleteSession(c, sess.OrganizationID, sess.ID)
		}
		s.clearSessionCookie(c)
		c.Next()
		return
	}
	account, err := s.Store.ActiveAccount(c, sess.OrganizationID, sess.AccountID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.internal(c, err)
		return
	}
	if account == nil {
		s.clearSessionCookie(c)
		c.Next()
		return
	}
	org, err := s.Store.Organization(c, account.OrganizationID)
	if err != nil {
		s.internal(c, err)
		return
	}
	if now.Sub(sess.LastSeenAt) > time.Minute {
		s.Store.TouchSession(c, sess.OrganizationID, sess.ID, now)
	}
	c.Set(ctxSession, sess)
	if sess.MFAPending {
		c.Next() // only the second-factor page accepts it; see requireAccount
		return
	}
	c.Set(ctxAccount, account)
	c.Set(ctxOrg, org)
	subprocessors.SentrySetOrganization(c, org.GateContext())
	c.Next()
}

func (s *Server) clearSessionCookie(c *gin.Context) {
	http.SetCookie(c.Writer, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.Config.TLS(), SameSite: http.SameSiteLaxMode})
}

func currentAccount(c *gin.Context) *models.Account {
	a, _ := c.Get(ctxAccount)
	account, _ := a.(*models.Account)
	return account
}

func currentOrg(c *gin.Context) *models.Organization {
	o, _ := c.Get(ctxOrg)
	org, _ := o.(*models.Organization)
	return org
}

func currentSession(c *gin.Context) *models.Session {
	v, _ := c.Get(ctxSession)
	sess, _ := v.(*models.Session)
	return sess
}

// requireAccount sends visitors to sign in, half-signed-in sessions to the
// second factor, and members of an organization that requires two-factor
// authentication to set it up first.
func (s *Server) requireAccount(c *gin.Context) {
	a := currentAccount(c)
	if a == nil {
		if sess := currentSession(c); sess != nil && sess.MFAPending {
			c.Redirect(http.StatusSeeOther, "/login/mfa")
			c.Abort()
			return
		}
		if wantsJSON(c) {
			c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "sign in first"})
			return
		}
		c.Redirect(http.StatusSeeOther, "/login")
		c.Abort()
		return
	}
	if org := currentOrg(c); org.RequireMFA && !a.TOTPEnabled && !strings.HasPrefix(c.FullPath(), "/settings/security") {
		c.Redirect(http.StatusSeeOther, "/settings/security")
		c.Abort()
		return
	}
	c.Next()
}

// require checks a permission of access.go; 403 otherwise.
func (s *Server) require(permission string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if a := currentAccount(c); a == nil || !can(a.Role, permission) {
			s.fail(c, http.StatusForbidden, "Forbidden", "Your role does not allow this.")
			return
		}
		c.Next()
	}
}

// recordUsage keeps the usage data of policy §2.1 for pages an operator
// views: route, time, browser, OS, device, IP and referrer.
func (s *Server) recordUsage(c *gin.Context) {
	c.Next()
	a := currentAccount(c)
	if a == nil || c.Request.Method != http.MethodGet || c.Writer.Status() != http.StatusOK {
		return
	}
	browser, os, device := describeUserAgent(c.Request.UserAgent())
	ev := models.UsageEvent{
		OrganizationID: a.OrganizationID, AccountID: a.ID, DataKeyID: a.DataKeyID,
		Page: c.Request.URL.Path, Feature: c.FullPath(), Browser: browser, OS: os, DeviceType: device,
		IP: c.ClientIP(), Referrer: referrerPath(c.Request.Referer()), OccurredAt: s.now().UTC(),
	}
	s.Store.CreateUsageEvent(c, &ev)
}

// attemptRate bounds sign-in, password reset, MFA and privacy-request
// attempts per key (an IP address or an account): 20 at once, then one
// every 15 s, the steady 20 per 5 minutes of the sliding window it
// replaced. Every sign-in counts, right or wrong, so a slower refill would
// lock out an office signing in from one address for an hour; password
// guessing is stopped by the per-account lockout (five failures).
var attemptRate = ratelimit.Rate{Burst: 20, Every: 15 * time.Second}

// allowAttempt takes one of key's attempts (attemptRate), reporting
// whether it is within the limit.
func (s *Server) allowAttempt(c *gin.Context, key string) bool {
	ok, _ := s.throttle.Allow(c.Request.Context(), key, s.now())
	return ok
}
