// Package mail defines an outgoing email and the outbox that keeps mail on
// disk in the embedded default, shown at the dev mailbox page. The Postmark
// client in subprocessors/ sends the same messages in production.
package mail

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/policies"
)

// Stream says whether a message is transactional (cannot be unsubscribed
// from while the account is active, policy §4) or marketing (consent only).
type Stream string

// Streams.
const (
	Transactional Stream = "transactional"
	Marketing     Stream = "marketing"
)

// Message is one email.
type Message struct {
	ID      string            `json:"id"`
	From    string            `json:"from"`
	To      string            `json:"to"`
	ReplyTo string            `json:"reply_to,omitempty"`
	Subject string            `json:"subject"`
	Text    string            `json:"text"`
	HTML    string            `json:"html,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	Stream  Stream            `json:"stream"`
	// Tag names the kind of mail (password_reset, invitation, ...) for
	// tests and for the dev mailbox; it never holds personal data.
	Tag    string    `json:"tag"`
	SentAt time.Time `json:"sent_at"`

	// Org and Recipient are what the egress gate is told of the message:
	// the organization on whose behalf it is sent and its recipient as a
	// data subject (customer or end_user, with their consents). They are
	// not part of the mail.
	Org       policies.OrgContext     `json:"org"`
	Recipient policies.SubjectContext `json:"recipient"`
	// Refused is set in the outbox of the embedded default when the egress
	// gate refused the message: production would not have sent it.
	Refused string `json:"refused,omitempty"`
}

// Sender sends email.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// Outbox is a Sender that writes each message as a JSON file.
type Outbox struct {
	dir string
	mu  sync.Mutex
}

// NewOutbox keeps mail in dir, created with owner-only permissions: the
// mail holds personal data.
func NewOutbox(dir string) (*Outbox, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("mail outbox: %w", err)
	}
	return &Outbox{dir: dir}, nil
}

// Send writes the message.
func (o *Outbox) Send(_ context.Context, m Message) error {
	if m.To == "" || m.Subject == "" {
		return errors.New("mail: recipient and subject are required")
	}
	if m.Stream == "" {
		m.Stream = Transactional
	}
	m.SentAt = time.Now().UTC()
	m.ID = fmt.Sprintf("%020d-%s", m.SentAt.UnixNano(), crypto.RandomToken(6))
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return os.WriteFile(filepath.Join(o.dir, m.ID+".json"), b, 0o600)
}

// List returns the kept messages, newest first.
func (o *Outbox) List() ([]Message, error) {
	entries, err := os.ReadDir(o.dir)
	if err != nil {
		return nil, err
	}
	var out []Message
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		m, err := o.Get(strings.TrimSuffix(e.Name(), ".json"))
		if err != nil {
			continue
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID > out[j].ID })
	return out, nil
}

// Get returns one message by ID.
func (o *Outbox) Get(id string) (Message, error) {
	var m Message
	if id == "" || strings.ContainsAny(id, `/\.`+"\x00") {
		return m, os.ErrNotExist
	}
	b, err := os.ReadFile(filepath.Join(o.dir, id+".json"))
	if err != nil {
		return m, err
	}
	err = json.Unmarshal(b, &m)
	return m, err
}
