package subprocessors

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/convot/convot/internal/mail"
	"github.com/convot/convot/policies"
)

func fakePostmark(t *testing.T) (*Postmark, *upstreamRecorder) {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /email", func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			t.Errorf("decode the request: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if strings.Contains(m["To"].(string), "inactive@example.com") {
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = w.Write([]byte(`{"ErrorCode":406,"Message":"You tried to send to recipient(s) that have been marked as inactive. Found inactive addresses: inactive@example.com."}`))
			return
		}
		if err := json.NewEncoder(w).Encode(map[string]any{"To": m["To"], "SubmittedAt": "2026-01-01T00:00:00Z", "MessageID": "0a129aee-e1cd-480d-b08d-4f48548ff48d", "ErrorCode": 0, "Message": "OK"}); err != nil {
			t.Errorf("encode the response: %v", err)
		}
	})
	srv, rec := newRecordedUpstream(t, mux)
	g, _ := mustEgressGate(t)
	p, err := NewPostmark(g, PostmarkConfig{BaseURL: srv.URL, ServerToken: "server-token"})
	if err != nil {
		t.Fatal(err)
	}
	return p, rec
}

var (
	mailOrg      = policies.OrgContext{ID: 9, Region: "us"}
	mailCustomer = policies.SubjectContext{Kind: "customer"}
)

func resetMessage() mail.Message {
	return mail.Message{
		From:    "Convot <no-reply@convot.io>",
		To:      "Ada Lovelace <ada@example.com>",
		ReplyTo: "support@convot.io",
		Subject: "Reset your password",
		Text:    "Follow the link to reset your password.",
		HTML:    "<p>Follow the link to reset your password.</p>",
		Headers: map[string]string{"X-Convot-Request": "req_1", "List-Id": "security.convot.io"},
		Stream:  mail.Transactional,
		Tag:     "password_reset",
	}
}

func TestPostmarkSend(t *testing.T) {
	p, rec := fakePostmark(t)
	id, err := p.Send(context.Background(), mailOrg, mailCustomer, resetMessage())
	if err != nil {
		t.Fatal(err)
	}
	if id != "0a129aee-e1cd-480d-b08d-4f48548ff48d" {
		t.Fatalf("message ID %q", id)
	}
	r := onlyRequest(t, rec.Requests())
	if r.Method != http.MethodPost || r.Path != "/email" {
		t.Fatalf("%s %s", r.Method, r.Path)
	}
	for h, want := range map[string]string{"X-Postmark-Server-Token": "server-token", "Content-Type": "application/json", "Accept": "application/json"} {
		if got := r.Header.Get(h); got != want {
			t.Fatalf("header %s: %q, want %q", h, got, want)
		}
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(r.Body), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"From":          `"Convot" <no-reply@convot.io>`,
		"To":            `"Ada Lovelace" <ada@example.com>`,
		"ReplyTo":       "<support@convot.io>",
		"Subject":       "Reset your password",
		"TextBody":      "Follow the link to reset your password.",
		"HtmlBody":      "<p>Follow the link to reset your password.</p>",
		"Headers":       []any{map[string]any{"Name": "List-Id", "Value": "security.convot.io"}, map[string]any{"Name": "X-Convot-Request", "Value": "req_1"}},
		"MessageStream": "outbound",
		"Tag":           "password_reset",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("body\n got %v\nwant %v", got, want)
	}
}

func TestPostmarkSenderIsAMailSender(t *testing.T) {
	p, rec := fakePostmark(t)
	s := p.Sender(mailOrg, policies.SubjectContext{Kind: "end_user"})
	m := resetMessage()
	m.Stream = "" // the outbox's default: transactional
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.Requests()); n != 1 {
		t.Fatalf("%d requests", n)
	}
	restricted := p.Sender(mailOrg, policies.SubjectContext{Kind: "end_user", Restricted: true})
	requireDeniedWithReason(t, restricted.Send(context.Background(), m), "restricted")
	if n := len(rec.Requests()); n != 1 {
		t.Fatalf("a denied message reached Postmark: %d requests", n)
	}
}

