package handlers

import (
	"net/http"
	"sort"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/internal/mail"
)

// The dev mailbox shows the outbox of the embedded default, as each
// recipient would see their mail: the envelope and every header (Reply-To,
// Message-ID, In-Reply-To, References, List-Unsubscribe, ...), the text,
// and the HTML part sanitized and inside a sandboxed frame. Mail the
// egress gate refused is shown too, marked with the gate's reason:
// production would not have sent it. It exists only under `convot dev`.
func (s *Server) devMailRoutes(r *gin.RouterGroup) {
	r.GET("/dev/mailbox", s.mailbox)
	r.GET("/dev/mailbox/:id", s.mailMessage)
	r.GET("/dev/mailbox/:id/html", s.mailHTML)
}

func (s *Server) mailbox(c *gin.Context) {
	msgs, err := s.Outbox.List()
	if err != nil {
		s.Internal(c, err)
		return
	}
	s.Render(c, http.StatusOK, "mailbox", s.Page(c, "Dev mailbox", "mailbox", msgs))
}

type mailHeader struct{ Name, Value string }

func (s *Server) mailMessage(c *gin.Context) {
	m, err := s.Outbox.Get(c.Param("id"))
	if err != nil {
		s.Fail(c, http.StatusNotFound, "Not found", "There is no such message.")
		return
	}
	headers := make([]mailHeader, 0, len(m.Headers))
	for name, value := range m.Headers {
		headers = append(headers, mailHeader{name, value})
	}
	sort.Slice(headers, func(i, j int) bool { return headers[i].Name < headers[j].Name })
	s.Render(c, http.StatusOK, "mail", s.Page(c, m.Subject, "mailbox", gin.H{"Mail": m, "Headers": headers}))
}

// mailHTML serves a mail's HTML part, sanitized, for the sandboxed frame
// of the mail page: no script runs (sandbox, script-src 'none'), nothing
// loads from elsewhere (remote images would tell the sender it was
// opened), and only this site may frame it.
func (s *Server) mailHTML(c *gin.Context) {
	m, err := s.Outbox.Get(c.Param("id"))
	if err != nil || m.HTML == "" {
		s.Fail(c, http.StatusNotFound, "Not found", "There is no such message.")
		return
	}
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; img-src data:; style-src 'unsafe-inline'; sandbox; frame-ancestors 'self'")
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("Cache-Control", "no-store")
	c.Data(http.StatusOK, "text/html; charset=utf-8", []byte(`<!doctype html><meta charset="utf-8">`+mail.SanitizeHTML(m.HTML)))
}
