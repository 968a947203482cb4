package dashboard

import (
	"net/http"
	"sort"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/internal/mail"
	"github.com/convot/convot/models"
)

// The outbox holds the mail of every organization, reset and invitation
// links included: the mailbox is for an owner (RequireOwner), and shows
// them only their organization's mail and mail on behalf of none.
func (h *Handler) mailbox(c *gin.Context) {
	all, err := h.Outbox.List()
	if err != nil {
		h.Internal(c, err)
		return
	}
	org := site.CurrentOrg(c)
	msgs := make([]mail.Message, 0, len(all))
	for _, m := range all {
		if mailVisibleTo(m, org.ID) {
			msgs = append(msgs, m)
		}
	}
	h.Render(c, http.StatusOK, "mailbox", h.Page(c, "Dev mailbox", "mailbox", msgs))
}

// mailVisibleTo reports whether the owner of organization orgID may read m.
func mailVisibleTo(m mail.Message, orgID uint64) bool {
	return m.Org.ID == 0 || m.Org.ID == orgID
}

// ownMail loads a message the signed-in owner may read; another
// organization's mail is answered as if it did not exist.
func (h *Handler) ownMail(c *gin.Context) (mail.Message, bool) {
	m, err := h.Outbox.Get(c.Param("id"))
	if err != nil || !mailVisibleTo(m, site.CurrentOrg(c).ID) {
		h.Fail(c, http.StatusNotFound, "Not found", "There is no such message.")
		return mail.Message{}, false
	}
	return m, true
}

// requireOwner lets only the organization's owner through.
func (h *Handler) requireOwner(c *gin.Context) {
	if a := site.CurrentAccount(c); a == nil || a.Role != models.RoleOwner {
		h.Fail(c, http.StatusForbidden, "Forbidden", "Only the organization's owner reads the dev mailbox.")
		return
	}
	c.Next()
}

type mailHeader struct{ Name, Value string }

func (h *Handler) mailMessage(c *gin.Context) {
	m, ok := h.ownMail(c)
	if !ok {
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
	m, ok := h.ownMail(c)
	if !ok {
		return
	}
	if m.HTML == "" {
		h.Fail(c, http.StatusNotFound, "Not found", "There is no such message.")
		return
	}
	hdr := c.Writer.Header()
	hdr.Set("Content-Security-Policy", "default-src 'none'; img-src data:; style-src 'unsafe-inline'; sandbox; frame-ancestors 'self'")
	hdr.Set("X-Frame-Options", "SAMEORIGIN")
	hdr.Set("Cache-Control", "no-store")
	c.Data(http.StatusOK, "text/html; charset=utf-8", []byte(`<!doctype html><meta charset="utf-8">`+mail.SanitizeHTML(m.HTML)))
}
