package subprocessors

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/convot/convot/internal/mail"
	"github.com/convot/convot/policies"
)

// The mailer's transport takes the organization and the recipient from
// each message, and asks the gate with them.
func TestPostmarkMailSenderUsesEachMessagesContext(t *testing.T) {
	p, rec := fakePostmark(t)
	s := p.MailSender()
	m := resetMessage()
	m.Org, m.Recipient = mailOrg, policies.SubjectContext{Kind: "end_user"}
	m.Headers = map[string]string{"Message-ID": "<convot.1@inbound.convot.test>", "In-Reply-To": "<a@b>", "References": "<a@b>"}
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	r := onlyRequest(t, rec.Requests())
	var body struct {
		Headers       []postmarkHeader
		MessageStream string
	}
	if err := json.Unmarshal([]byte(r.Body), &body); err != nil {
		t.Fatal(err)
	}
	if body.MessageStream != "outbound" || len(body.Headers) != 3 {
		t.Fatalf("%s", r.Body)
	}
	// No organization in the message: the gate refuses, nothing leaves.
	m.Org = policies.OrgContext{}
	requireDeniedWithReason(t, s.Send(context.Background(), m), "organization missing")
	m.Org, m.Recipient = mailOrg, policies.SubjectContext{Kind: "end_user", Restricted: true}
	requireDeniedWithReason(t, s.Send(context.Background(), m), "restricted")
	if n := len(rec.Requests()); n != 1 {
		t.Fatalf("%d requests", n)
	}
}

// The embedded default asks the gate as production does: it keeps what
// would leave, and keeps a refused mail marked with the gate's reason.
func TestPostmarkOutboxModeAsksTheGate(t *testing.T) {
	g, log := mustEgressGate(t)
	outbox, err := mail.NewOutbox(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewPostmark(g, PostmarkConfig{}); err == nil {
		t.Fatal("a client with neither token nor outbox")
	}
	p, err := NewPostmark(g, PostmarkConfig{Outbox: outbox})
	if err != nil {
		t.Fatal(err)
	}
	m := resetMessage()
	m.Org, m.Recipient = mailOrg, mailCustomer
	if err := p.MailSender().Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	news := resetMessage()
	news.Stream, news.Tag = mail.Marketing, "newsletter"
	news.Org = mailOrg
	news.Recipient = policies.SubjectContext{Kind: "customer", Consents: []string{"marketing_email"}}
	requireDeniedWithReason(t, p.MailSender().Send(context.Background(), news), "postmark is not registered for purpose marketing.communications.email")

	kept, err := outbox.List()
	if err != nil || len(kept) != 2 {
		t.Fatalf("%d kept, %v", len(kept), err)
	}
	byTag := map[string]mail.Message{}
	for _, k := range kept {
		byTag[k.Tag] = k
	}
	sent, refused := byTag["password_reset"], byTag["newsletter"]
	if sent.Refused != "" || sent.To != `"Ada Lovelace" <ada@example.com>` || sent.Headers["List-Id"] != "security.convot.io" {
		t.Fatalf("kept %+v", sent)
	}
	if refused.Refused == "" || refused.Stream != mail.Marketing {
		t.Fatalf("refused %+v", refused)
	}
	if n := len(log.Records()); n != 2 {
		t.Fatalf("%d decisions logged", n)
	}
}
