package mail

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/convot/convot/policies"
)

type suppressionSet map[string]bool

func (s suppressionSet) Suppressed(_ context.Context, addr string) (bool, error) {
	return s[strings.ToLower(addr)], nil
}

type capture struct{ sent []Message }

func (c *capture) Send(_ context.Context, m Message) error {
	c.sent = append(c.sent, m)
	return nil
}

func marketingMessage() Message {
	return Message{
		To: "ada@example.com", Subject: "News", Text: "Hello", Stream: Marketing, Tag: "newsletter",
		Headers: map[string]string{
			"List-Unsubscribe":      "<https://app.convot.test/unsubscribe/tok>, <mailto:unsubscribe+tok@inbound.convot.test>",
			"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
		},
		Recipient: policies.SubjectContext{Kind: "customer", Consents: []string{ConsentMarketingEmail}},
	}
}

func TestMailerRefusesSuppressedRecipientsOnEveryStream(t *testing.T) {
	c := &capture{}
	ml := NewMailer(c, "Convot <no-reply@convot.test>", suppressionSet{"bounced@example.com": true})
	ctx := context.Background()
	for _, m := range []Message{
		{To: "Bounced <Bounced@Example.com>", Subject: "Security alert", Text: "x", Tag: "security_alert"},
		func() Message { m := marketingMessage(); m.To = "bounced@example.com"; return m }(),
	} {
		if err := ml.Send(ctx, m); !errors.Is(err, ErrSuppressed) {
			t.Fatalf("%s: %v", m.Stream, err)
		}
		if err := ml.Send(ctx, m); err != nil && strings.Contains(err.Error(), "bounced") {
			t.Fatalf("the error names the address: %v", err)
		}
	}
	if len(c.sent) != 0 {
		t.Fatalf("%d sent", len(c.sent))
	}
	if err := ml.Send(ctx, Message{To: "ok@example.com", Subject: "Security alert", Text: "x"}); err != nil {
		t.Fatal(err)
	}
	if len(c.sent) != 1 || c.sent[0].From != "Convot <no-reply@convot.test>" || c.sent[0].Stream != Transactional {
		t.Fatalf("%+v", c.sent)
	}
}

func TestMailerMarketingNeedsConsentAndOneClickUnsubscribe(t *testing.T) {
	c := &capture{}
	ml := NewMailer(c, "Convot <no-reply@convot.test>", suppressionSet{})
	ctx := context.Background()
	for name, edit := range map[string]func(*Message){
		"no consent":           func(m *Message) { m.Recipient.Consents = nil },
		"no List-Unsubscribe":  func(m *Message) { delete(m.Headers, "List-Unsubscribe") },
		"mailto only":          func(m *Message) { m.Headers["List-Unsubscribe"] = "<mailto:unsubscribe+tok@inbound.convot.test>" },
		"no one-click POST":    func(m *Message) { delete(m.Headers, "List-Unsubscribe-Post") },
		"wrong one-click POST": func(m *Message) { m.Headers["List-Unsubscribe-Post"] = "yes" },
	} {
		m := marketingMessage()
		edit(&m)
		if err := ml.Send(ctx, m); !errors.Is(err, ErrNotMarketable) {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if len(c.sent) != 0 {
		t.Fatalf("%d sent", len(c.sent))
	}
	if err := ml.Send(ctx, marketingMessage()); err != nil {
		t.Fatal(err)
	}
	// Transactional mail never offers to unsubscribe (policy §4).
	tx := marketingMessage()
	tx.Stream = Transactional
	if err := ml.Send(ctx, tx); err == nil {
		t.Fatal("transactional mail with unsubscribe headers was sent")
	}
	if len(c.sent) != 1 {
		t.Fatalf("%d sent", len(c.sent))
	}
}
