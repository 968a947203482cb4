package site

import (
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/models"
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
	// Downloads are what the bulk_downloads alert counts; the download
	// does not wait on a failure to count it.
	if downloadActions[action] {
		if err := s.Alerts.Downloaded(c, org.ID, a.ID, c.ClientIP()); err != nil {
			slog.Warn("download not counted for alerts", "err", err)
		}
	}
	return true
}

// downloadActions are the accesses that take data away: exports,
// attachments, privacy exports.
var downloadActions = map[string]bool{
	models.AccessAttachmentDownloaded: true, models.AccessExportDownloaded: true, models.AccessPrivacyExportOpened: true,
}
