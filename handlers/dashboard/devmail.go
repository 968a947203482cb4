package dashboard

import (
	"net/http"
	"sort"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/internal/mail"
)

func (h *Handler) mailbox(c *gin.Context) {
	msgs, err := h.Outbox.List()
	if err != nil {
		h.Internal(c, err)
		return
	}
	h.Render(c, http.StatusOK, "mailbox", h.Page(c, "Dev mailbox", "mailbox", msgs))
}

type mailHeader struct{ Name, Value string }

func (h *Handler) mailMessage(c *gin.Context) {
	m, err := h.Outbox.Get(c.Param("id"))
	if err != nil {
		h.Fail(c, http.StatusNotFound, "Not found", "There is no such message.")
		return
	}
	headers := make([]mailHeader, 0, len(m.Headers))
	for name, value := range m.Headers {
		headers = append(headers, mailHeader{name, value})
	}
	sort.Slice(headers, func(i, j int) bool { return headers[i].Name < headers[j].Name })
	h.Render(c, http.StatusOK, "mail", h.Page(c, m.Subject, "mailbox", gin.H{"Mail": m, "Headers": headers}))
}

// mailHTML serves a mail's HTML part, sanitized, for the sandboxed frame
// of the mail page: no script runs (sandbox, script-src 'none'), nothing
// loads from elsewhere (remote images would tell the sender it was
// opened), and only this site may frame it.
func (h *Handler) mailHTML(c *gin.Context) {
	m, err := h.Outbox.Get(c.Param("id"))
	if err != nil || m.HTML == "" {
		h.Fail(c, http.StatusNotFound, "Not found", "There is no such message.")
		return
	}
	hdr := c.Writer.Header()
	hdr.Set("Content-Security-Policy", "default-src 'none'; img-src data:; style-src 'unsafe-inline'; sandbox; frame-ancestors 'self'")
	hdr.Set("X-Frame-Options", "SAMEORIGIN")
	hdr.Set("Cache-Control", "no-store")
	c.Data(http.StatusOK, "text/html; charset=utf-8", []byte(`<!doctype html><meta charset="utf-8">`+mail.SanitizeHTML(m.HTML)))
}
