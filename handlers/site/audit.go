package site

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/convot/convot/internal/mail"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/gin-gonic/gin"
)

// Audit records a security event in tx: s.Store, or the transaction of
// the change it records, so the event commits with it.
func (s *Site) Audit(tx *store.Store, c *gin.Context, orgID, actorID, keyID uint64, action, target, detail string) error {
	return tx.CreateAuditEvent(c, &models.AuditEvent{
		OrganizationID: orgID, ActorID: actorID, DataKeyID: keyID, Action: action, Target: target, Detail: detail,
		IP: c.ClientIP(), UserAgent: Truncate(c.Request.UserAgent(), 500), CreatedAt: s.Now().UTC(),
	})
}

func Target(kind string, id uint64) string { return fmt.Sprintf("%s:%d", kind, id) }

func (s *Site) Send(c *gin.Context, m mail.Message) {
	if m.From == "" {
		m.From = s.Config.MailFrom
	}
	if m.Stream == "" {
		m.Stream = mail.Transactional
	}
	// The egress gate is told on whose behalf the mail goes and to whom:
	// mail sent from the dashboard goes to a Customer's people.
	if m.Org.ID == 0 {
		if org := CurrentOrg(c); org != nil {
			m.Org = org.GateContext()
		}
	}
	if m.Recipient.Kind == "" {
		m.Recipient.Kind = models.SubjectCustomer
	}
	if err := s.Mail.Send(c, m); err != nil {
		// The address is personal data and the transport's error may quote
		// it: log the kind of mail and the error's first part only.
		slog.Warn("mail not sent", "tag", m.Tag, "err", strings.SplitN(err.Error(), ":", 2)[0])
	}
}

func Truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
