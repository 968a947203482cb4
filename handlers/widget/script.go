package widget

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/web"
)

// loadScript reads web/static/widget.js once: every page of every
// Customer's site fetches it.
func (h *Handler) loadScript() {
	f, err := web.Static().Open("widget.js")
	if err != nil {
		return
	}
	defer func() { _ = f.Close() }() // an embedded file: closing cannot fail
	h.script, _ = io.ReadAll(f)
	sum := sha256.Sum256(h.script)
	h.scriptETag = `"` + hex.EncodeToString(sum[:8]) + `"`
}

func (h *Handler) serveScript(c *gin.Context) {
	if len(h.script) == 0 {
		c.AbortWithStatusJSON(http.StatusNotFound, gin.H{"error": "The widget script is missing from this build."})
		return
	}
	hd := c.Writer.Header()
	hd.Set("Cache-Control", "public, max-age=300")
	hd.Set("ETag", h.scriptETag)
	if c.GetHeader("If-None-Match") == h.scriptETag {
		c.Status(http.StatusNotModified)
		return
	}
	c.Data(http.StatusOK, "text/javascript; charset=utf-8", h.script)
}
