// Package site is what every HTTP surface of Convot shares: the page
// frame and error answers, flash messages, sessions and CSRF, security
// headers and body limits, the role table, audit events, transactional
// mail, the attempt throttle, and what the inbox and the widget both
// serve: live sockets, attachment uploads and downloads, browser origins.
// Surfaces embed a *Site in their own small dependency struct.
package site

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/convot/convot/alerts"
	"github.com/convot/convot/internal/config"
	"github.com/convot/convot/internal/mail"
	"github.com/convot/convot/internal/ratelimit"
	"github.com/convot/convot/store"
	"github.com/convot/convot/web"
	"github.com/gin-gonic/gin"
)

// Site holds what the shared parts need.
type Site struct {
	Store  *store.Store
	Config *config.Config
	Mail   mail.Sender
	Pages  *web.Templates
	Now    func() time.Time
	// Dev is set in the embedded default, whose pages link the dev mailbox.
	Dev bool
	// BodyLimits are the body limits of routes whose bodies are not the
	// dashboard's (LimitBody); RawBodies are routes whose bodies CheckText
	// leaves to their handler. Surfaces fill both as they mount routes.
	BodyLimits map[string]int64
	RawBodies  map[string]bool
	// Throttle counts sign-in, reset, MFA and privacy-request attempts.
	Throttle ratelimit.Limiter
	// Alerts counts what the unusual-activity alerts watch: failed
	// sign-ins, sign-ins' countries, downloads (nil: nothing).
	Alerts *alerts.Monitor
}

// Page fills the common parts of a page for the current request.
func (s *Site) Page(c *gin.Context, title, nav string, data any) web.Page {
	p := web.Page{Title: title, Nav: nav, CSRF: c.GetString(ctxCSRF), Dev: s.Dev, Data: data}
	if a := CurrentAccount(c); a != nil {
		p.Account, p.Role, p.Can = a, a.Role, PermissionsOf(a.Role)
		p.Org = CurrentOrg(c)
		if _, err := s.Store.ActiveStaffMember(c, a.ID); err == nil {
			p.Staff = true
		}
		if n := s.PolicyNotice(c); n != nil {
			p.PolicyNotice = n
		}
	}
	if f := c.Query(FlashParam); f != "" {
		p.Flash = FlashMessages[f]
	}
	return p
}

func (s *Site) Render(c *gin.Context, status int, name string, p web.Page) {
	if err := s.Pages.Render(c.Writer, status, name, p); err != nil {
		slog.Error("render", "template", name, "err", err)
	}
}

// Fail answers an error: JSON for API clients, a page otherwise.
func (s *Site) Fail(c *gin.Context, status int, title, message string) {
	if WantsJSON(c) {
		c.AbortWithStatusJSON(status, gin.H{"error": message})
		return
	}
	p := s.Page(c, title, "", message)
	s.Render(c, status, "message", p)
	c.Abort()
}

// Internal answers an unexpected failure without detail (which might hold
// personal data) and logs only the error's type of failure.
func (s *Site) Internal(c *gin.Context, err error) {
	if errors.Is(err, context.Canceled) {
		c.Abort()
		return
	}
	slog.Error("request failed", "route", c.FullPath(), "err", err)
	s.Fail(c, http.StatusInternalServerError, "Something went wrong", "Something went wrong on our side. Please try again.")
}

func WantsJSON(c *gin.Context) bool {
	if c.ContentType() == "application/json" {
		return true
	}
	accept := c.GetHeader("Accept")
	return strings.Contains(accept, "application/json") && !strings.Contains(accept, "text/html")
}

// FlashParam is the query parameter naming a message of FlashMessages for
// the page a form redirects to. It rides in the address, not in a cookie:
// the only cookies are the session and CSRF cookies policy §5 names.
const FlashParam = "notice"

// FlashMessages are chosen by key, so a cookie can never inject text;
// surfaces add their own keys when their package loads.
var FlashMessages = map[string]string{
	"saved":            "Saved.",
	"invited":          "Invitation sent.",
	"role_changed":     "Role changed.",
	"removed":          "Member removed.",
	"mfa_on":           "Two-factor authentication is on.",
	"mfa_off":          "Two-factor authentication is off.",
	"password_changed": "Password changed.",
	"reset_sent":       "If an account exists for that address, we have sent a link to reset its password.",
	"password_reset":   "Your password was reset. Sign in with the new one.",
	"welcome":          "Welcome to Convot.",
	"signed_out":       "You are signed out.",
	"contacts_merged":  "The visitor now shares this contact's history.",
}

// RedirectWithFlash redirects to `to` (a path of ours) with the key of a
// FlashMessages message for the next page in its query.
func (s *Site) RedirectWithFlash(c *gin.Context, to, flash string) {
	c.Redirect(http.StatusSeeOther, WithFlash(to, flash))
}

// WithFlash adds the flash key to the query of the path to.
func WithFlash(to, flash string) string {
	u, err := url.Parse(to)
	if err != nil || flash == "" {
		return to
	}
	q := u.Query()
	q.Set(FlashParam, flash)
	u.RawQuery = q.Encode()
	return u.String()
}

// Finish ends a form action whose last step returned err: the browser goes
// to `to` with flash (none when ""), or sees an internal error when the
// step failed.
func (s *Site) Finish(c *gin.Context, err error, to, flash string) {
	switch {
	case err != nil:
		s.Internal(c, err)
	case flash == "":
		c.Redirect(http.StatusSeeOther, to)
	default:
		s.RedirectWithFlash(c, to, flash)
	}
}

// RenderForm renders the page name (titled title, under nav, showing data)
// with problem, what to correct in its form ("" for none).
func (s *Site) RenderForm(c *gin.Context, status int, name, title, nav string, data any, problem string) {
	p := s.Page(c, title, nav, data)
	p.Error = problem
	s.Render(c, status, name, p)
}
