package site

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
)

// contentSecurityPolicy is every page's CSP; %s is the form-action list.
const contentSecurityPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action %s; frame-ancestors 'none'"

// SecurityHeaders sets the headers every response carries (policy §10).
func (s *Site) SecurityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", fmt.Sprintf(contentSecurityPolicy, "'self'"))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
	if s.Config.TLS() {
		h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	}
	c.Next()
}

// AllowFormTarget lets this page's forms lead to source as well (a form
// whose answer redirects to another site, as an OAuth grant does).
func AllowFormTarget(c *gin.Context, source string) {
	c.Writer.Header().Set("Content-Security-Policy", fmt.Sprintf(contentSecurityPolicy, "'self' "+source))
}

// form reads a form field, answering 413 or 400 when the body cannot be
// read; ok is false when the request has been answered.
func (s *Site) ParseForm(c *gin.Context) bool {
	if err := c.Request.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			s.Fail(c, http.StatusRequestEntityTooLarge, "Too large", "The request body is too large.")
		} else {
			s.Fail(c, http.StatusBadRequest, "Bad request", "The form could not be read.")
		}
		return false
	}
	return true
}
