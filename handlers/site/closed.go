package site

import (
	"net/http"

	"github.com/convot/convot/models"
	"github.com/gin-gonic/gin"
)

// writableWhileCancelled are the only dashboard writes a closed account
// accepts: signing in and out, reactivating, and reaching Stripe's portal
// (invoices, card).
var writableWhileCancelled = map[string]bool{
	"/login":              true,
	"/login/mfa":          true,
	"/logout":             true,
	"/billing/reactivate": true,
	"/billing/portal":     true,
}

// ReadOnlyWhenCancelled refuses every dashboard write of a cancelled
// organization but reactivation, with a clear answer (409).
func (s *Site) ReadOnlyWhenCancelled(c *gin.Context) {
	org := CurrentOrg(c)
	switch c.Request.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		c.Next()
		return
	}
	if org == nil || org.Status == models.OrgActive || writableWhileCancelled[c.FullPath()] {
		c.Next()
		return
	}
	msg := "This account is closed and read-only. An owner Can reactivate it on the billing page within 30 days of its closing; after that its data is deleted."
	if org.Status == models.OrgDeleted {
		msg = "This account was closed and its data deleted."
	}
	s.Fail(c, http.StatusConflict, "Account closed", msg)
}