func TestPostmarkMarketingIsDenied(t *testing.T) {
	p, rec := fakePostmark(t)
	m := resetMessage()
	m.Stream = mail.Marketing
	m.Tag = "newsletter"
	// Even with the subject's consent: Postmark is not registered for
	// marketing mail.
	consenting := policies.SubjectContext{Kind: "customer", Consents: []string{"marketing_email"}}
	_, err := p.Send(context.Background(), mailOrg, consenting, m)
	requireDeniedWithReason(t, err, "postmark is not registered for purpose marketing.communications.email")
	_, err = p.Send(context.Background(), mailOrg, mailCustomer, m)
	requireDeniedWithReason(t, err, "no marketing_email consent")
	if n := len(rec.Requests()); n != 0 {
		t.Fatalf("the fake Postmark received %d requests", n)
	}
}

func TestPostmarkDeniedSendsNothing(t *testing.T) {
	p, rec := fakePostmark(t)
	ctx := context.Background()
	_, err := p.Send(ctx, policies.OrgContext{}, mailCustomer, resetMessage())
	requireDeniedWithReason(t, err, "organization missing")
	_, err = p.Send(ctx, mailOrg, policies.SubjectContext{Kind: "robot"}, resetMessage())
	requireDeniedWithReason(t, err, "data subject kind robot unknown")
	if n := len(rec.Requests()); n != 0 {
		t.Fatalf("the fake Postmark received %d requests", n)
	}
}

func TestPostmarkErrorHidesTheRecipient(t *testing.T) {
	p, _ := fakePostmark(t)
	m := resetMessage()
	m.To = "inactive@example.com"
	_, err := p.Send(context.Background(), mailOrg, mailCustomer, m)
	var pe *PostmarkError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v is not a PostmarkError", err)
	}
	if pe.StatusCode != 422 || pe.ErrorCode != 406 {
		t.Fatalf("%+v", pe)
	}
	if strings.Contains(err.Error(), "inactive@example.com") || !strings.Contains(err.Error(), "marked as inactive") {
		t.Fatalf("error text %q", err)
	}
}

func TestPostmarkRefusesMalformedMessages(t *testing.T) {
	p, rec := fakePostmark(t)
	for name, edit := range map[string]func(*mail.Message){
		"no recipient":  func(m *mail.Message) { m.To = "" },
		"bad recipient": func(m *mail.Message) { m.To = "ada at example.com" },
		"no subject":    func(m *mail.Message) { m.Subject = "" },
		"no body":       func(m *mail.Message) { m.Text, m.HTML = "", "" },
		"two senders":   func(m *mail.Message) { m.From = "a@convot.io, b@convot.io" },
		"odd stream":    func(m *mail.Message) { m.Stream = "carrier-pigeon" },
	} {
		m := resetMessage()
		edit(&m)
		_, err := p.Send(context.Background(), mailOrg, mailCustomer, m)
		if err == nil {
			t.Fatalf("%s: sent", name)
		}
		if strings.Contains(err.Error(), "ada") {
			t.Fatalf("%s: the error names the recipient: %v", name, err)
		}
	}
	if n := len(rec.Requests()); n != 0 {
		t.Fatalf("the fake Postmark received %d requests", n)
	}
}

func TestPostmarkWithheldNameLeavesTheAddress(t *testing.T) {
	srvP, rec := fakePostmark(t)
	// A gate that allows the flow but drops user.name.
	p := &Postmark{gate: stubDecisionGate{d: policies.Decision{Allow: true, Reason: "test", Drop: []string{"user.name"},
		Categories: []string{"system.operations", "user.contact.email", "user.content.message", "user.name"}}},
		base: srvP.base, token: "t", http: http.DefaultClient}
	if _, err := p.Send(context.Background(), mailOrg, mailCustomer, resetMessage()); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(rec.Requests()[0].Body), &got); err != nil {
		t.Fatal(err)
	}
	if got["To"] != "<ada@example.com>" || strings.Contains(rec.Requests()[0].Body, "Lovelace") {
		t.Fatalf("body %s", rec.Requests()[0].Body)
	}
	// Dropping the addresses refuses the message.
	p.gate = stubDecisionGate{d: policies.Decision{Allow: true, Reason: "test", Drop: []string{"user.contact"},
		Categories: []string{"system.operations", "user.contact.email", "user.content.message", "user.name"}}}
	_, err := p.Send(context.Background(), mailOrg, mailCustomer, resetMessage())
	requireDeniedWithReason(t, err, "withholds the sender")
	if n := len(rec.Requests()); n != 1 {
		t.Fatalf("%d requests", n)
	}
}
