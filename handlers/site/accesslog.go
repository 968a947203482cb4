package site

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// RecordAccess records in the access log that the signed-in operator
// opened target (kind:id) with action (models.Access*): one INSERT, before
// the data is shown. False when it could not be recorded: the request was
// answered, and the data is not shown unrecorded.
func (s *Site) RecordAccess(c *gin.Context, action, target string) bool {
	a, org := CurrentAccount(c), CurrentOrg(c)
	if a == nil || org == nil {
		s.Fail(c, http.StatusForbidden, "Forbidden", "Sign in first.")
		return false
	}
	if err := s.Store.RecordAccess(c, org.ID, a.ID, action, target); err != nil {
		s.Internal(c, err)
		return false
	}
	return true
}
