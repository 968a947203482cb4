package mail

import (
	"context"
	"errors"
	"fmt"
	netmail "net/mail"
	"slices"
	"strings"
)

// ConsentMarketingEmail is the consent a marketing mail's recipient must
// have given (policy §3, §4); the egress gate asks for the same.
const ConsentMarketingEmail = "marketing_email"

// Errors of Mailer.Send. Neither names the recipient.
var (
	// ErrSuppressed: the recipient's address bounced or complained of
	// spam; nothing is sent to it any more, transactional or marketing.
	ErrSuppressed = errors.New("mail: the recipient's address is suppressed after a bounce or spam complaint")
	// ErrNotMarketable: a marketing mail without the recipient's current
	// consent or without one-click unsubscribe headers.
	ErrNotMarketable = errors.New("mail: marketing mail needs the recipient's consent and one-click unsubscribe headers")
)

// Suppressions tells whether an address may no longer receive mail.
type Suppressions interface {
	Suppressed(ctx context.Context, address string) (bool, error)
}

// Mailer is the one path every mail of Convot takes: it fills in the
// sender, refuses suppressed recipients (every stream), refuses marketing
// mail that lacks consent or the RFC 8058 unsubscribe headers, and hands
// the rest to its transport (the gated Postmark client, or the outbox in
// tests).
type Mailer struct {
	transport    Sender
	from         string
	suppressions Suppressions
}

// NewMailer returns a Mailer that sends through transport from the given
// sender address.
func NewMailer(transport Sender, from string, suppressions Suppressions) *Mailer {
	return &Mailer{transport: transport, from: from, suppressions: suppressions}
}

var _ Sender = (*Mailer)(nil)

// Send checks m and sends it.
func (ml *Mailer) Send(ctx context.Context, m Message) error {
	if ml == nil || ml.transport == nil {
		return errors.New("mail: no transport configured")
	}
	if m.From == "" {
		m.From = ml.from
	}
	if m.Stream == "" {
		m.Stream = Transactional
	}
	addrs, err := netmail.ParseAddressList(m.To)
	if err != nil || len(addrs) == 0 {
		return errors.New("mail: the recipient is not a valid address")
	}
	if ml.suppressions != nil {
		for _, a := range addrs {
			suppressed, err := ml.suppressions.Suppressed(ctx, a.Address)
			if err != nil {
				return fmt.Errorf("mail: checking suppressions: %w", err)
			}
			if suppressed {
				return ErrSuppressed
			}
		}
	}
	switch m.Stream {
	case Transactional:
		// Transactional mail cannot be unsubscribed from while the account
		// is active (policy §4): it never offers to.
		for name := range m.Headers {
			if strings.EqualFold(name, "List-Unsubscribe") || strings.EqualFold(name, "List-Unsubscribe-Post") {
				return errors.New("mail: transactional mail carries no unsubscribe headers")
			}
		}
	case Marketing:
		unsubscribe := header(m.Headers, "List-Unsubscribe")
		oneClick := strings.Contains(unsubscribe, "<https://") || strings.Contains(unsubscribe, "<http://")
		if !slices.Contains(m.Recipient.Consents, ConsentMarketingEmail) || !oneClick ||
			header(m.Headers, "List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
			return ErrNotMarketable
		}
	default:
		return fmt.Errorf("mail: unknown stream %q", m.Stream)
	}
	return ml.transport.Send(ctx, m)
}

// header reads a header case-insensitively.
func header(h map[string]string, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}
