package privacy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/dsr"
	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
)

// Downloads: the answer to an access or portability request is mailed as
// a link whose token is the credential. It works once and until it
// expires; the file leaves the blob store once served.

// liveExport finds the export a download link names, unless it was used
// or has expired; false when it answered the request.
func (h *Handler) liveExport(c *gin.Context, token string) (*models.PrivacyExport, bool) {
	if token == "" || len(token) > 100 {
		h.fail(c, http.StatusNotFound, "This download link is not valid.")
		return nil, false
	}
	e, err := h.Store.PrivacyExportByTokenHash(c, crypto.HashToken(token))
	switch {
	case errors.Is(err, store.ErrNotFound):
		h.fail(c, http.StatusNotFound, "This download link is not valid.")
		return nil, false
	case err != nil:
		h.Internal(c, err)
		return nil, false
	case e.UsedAt != nil:
		h.fail(c, http.StatusGone, "This download link was used already: each link works once. Ask for your data again if you need another copy.")
		return nil, false
	case h.Now().After(e.ExpiresAt):
		h.fail(c, http.StatusGone, "This download link has expired. Ask for your data again if you need a copy.")
		return nil, false
	}
	return e, true
}

func (h *Handler) downloadPage(c *gin.Context) {
	e, ok := h.liveExport(c, c.Param("token"))
	if !ok {
		return
	}
	h.Render(c, http.StatusOK, "privacy_download", h.Page(c, "Your data", "", gin.H{"Token": c.Param("token"), "Export": e}))
}

// download serves an export once: the link is claimed first, the file
// deleted from the blob store after.
func (h *Handler) download(c *gin.Context) {
	e, ok := h.liveExport(c, c.Param("token"))
	if !ok {
		return
	}
	h.serveExport(c, e)
}

func (h *Handler) serveExport(c *gin.Context, e *models.PrivacyExport) {
	now := h.Now().UTC()
	claimed, err := h.Store.ClaimPrivacyExport(c, e.ID, now)
	if err != nil {
		h.Internal(c, err)
		return
	}
	if !claimed {
		h.fail(c, http.StatusGone, "This download link was used already: each link works once.")
		return
	}
	// A request gone meanwhile leaves the kind empty: an End User's.
	kind, _ := h.Store.PrivacyRequestSubjectKind(c, e.RequestID)
	sc := dsr.ExportStorage(e.OrganizationID, kind, h.regionOf(c, e.OrganizationID))
	sealed, err := h.Blobs.Get(c, sc, e.BlobKey)
	if err != nil {
		h.fail(c, http.StatusGone, "This file is no longer available.")
		return
	}
	data, err := h.Keys.Open(c, models.BlobColumn("privacy_exports"), string(sealed))
	if err != nil {
		// The subject's key is destroyed (erased since): the file is gone.
		h.fail(c, http.StatusGone, "This file is no longer available.")
		return
	}
	hd := c.Writer.Header()
	hd.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", e.FileName))
	hd.Set("Cache-Control", "private, no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	c.Data(http.StatusOK, e.ContentType, data)
	if err := h.Blobs.Delete(context.WithoutCancel(c.Request.Context()), sc, e.BlobKey); err != nil {
		slog.Warn("downloaded export not deleted", "export", e.ID, "err", err)
	}
	// The file is served already: an audit event not written does not
	// take it back.
	_ = h.Store.Tx(c, func(tx *store.Store) error {
		return h.Intake.AuditRequest(c, tx, &models.PrivacyRequest{ID: e.RequestID, OrganizationID: e.OrganizationID}, 0, "privacy.downloaded", e.Format)
	})
}

// regionOf is the organization's region, where its exports are kept;
// Convot's own ("eu") without one.
func (h *Handler) regionOf(c *gin.Context, orgID uint64) string {
	var region string
	if orgID != 0 {
		region, _ = h.Store.OrganizationRegion(c, orgID)
	}
	if region == "" {
		return "eu"
	}
	return region
}
