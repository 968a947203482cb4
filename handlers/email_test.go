package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/convot/convot/activities"
	"github.com/convot/convot/conversation"
	"github.com/convot/convot/dsr"
	"github.com/convot/convot/handlers/dashboard"
	"github.com/convot/convot/handlers/webhooks"
	"github.com/convot/convot/internal/mail"
	"github.com/convot/convot/internal/testenv"
	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/store"
	"github.com/convot/convot/subprocessors"
	"github.com/convot/convot/workflows"
)

const (
	testInbound      = "inbound.convot.test"
	postmarkUser     = "postmark"
	postmarkPassword = "a-long-webhook-password"
)

// emailServer is a test server whose mail goes the production path:
// suppressions, then the gated Postmark client, to a fake Postmark API.
type emailServer struct {
	*testServer
	postmark *testenv.FakePostmark
	gate     subprocessors.Gate
}

// allowEverything stands in for a policy that registered Postmark for
// marketing mail, to see what such mail would carry.
type allowEverything struct{}

func (allowEverything) Authorize(_ context.Context, f policies.Flow) (policies.Decision, error) {
	return policies.Decision{Allow: true, Reason: "test: allowed", Categories: f.Categories}, nil
}

func newEmailServer(t *testing.T, gate subprocessors.Gate) *emailServer {
	t.Helper()
	ts := newTestServer(t)
	cfg := ts.srv.Config
	cfg.InboundDomain, cfg.PostmarkInboundUser, cfg.PostmarkInboundPassword = testInbound, postmarkUser, postmarkPassword
	cfg.MailFrom = "Convot <no-reply@convot.test>"
	fake := testenv.NewFakePostmark(t, "server-token")
	if gate == nil {
		g, err := policies.NewGate(context.Background(), models.DecisionLog{DB: ts.db.DB})
		if err != nil {
			t.Fatal(err)
		}
		gate = g
	}
	pm, err := subprocessors.NewPostmark(gate, subprocessors.PostmarkConfig{BaseURL: fake.URL, ServerToken: fake.Token})
	if err != nil {
		t.Fatal(err)
	}
	ts.srv.Mail = mail.NewMailer(pm.MailSender(), cfg.MailFrom, models.Suppressions{DB: ts.db.DB, Keys: ts.db.Keys})
	ts.srv.Site.Mail = ts.srv.Mail  // the shared frame (site) sends the dashboard's mail
	ts.srv.Plans.Mail = ts.srv.Mail // and the plan limits their notices
	return &emailServer{testServer: ts, postmark: fake, gate: gate}
}

// fixture reads a Postmark payload of testdata/postmark with its
// {{PLACEHOLDERS}} filled in.
func fixture(t *testing.T, name string, vars map[string]string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "postmark", name))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(b), "{{INBOUND}}", testInbound)
	s = strings.ReplaceAll(s, "{{PRIVACY}}", "privacy@convot.io")
	for k, v := range vars {
		s = strings.ReplaceAll(s, "{{"+k+"}}", v)
	}
	if i := strings.Index(s, "{{"); i >= 0 {
		t.Fatalf("%s: placeholder left: %s", name, s[i:i+20])
	}
	return s
}

// webhook posts a body to a Postmark webhook with the given credentials.
func (ts *emailServer) webhook(t *testing.T, path, body, user, password string) response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, ts.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if user != "" || password != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }() // read, not written: nothing to lose
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, body: buf.String(), header: resp.Header}
}

func (ts *emailServer) inbound(t *testing.T, body string) response {
	t.Helper()
	return ts.webhook(t, "/webhooks/postmark/inbound", body, postmarkUser, postmarkPassword)
}

// customer signs up an organization and sets its support address.
func (ts *emailServer) customer(t *testing.T, owner, company, support string) (*browser, models.Organization) {
	t.Helper()
	b := ts.browser(t)
	b.signup(owner, company)
	b.get("/settings/email")
	if r := b.post("/settings/email", url.Values{"support_address": {support}}); r.status != http.StatusSeeOther {
		t.Fatalf("support address: %d %s", r.status, excerpt(r.body))
	}
	var a models.Account
	ts.db.Where("email_index = ?", ts.db.Keys.BlindIndex(owner)).First(&a)
	var org models.Organization
	ts.db.First(&org, a.OrganizationID)
	return b, org
}

func (ts *emailServer) conversations(t *testing.T, orgID uint64) []models.Conversation {
	t.Helper()
	var convs []models.Conversation
	ts.db.Where("organization_id = ?", orgID).Order("id").Find(&convs)
	return convs
}

func (ts *emailServer) messages(t *testing.T, convID uint64) []models.Message {
	t.Helper()
	var msgs []models.Message
	ts.db.Where("conversation_id = ?", convID).Order("id").Find(&msgs)
	return msgs
}

// notify runs the reply-notification activity as the lifecycle workflow
// does once its timer fired.
func (ts *emailServer) notify(t *testing.T, org models.Organization, convID uint64) workflows.ReplyNotificationResult {
	t.Helper()
	a := &activities.Activities{Store: store.New(ts.db.DB, ts.db.Keys), Keys: ts.db.Keys, Mail: ts.srv.Mail, MailFrom: ts.srv.Config.MailFrom, InboundDomain: testInbound}
	env := testenv.ActivityEnv(a.NotifyContactOfReplies)
	return testenv.ActivityResult[workflows.ReplyNotificationResult](t, env, a.NotifyContactOfReplies, workflows.ReplyNotification{ConversationID: convID, OrganizationID: org.ID})
}

// operatorReply posts an operator's answer through the conversation core.
func (ts *emailServer) operatorReply(t *testing.T, org models.Organization, convID uint64, body string) {
	t.Helper()
	var conv models.Conversation
	ts.db.First(&conv, convID)
	var owner models.Account
	ts.db.Where("organization_id = ?", org.ID).First(&owner)
	if _, _, err := ts.srv.Conversations.Post(context.Background(), &org, &conv, conversation.Author{Kind: workflows.AuthorOperator, ID: owner.ID}, body, false, nil); err != nil {
		t.Fatal(err)
	}
}

func TestPostmarkWebhooksRequireBasicAuth(t *testing.T) {
	ts := newEmailServer(t, nil)
	_, org := ts.customer(t, "owner@acme.test", "Acme", "support@acme.test")
	body := fixture(t, "plain.json", map[string]string{"SUPPORT": "support@acme.test"})
	for _, path := range []string{"/webhooks/postmark/inbound", "/webhooks/postmark/events"} {
		for _, cred := range [][2]string{{"", ""}, {postmarkUser, "wrong-password-wrong"}, {"someone", postmarkPassword}, {postmarkUser, postmarkPassword + "x"}} {
			r := ts.webhook(t, path, body, cred[0], cred[1])
			if r.status != http.StatusUnauthorized || r.header.Get("WWW-Authenticate") == "" {
				t.Fatalf("%s with %q: %d", path, cred, r.status)
			}
		}
	}
	if n := len(ts.conversations(t, org.ID)); n != 0 {
		t.Fatalf("%d conversations from unauthenticated mail", n)
	}
	// Without configured credentials nothing is accepted, not even empty ones.
	ts.srv.Config.PostmarkInboundUser, ts.srv.Config.PostmarkInboundPassword = "", ""
	if r := ts.webhook(t, "/webhooks/postmark/inbound", body, "", ""); r.status != http.StatusUnauthorized {
		t.Fatalf("unconfigured: %d", r.status)
	}
}

func TestInboundPlainMailStartsAnEmailConversation(t *testing.T) {
	ts := newEmailServer(t, nil)
	_, org := ts.customer(t, "owner@acme.test", "Acme", "Support@Acme.test")
	r := ts.inbound(t, fixture(t, "plain.json", map[string]string{"SUPPORT": "support@acme.test"}))
	if r.status != http.StatusOK || !strings.Contains(r.body, `"status":"received"`) {
		t.Fatalf("%d %s", r.status, r.body)
	}
	convs := ts.conversations(t, org.ID)
	if len(convs) != 1 || convs[0].Channel != "email" || convs[0].Subject != "Order 1234 has not arrived" {
		t.Fatalf("%+v", convs)
	}
	var contact models.Contact
	ts.db.First(&contact, convs[0].ContactID)
	if contact.Email != "ada@example.com" || contact.Name != "Ada Lovelace" || contact.EmailIndex != ts.db.Keys.BlindIndex("ada@example.com") {
		t.Fatalf("contact %+v", contact)
	}
	msgs := ts.messages(t, convs[0].ID)
	if len(msgs) != 1 || msgs[0].AuthorType != workflows.AuthorContact || msgs[0].AuthorID != contact.ID ||
		msgs[0].Body != "Hello,\n\nmy order 1234 has not arrived yet. Can you check?\n\nAda" {
		t.Fatalf("%+v", msgs)
	}
	// The lifecycle heard of it, like a widget message.
	if s := ts.lifecycles.sent(); len(s) == 0 || s[len(s)-1].Input.ConversationID != convs[0].ID {
		t.Fatalf("lifecycle signals %+v", s)
	}
	// A second mail from the same sender finds the same contact.
	second := strings.ReplaceAll(fixture(t, "plain.json", map[string]string{"SUPPORT": "support@acme.test"}), "CAplain.0001", "CAplain.0002")
	if r := ts.inbound(t, second); r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.body)
	}
	var contacts int64
	ts.db.Model(&models.Contact{}).Where("organization_id = ?", org.ID).Count(&contacts)
	if contacts != 1 || len(ts.conversations(t, org.ID)) != 2 {
		t.Fatalf("%d contacts", contacts)
	}
}

func TestInboundHTMLOnlyMailBecomesText(t *testing.T) {
	ts := newEmailServer(t, nil)
	_, org := ts.customer(t, "owner@acme.test", "Acme", "support@acme.test")
	if r := ts.inbound(t, fixture(t, "html_only.json", map[string]string{"SUPPORT": "support@acme.test"})); r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.body)
	}
	body := ts.messages(t, ts.conversations(t, org.ID)[0].ID)[0].Body
	if body != "Hi team,\nthe invoice #77 (https://acme.example/i/77) lists the wrong VAT number.\n- VAT: DE123" {
		t.Fatalf("%q", body)
	}
	for _, bad := range []string{"alert", "steal", "<", "tracker", "color:red"} {
		if strings.Contains(body, bad) {
			t.Fatalf("%q kept in %q", bad, body)
		}
	}
}

func TestInboundForwardedMailStartsTheForwardersConversation(t *testing.T) {
	ts := newEmailServer(t, nil)
	_, org := ts.customer(t, "owner@acme.test", "Acme", "support@acme.test")
	// Ada's conversation, with a notification mail whose Message-ID Bob's
	// forward names in References.
	ts.inbound(t, fixture(t, "plain.json", map[string]string{"SUPPORT": "support@acme.test"}))
	ada := ts.conversations(t, org.ID)[0]
	ts.operatorReply(t, org, ada.ID, "It ships today.")
	if res := ts.notify(t, org, ada.ID); !res.Sent {
		t.Fatalf("%+v", res)
	}
	notice := mail.ParseMessageIDs(ts.postmark.Last(t, "reply_notification").Header("Message-ID"))[0]

	r := ts.inbound(t, fixture(t, "forwarded.json", map[string]string{"SUPPORT": "support@acme.test", "IN_REPLY_TO": notice}))
	if r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.body)
	}
	convs := ts.conversations(t, org.ID)
	if len(convs) != 2 {
		t.Fatalf("%d conversations: a forward joined Ada's conversation", len(convs))
	}
	var bob models.Contact
	ts.db.First(&bob, convs[1].ContactID)
	if bob.Email != "bob@example.org" || convs[1].Subject != "Fwd: Re: New reply from Acme" {
		t.Fatalf("%+v %+v", bob, convs[1])
	}
	if body := ts.messages(t, convs[1].ID)[0].Body; !strings.Contains(body, "I have the same problem") || !strings.Contains(body, "Forwarded message") {
		t.Fatalf("%q", body)
	}
	if n := len(ts.messages(t, ada.ID)); n != 2 {
		t.Fatalf("Ada's conversation has %d messages", n)
	}
}

func TestInboundAttachments(t *testing.T) {
	ts := newEmailServer(t, nil)
	b, org := ts.customer(t, "owner@acme.test", "Acme", "support@acme.test")
	if r := ts.inbound(t, fixture(t, "attachments.json", map[string]string{"SUPPORT": "support@acme.test"})); r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.body)
	}
	conv := ts.conversations(t, org.ID)[0]
	msgs := ts.messages(t, conv.ID)
	if len(msgs) != 2 || msgs[0].Body != "See the screenshot and the log." || msgs[1].AuthorType != workflows.AuthorSystem {
		t.Fatalf("%+v", msgs)
	}
	if note := msgs[1].Body; !strings.Contains(note, "setup.exe (this type of file is not accepted)") || !strings.Contains(note, "huge-video.zip (larger than 10 MB)") {
		t.Fatalf("note %q", note)
	}
	var atts []models.Attachment
	ts.db.Where("conversation_id = ?", conv.ID).Order("id").Find(&atts)
	if len(atts) != 2 || atts[0].ContentType != "image/png" || atts[0].MessageID != msgs[0].ID || atts[1].ContentType != "text/plain" || atts[1].FileName != "error.log.txt" {
		t.Fatalf("%+v", atts)
	}
	// Sealed in the blob store, readable by the organization's operators.
	b.get("/inbox")
	r := b.get("/inbox/conversations/" + itoa(conv.ID) + "/attachments/" + itoa(atts[1].ID))
	if r.status != http.StatusOK || r.body != "2026-03-02 ERROR payment declined\n" {
		t.Fatalf("attachment: %d %q", r.status, r.body)
	}
}

// The reply to a notification finds its conversation by the reply token;
// without it (a client that drops Reply-To), by In-Reply-To.
func TestInboundReplyThreadsByMailboxHashAndReferences(t *testing.T) {
	ts := newEmailServer(t, nil)
	_, org := ts.customer(t, "owner@acme.test", "Acme", "support@acme.test")
	ts.inbound(t, fixture(t, "plain.json", map[string]string{"SUPPORT": "support@acme.test"}))
	conv := ts.conversations(t, org.ID)[0]
	ts.operatorReply(t, org, conv.ID, "It ships today.")
	if res := ts.notify(t, org, conv.ID); !res.Sent || res.Messages != 1 {
		t.Fatalf("%+v", res)
	}
	notice := ts.postmark.Last(t, "reply_notification")
	token, ok := mail.ParseReplyAddress(notice.ReplyTo, testInbound)
	if !ok || notice.To != `"Ada Lovelace" <ada@example.com>` || notice.Subject != "Re: Order 1234 has not arrived" {
		t.Fatalf("notification %+v", notice)
	}
	// The first notification answers Ada's mail: it names its Message-ID.
	if notice.Header("In-Reply-To") != "<CAplain.0001@mail.example.com>" || notice.Header("References") != "<CAplain.0001@mail.example.com>" {
		t.Fatalf("threading %+v", notice.Headers)
	}
	noticeID := mail.ParseMessageIDs(notice.Header("Message-ID"))[0]

	r := ts.inbound(t, fixture(t, "quoted_reply.json", map[string]string{"HASH": token, "IN_REPLY_TO": noticeID}))
	if r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.body)
	}
	msgs := ts.messages(t, conv.ID)
	if len(ts.conversations(t, org.ID)) != 1 || len(msgs) != 3 || msgs[2].Body != "Thanks, that works!" {
		t.Fatalf("%d conversations, messages %+v", len(ts.conversations(t, org.ID)), msgs)
	}

	// The next notification names the whole thread, the reply last.
	ts.operatorReply(t, org, conv.ID, "Glad to hear it.")
	ts.notify(t, org, conv.ID)
	next := ts.postmark.Last(t, "reply_notification")
	if next.Header("In-Reply-To") != "<CAreply.0004@mail.example.com>" ||
		next.Header("References") != "<CAplain.0001@mail.example.com> <"+noticeID+"> <CAreply.0004@mail.example.com>" || next.ReplyTo != notice.ReplyTo {
		t.Fatalf("threading %+v", next.Headers)
	}

	// No reply token (the client replied to From): In-Reply-To finds it.
	noHash := fixture(t, "quoted_reply.json", map[string]string{"HASH": "", "IN_REPLY_TO": noticeID})
	noHash = strings.ReplaceAll(noHash, "reply+@"+testInbound, "inbox@"+testInbound)
	noHash = strings.ReplaceAll(noHash, "CAreply.0004", "CAreply.0005")
	if r := ts.inbound(t, noHash); r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if n := len(ts.messages(t, conv.ID)); n != 5 || len(ts.conversations(t, org.ID)) != 1 {
		t.Fatalf("%d messages", n)
	}
}

func TestInboundUnknownHashStartsANewConversation(t *testing.T) {
	ts := newEmailServer(t, nil)
	_, org := ts.customer(t, "owner@acme.test", "Acme", "support@acme.test")
	ts.inbound(t, fixture(t, "plain.json", map[string]string{"SUPPORT": "support@acme.test"}))
	r := ts.inbound(t, fixture(t, "unknown_hash.json", map[string]string{"SUPPORT": "support@acme.test"}))
	if r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.body)
	}
	convs := ts.conversations(t, org.ID)
	if len(convs) != 2 || ts.messages(t, convs[1].ID)[0].Body != "Is anyone there?" || len(ts.messages(t, convs[0].ID)) != 1 {
		t.Fatalf("%d conversations", len(convs))
	}
	// Addressed to nobody known, with an unknown token: refused, never a guess.
	orphan := strings.ReplaceAll(fixture(t, "unknown_hash.json", map[string]string{"SUPPORT": "someone@elsewhere.test"}), "CAunknown", "CAorphan")
	if r := ts.inbound(t, orphan); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if len(ts.conversations(t, org.ID)) != 2 {
		t.Fatal("an unroutable mail was filed")
	}
}

// A token or a Message-ID of organization A never brings mail addressed to
// organization B's support address into A's conversation.
func TestInboundNeverCrossesOrganizations(t *testing.T) {
	ts := newEmailServer(t, nil)
	_, acme := ts.customer(t, "owner@acme.test", "Acme", "support@acme.test")
	_, globex := ts.customer(t, "owner@globex.test", "Globex", "help@globex.test")
	ts.inbound(t, fixture(t, "plain.json", map[string]string{"SUPPORT": "support@acme.test"}))
	acmeConv := ts.conversations(t, acme.ID)[0]
	ts.operatorReply(t, acme, acmeConv.ID, "It ships today.")
	ts.notify(t, acme, acmeConv.ID)
	notice := ts.postmark.Last(t, "reply_notification")
	token, _ := mail.ParseReplyAddress(notice.ReplyTo, testInbound)
	noticeID := mail.ParseMessageIDs(notice.Header("Message-ID"))[0]

	// Acme's token and Message-ID, but sent to Globex's support address.
	crossing := fixture(t, "quoted_reply.json", map[string]string{"HASH": token, "IN_REPLY_TO": noticeID})
	crossing = strings.Replace(crossing, `"To": "\"Acme (via Convot)\" <reply+`+token+"@"+testInbound+`>"`, `"To": "help@globex.test"`, 1)
	crossing = strings.Replace(crossing, `"Email": "reply+`+token+"@"+testInbound+`"`, `"Email": "help@globex.test"`, 1)
	if !strings.Contains(crossing, `"To": "help@globex.test"`) {
		t.Fatal("fixture not rewritten")
	}
	if r := ts.inbound(t, crossing); r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if n := len(ts.messages(t, acmeConv.ID)); n != 2 {
		t.Fatalf("Acme's conversation got Globex's mail: %d messages", n)
	}
	globexConvs := ts.conversations(t, globex.ID)
	if len(globexConvs) != 1 || ts.messages(t, globexConvs[0].ID)[0].Body != "Thanks, that works!" {
		t.Fatalf("Globex: %+v", globexConvs)
	}
	var c models.Contact
	ts.db.First(&c, globexConvs[0].ContactID)
	if c.OrganizationID != globex.ID {
		t.Fatal("the contact crossed organizations")
	}

	// The same mail without the token, only Acme's Message-ID: Globex's.
	refOnly := strings.ReplaceAll(crossing, `"MailboxHash": "`+token+`"`, `"MailboxHash": ""`)
	refOnly = strings.ReplaceAll(refOnly, "reply+"+token, "inbox")
	refOnly = strings.ReplaceAll(refOnly, "CAreply.0004", "CAreply.0009")
	if r := ts.inbound(t, refOnly); r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if n := len(ts.messages(t, acmeConv.ID)); n != 2 {
		t.Fatalf("Acme's conversation got Globex's mail by Message-ID: %d messages", n)
	}
	if n := len(ts.messages(t, globexConvs[0].ID)); n != 1 {
		// A new conversation each time: Globex never saw Acme's thread.
		t.Fatalf("%d", n)
	}
	if n := len(ts.conversations(t, globex.ID)); n != 2 {
		t.Fatalf("Globex has %d conversations", n)
	}
}

func TestInboundBadInput(t *testing.T) {
	ts := newEmailServer(t, nil)
	_, org := ts.customer(t, "owner@acme.test", "Acme", "support@acme.test")
	var logs bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	defer slog.SetDefault(old)

	plain := fixture(t, "plain.json", map[string]string{"SUPPORT": "support@acme.test"})
	without := func(edit func(map[string]any)) string {
		p := map[string]any{}
		if err := json.Unmarshal([]byte(plain), &p); err != nil {
			t.Fatal(err)
		}
		edit(p)
		b, _ := json.Marshal(p)
		return string(b)
	}
	for name, c := range map[string]struct {
		body   string
		status int
	}{
		"not json":     {"{not json", http.StatusBadRequest},
		"two docs":     {plain + plain, http.StatusBadRequest},
		"wrong shape":  {`{"ToFull": "support@acme.test"}`, http.StatusBadRequest},
		"no sender":    {without(func(p map[string]any) { delete(p, "From"); delete(p, "FromFull") }), http.StatusUnprocessableEntity},
		"bad sender":   {without(func(p map[string]any) { p["From"] = "ada at example"; delete(p, "FromFull") }), http.StatusUnprocessableEntity},
		"no recipient": {without(func(p map[string]any) { p["To"], p["ToFull"], p["OriginalRecipient"] = "", []any{}, "" }), http.StatusUnprocessableEntity},
		"no id":        {without(func(p map[string]any) { p["MessageID"], p["Headers"] = "", []any{} }), http.StatusUnprocessableEntity},
		"unroutable":   {without(func(p map[string]any) { p["To"], p["ToFull"] = "nobody@elsewhere.test", []any{} }), http.StatusUnprocessableEntity},
	} {
		r := ts.inbound(t, c.body)
		if r.status != c.status || !strings.Contains(r.body, `"error"`) {
			t.Fatalf("%s: %d %s", name, r.status, r.body)
		}
	}
	// Larger than the webhook's limit: 413 for the whole request.
	huge := `{"From":"ada@example.com","TextBody":"` + strings.Repeat("x", webhooks.MaxInboundBytes) + `"}`
	if r := ts.inbound(t, huge); r.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized: %d", r.status)
	}
	if n := len(ts.conversations(t, org.ID)); n != 0 {
		t.Fatalf("%d conversations from bad input", n)
	}
	// An attachment over the file limit only skips that file (see
	// TestInboundAttachments); the mail itself is taken.
	for _, secret := range []string{"ada@example.com", "Ada Lovelace", "Order 1234", "has not arrived", "support@acme.test", "nobody@elsewhere"} {
		if strings.Contains(logs.String(), secret) {
			t.Fatalf("the log names %q:\n%s", secret, logs.String())
		}
	}
	if !strings.Contains(logs.String(), "reason=\"no sender\"") {
		t.Fatalf("refusals are logged by reason: %s", logs.String())
	}
}

func TestInboundDuplicateIsTakenOnce(t *testing.T) {
	ts := newEmailServer(t, nil)
	_, org := ts.customer(t, "owner@acme.test", "Acme", "support@acme.test")
	body := fixture(t, "plain.json", map[string]string{"SUPPORT": "support@acme.test"})
	ts.inbound(t, body)
	r := ts.inbound(t, body)
	if r.status != http.StatusOK || !strings.Contains(r.body, "duplicate") {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if n := len(ts.conversations(t, org.ID)); n != 1 {
		t.Fatalf("%d conversations", n)
	}
}

func TestInboundPrivacyAddressGoesToTheIntake(t *testing.T) {
	ts := newEmailServer(t, nil)
	_, org := ts.customer(t, "owner@acme.test", "Acme", "support@acme.test")
	body := fixture(t, "privacy.json", nil)
	// Without an intake, Postmark is asked to come back later.
	ts.srv.PrivacyIntake = nil
	if r := ts.inbound(t, body); r.status != http.StatusServiceUnavailable {
		t.Fatalf("%d %s", r.status, r.body)
	}
	var got []dsr.InboundMail
	ts.srv.PrivacyIntake = func(_ context.Context, m dsr.InboundMail) error {
		got = append(got, m)
		return nil
	}
	if r := ts.inbound(t, body); r.status != http.StatusOK || !strings.Contains(r.body, "privacy_request") {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if len(got) != 1 || got[0].FromAddress != "carol@example.net" || got[0].FromName != "Carol Customer" ||
		got[0].Subject != "Please delete my data" || got[0].Text != "Please erase everything you hold about me." || got[0].MessageID != "CAprivacy.0007@mail.example.net" {
		t.Fatalf("%+v", got)
	}
	if n := len(ts.conversations(t, org.ID)); n != 0 {
		t.Fatal("a privacy request became a conversation")
	}
}

func TestBouncesAndComplaintsSuppressMail(t *testing.T) {
	ts := newEmailServer(t, nil)
	b, org := ts.customer(t, "owner@acme.test", "Acme", "support@acme.test")
	ts.inbound(t, fixture(t, "plain.json", map[string]string{"SUPPORT": "support@acme.test"}))
	conv := ts.conversations(t, org.ID)[0]

	// A soft bounce is recorded and stops nothing.
	soft := strings.Replace(strings.Replace(fixture(t, "bounce.json", map[string]string{"EMAIL": "Ada@Example.com"}), `"HardBounce"`, `"SoftBounce"`, 1), `"Inactive": true`, `"Inactive": false`, 1)
	soft = strings.Replace(soft, "4323372036854775807", "17", 1)
	if r := ts.webhook(t, "/webhooks/postmark/events", soft, postmarkUser, postmarkPassword); r.status != http.StatusOK || !strings.Contains(r.body, `"suppresses":false`) {
		t.Fatalf("%d %s", r.status, r.body)
	}
	ts.operatorReply(t, org, conv.ID, "First answer.")
	if res := ts.notify(t, org, conv.ID); !res.Sent {
		t.Fatalf("after a soft bounce: %+v", res)
	}

	// A hard bounce stops the next notification; recorded once, without
	// the address in clear.
	hard := fixture(t, "bounce.json", map[string]string{"EMAIL": "ada@example.com"})
	for range 2 {
		if r := ts.webhook(t, "/webhooks/postmark/events", hard, postmarkUser, postmarkPassword); r.status != http.StatusOK || !strings.Contains(r.body, `"suppresses":true`) {
			t.Fatalf("%d %s", r.status, r.body)
		}
	}
	var recs []models.EmailSuppression
	ts.db.Order("id").Find(&recs)
	if len(recs) != 2 || recs[1].Kind != models.SuppressionBounce || recs[1].BounceType != "HardBounce" || !recs[1].Suppresses ||
		recs[1].EmailIndex != ts.db.Keys.BlindIndex("ada@example.com") || recs[1].OccurredAt.IsZero() {
		t.Fatalf("%+v", recs)
	}
	var raw int64
	ts.db.Raw("SELECT COUNT(*) FROM email_suppressions WHERE email_index LIKE ? OR bounce_type LIKE ? OR stream LIKE ?", "%ada%", "%ada%", "%ada%").Scan(&raw)
	if raw != 0 {
		t.Fatal("the address is stored in clear")
	}
	before := len(ts.postmark.Mails())
	ts.operatorReply(t, org, conv.ID, "Second answer.")
	if res := ts.notify(t, org, conv.ID); res.Sent || res.Skipped != "suppressed" {
		t.Fatalf("after a hard bounce: %+v", res)
	}

	// A spam complaint about the owner's address stops transactional mail
	// to them too (a security alert after a sign-in).
	complaint := fixture(t, "spam_complaint.json", map[string]string{"EMAIL": "owner@acme.test"})
	if r := ts.webhook(t, "/webhooks/postmark/events", complaint, postmarkUser, postmarkPassword); r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.body)
	}
	b.logout()
	if r := b.login("owner@acme.test", "correct horse battery"); r.status != http.StatusSeeOther {
		t.Fatalf("login %d", r.status)
	}
	if after := len(ts.postmark.Mails()); after != before {
		t.Fatalf("%d mails went to suppressed addresses", after-before)
	}

	// Postmark reactivates the address: mail flows again.
	change := `{"RecordType":"SubscriptionChange","MessageStream":"outbound","Recipient":"ada@example.com","SuppressSending":false,"ChangedAt":"2026-03-05T10:00:00Z"}`
	if r := ts.webhook(t, "/webhooks/postmark/events", change, postmarkUser, postmarkPassword); r.status != http.StatusOK || !strings.Contains(r.body, "lifted") {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if res := ts.notify(t, org, conv.ID); !res.Sent {
		t.Fatalf("after reactivation: %+v", res)
	}
	// Bad events: 4xx; deliveries and opens are ignored.
	for body, status := range map[string]int{
		`{"RecordType":"Bounce","ID":5}`:            http.StatusUnprocessableEntity,
		`{"ID":5,"Email":"x@example.com"}`:          http.StatusUnprocessableEntity,
		`[1,2]`:                                     http.StatusBadRequest,
		`{"RecordType":"Delivery","ID":5}`:          http.StatusOK,
		`{"RecordType":"SpamComplaint","Email":""}`: http.StatusUnprocessableEntity,
	} {
		if r := ts.webhook(t, "/webhooks/postmark/events", body, postmarkUser, postmarkPassword); r.status != status {
			t.Fatalf("%s: %d %s", body, r.status, r.body)
		}
	}
}

func TestMarketingConsentPage(t *testing.T) {
	ts := newEmailServer(t, nil)
	b, org := ts.customer(t, "owner@acme.test", "Acme", "support@acme.test")
	r := b.get("/settings/marketing")
	if r.status != http.StatusOK || !strings.Contains(r.body, "newsletter and announcements of new features") || !strings.Contains(r.body, "I agree") {
		t.Fatalf("%d %s", r.status, excerpt(r.body))
	}
	if r := b.post("/settings/marketing", url.Values{"consent": {"give"}}); r.status != http.StatusSeeOther {
		t.Fatalf("%d %s", r.status, excerpt(r.body))
	}
	var owner models.Account
	ts.db.Where("organization_id = ?", org.ID).First(&owner)
	consent, _ := models.MarketingConsent(context.Background(), ts.db.DB, owner.ID)
	if consent == nil || consent.WordingVersion != models.MarketingWordingVersion || consent.Source != "dashboard" || consent.CreatedAt.IsZero() {
		t.Fatalf("%+v", consent)
	}
	sc, _ := store.New(ts.db.DB, ts.db.Keys).SubjectContextForAccount(context.Background(), owner.OrganizationID, owner.ID)
	if len(sc.Consents) != 1 || sc.Consents[0] != "marketing_email" {
		t.Fatalf("the gate would be told %+v", sc)
	}
	b.get("/settings/marketing")
	if r := b.post("/settings/marketing", url.Values{"consent": {"withdraw"}}); r.status != http.StatusSeeOther {
		t.Fatalf("%d", r.status)
	}
	if consent, _ := models.MarketingConsent(context.Background(), ts.db.DB, owner.ID); consent != nil {
		t.Fatal("withdrawal not honoured")
	}
	if sc, _ := store.New(ts.db.DB, ts.db.Keys).SubjectContextForAccount(context.Background(), owner.OrganizationID, owner.ID); len(sc.Consents) != 0 {
		t.Fatalf("the gate would still be told %+v", sc)
	}
	r = b.get("/settings/marketing")
	if strings.Count(r.body, "dashboard") != 2 || !strings.Contains(r.body, "withdrawn") {
		t.Fatalf("history: %s", r.body)
	}
	var audits int64
	ts.db.Model(&models.AuditEvent{}).Where("action LIKE ?", "marketing.%").Count(&audits)
	if audits != 2 {
		t.Fatalf("%d audit events", audits)
	}
	// Without the CSRF token: refused.
	if r := b.postRaw("/settings/marketing", url.Values{"consent": {"give"}}); r.status != http.StatusForbidden {
		t.Fatalf("%d", r.status)
	}
}

// With a policy that let marketing mail go to Postmark, each consenting
// account (and only they) would get a mail with one-click unsubscribe;
// the link withdraws the consent at once (RFC 8058).
func TestMarketingOneClickUnsubscribeRoundTrip(t *testing.T) {
	ts := newEmailServer(t, allowEverything{})
	b, org := ts.customer(t, "owner@acme.test", "Acme", "support@acme.test")
	ts.customer(t, "owner@globex.test", "Globex", "help@globex.test") // never agreed
	b.get("/settings/marketing")
	b.post("/settings/marketing", url.Values{"consent": {"give"}})

	report, err := ts.srv.dashboard.SendMarketing(context.Background(), dashboard.Campaign{Subject: "What's new in March", Text: "Three new features.", Tag: "newsletter-2026-03"})
	if err != nil || report.Sent != 1 || report.Consenting != 1 {
		t.Fatalf("%+v %v", report, err)
	}
	m := ts.postmark.Last(t, "newsletter-2026-03")
	if m.To != `"Olivia Owner" <owner@acme.test>` || m.MessageStream != "broadcast" || m.Header("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
		t.Fatalf("%+v", m)
	}
	var link, mailto string
	for _, part := range strings.Split(m.Header("List-Unsubscribe"), ",") {
		part = strings.Trim(strings.TrimSpace(part), "<>")
		if strings.HasPrefix(part, "mailto:") {
			mailto = part
		} else {
			link = part
		}
	}
	if !strings.HasPrefix(link, ts.URL+"/unsubscribe/") || !strings.HasPrefix(mailto, "mailto:unsubscribe+") || !strings.Contains(m.TextBody, link) {
		t.Fatalf("List-Unsubscribe %q", m.Header("List-Unsubscribe"))
	}
	path := strings.TrimPrefix(link, ts.URL)

	// A GET (a scanner following the link) changes nothing.
	other := ts.browser(t)
	r := other.get(path)
	if r.status != http.StatusOK || !strings.Contains(r.body, `action="`+path+`"`) {
		t.Fatalf("%d %s", r.status, excerpt(r.body))
	}
	var owner models.Account
	ts.db.Where("organization_id = ?", org.ID).First(&owner)
	if c, _ := models.MarketingConsent(context.Background(), ts.db.DB, owner.ID); c == nil {
		t.Fatal("a GET unsubscribed")
	}
	// The mail client's one-click POST: no session, no CSRF token.
	resp, err := http.Post(link, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%v %v", resp, err)
	}
	_ = resp.Body.Close() // only the status is wanted
	if c, _ := models.MarketingConsent(context.Background(), ts.db.DB, owner.ID); c != nil {
		t.Fatal("one-click did not withdraw")
	}
	history, _ := models.MarketingConsentHistory(context.Background(), ts.db.DB, owner.ID)
	if len(history) != 2 || history[0].Active || history[0].Source != "one_click" {
		t.Fatalf("%+v", history)
	}
	// Honoured at once: the next campaign mails nobody.
	before := len(ts.postmark.Mails())
	report, _ = ts.srv.dashboard.SendMarketing(context.Background(), dashboard.Campaign{Subject: "April", Text: "More.", Tag: "newsletter-2026-04"})
	if report.Sent != 0 || report.Consenting != 0 || len(ts.postmark.Mails()) != before {
		t.Fatalf("%+v", report)
	}
	// Twice is harmless; an unknown token is 404; the page says so.
	if r := other.postRaw(path, url.Values{}); r.status != http.StatusOK || !strings.Contains(r.body, "You are unsubscribed") {
		t.Fatalf("%d", r.status)
	}
	if r := other.postRaw("/unsubscribe/"+strings.Repeat("a", 32), nil); r.status != http.StatusNotFound {
		t.Fatalf("%d", r.status)
	}
	if r := other.get("/unsubscribe/x"); r.status != http.StatusNotFound {
		t.Fatalf("%d", r.status)
	}

	// The mailto: of List-Unsubscribe withdraws too (consent given again).
	b.get("/settings/marketing")
	b.post("/settings/marketing", url.Values{"consent": {"give"}})
	if _, err := ts.srv.dashboard.SendMarketing(context.Background(), dashboard.Campaign{Subject: "May", Text: "News.", Tag: "newsletter-2026-05"}); err != nil {
		t.Fatal(err)
	}
	m = ts.postmark.Last(t, "newsletter-2026-05")
	to := strings.TrimPrefix(strings.Split(strings.Split(m.Header("List-Unsubscribe"), "<mailto:")[1], "?")[0], "")
	unsub := `{"From":"owner@acme.test","FromFull":{"Email":"owner@acme.test"},"To":"` + to + `","OriginalRecipient":"` + to + `","Subject":"unsubscribe","MessageID":"5d5e3b4e-0000-0000-0000-000000000001","TextBody":""}`
	if r := ts.inbound(t, unsub); r.status != http.StatusOK || !strings.Contains(r.body, "unsubscribed") {
		t.Fatalf("%d %s", r.status, r.body)
	}
	history, _ = models.MarketingConsentHistory(context.Background(), ts.db.DB, owner.ID)
	if history[0].Active || history[0].Source != "mailto" {
		t.Fatalf("%+v", history[0])
	}
}

// Policy §6 names Postmark for transactional mail only: the egress gate
// refuses marketing mail to it, with its reason, and nothing leaves.
func TestMarketingRefusedByTheGate(t *testing.T) {
	ts := newEmailServer(t, nil)
	b, _ := ts.customer(t, "owner@acme.test", "Acme", "support@acme.test")
	b.get("/settings/marketing")
	b.post("/settings/marketing", url.Values{"consent": {"give"}})
	report, err := ts.srv.dashboard.SendMarketing(context.Background(), dashboard.Campaign{Subject: "News", Text: "Hello.", Tag: "newsletter"})
	if err != nil {
		t.Fatal(err)
	}
	if report.Sent != 0 || report.Refused != 1 || report.Reasons["postmark is not registered for purpose marketing.communications.email"] != 1 {
		t.Fatalf("%+v", report)
	}
	if n := len(ts.postmark.Mails()); n != 0 {
		t.Fatalf("%d mails left", n)
	}
	var d models.EgressDecision
	ts.db.Where("purpose = ?", "marketing.communications.email").Last(&d)
	if d.ID == 0 || d.Allow {
		t.Fatalf("decision %+v", d)
	}
	if _, err := ts.srv.dashboard.SendMarketing(context.Background(), dashboard.Campaign{Subject: "", Text: "x"}); err == nil {
		t.Fatal("a campaign without subject")
	}
}

// Security alerts are transactional: withdrawing marketing consent does
// not stop them, and they never offer to unsubscribe (policy §4).
func TestTransactionalMailCannotBeUnsubscribed(t *testing.T) {
	ts := newEmailServer(t, allowEverything{})
	b, _ := ts.customer(t, "owner@acme.test", "Acme", "support@acme.test")
	b.get("/settings/marketing")
	b.post("/settings/marketing", url.Values{"consent": {"give"}})
	b.get("/settings/marketing")
	b.post("/settings/marketing", url.Values{"consent": {"withdraw"}})
	b.logout()
	b.login("owner@acme.test", "correct horse battery")
	alert := ts.postmark.Last(t, "security_alert")
	if alert.To != "<owner@acme.test>" || alert.MessageStream != "outbound" || alert.Header("List-Unsubscribe") != "" || alert.Header("List-Unsubscribe-Post") != "" {
		t.Fatalf("%+v", alert)
	}
}

func TestSupportAddressSettings(t *testing.T) {
	ts := newEmailServer(t, nil)
	b, org := ts.customer(t, "owner@acme.test", "Acme", "support@acme.test")
	var stored models.Organization
	ts.db.First(&stored, org.ID)
	if stored.SupportAddress != "support@acme.test" || stored.SupportAddressIndex != ts.db.Keys.BlindIndex("support@acme.test") {
		t.Fatalf("%+v", stored)
	}
	var clear int64
	ts.db.Raw("SELECT COUNT(*) FROM organizations WHERE support_address LIKE ?", "%acme%").Scan(&clear)
	if clear != 0 {
		t.Fatal("the support address is stored in clear")
	}
	if r := b.get("/settings/email"); !strings.Contains(r.body, "support@acme.test") || !strings.Contains(r.body, testInbound) {
		t.Fatalf("%s", excerpt(r.body))
	}
	other := ts.browser(t)
	other.signup("owner@globex.test", "Globex")
	other.get("/settings/email")
	for addr, status := range map[string]int{
		"support@acme.test":            http.StatusConflict,
		"not an address":               http.StatusUnprocessableEntity,
		"x@" + testInbound:             http.StatusUnprocessableEntity,
		"privacy@convot.io":            http.StatusUnprocessableEntity,
		"reply+abc@sub." + testInbound: http.StatusUnprocessableEntity,
	} {
		if r := other.post("/settings/email", url.Values{"support_address": {addr}}); r.status != status {
			t.Fatalf("%q: %d", addr, r.status)
		}
	}
	// Each organization sees its own; a visitor is sent to sign in.
	if r := other.get("/settings/email"); r.status != http.StatusOK || strings.Contains(r.body, "support@acme.test") {
		t.Fatalf("%d: another organization's address shown", r.status)
	}
	if r := ts.browser(t).get("/settings/email"); r.status != http.StatusSeeOther || r.location != "/login" {
		t.Fatalf("anonymous: %d %s", r.status, r.location)
	}
	// Clearing it stops recognizing mail for it.
	b.get("/settings/email")
	if r := b.post("/settings/email", url.Values{"support_address": {""}}); r.status != http.StatusSeeOther {
		t.Fatalf("%d", r.status)
	}
	if r := ts.inbound(t, fixture(t, "plain.json", map[string]string{"SUPPORT": "support@acme.test"})); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("mail for a cleared address: %d", r.status)
	}
}

// The dev mailbox shows a mail as its recipient would: headers, text, and
// the HTML sanitized in a sandboxed frame.
func TestDevMailboxShowsMailAsTheRecipientSeesIt(t *testing.T) {
	ts := newTestServer(t)
	err := ts.outbox.Send(context.Background(), mail.Message{
		From: "Convot <no-reply@convot.test>", To: "ada@example.com", ReplyTo: "reply+0123456789abcdef0123456789abcdef@" + testInbound,
		Subject: "News", Text: "Plain part", HTML: `<p onclick="x()">Hi <script>alert(1)</script><img src="https://t.example/p.gif"></p>`,
		Stream: mail.Marketing, Tag: "newsletter", Refused: "postmark is not registered for purpose marketing.communications.email",
		Headers: map[string]string{"List-Unsubscribe": "<https://app.convot.test/unsubscribe/t>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click", "Message-ID": "<convot.1@" + testInbound + ">"},
	})
	if err != nil {
		t.Fatal(err)
	}
	msgs, _ := ts.outbox.List()
	b := ts.browser(t)
	b.signup("olivia@acme.test", "Acme")
	r := b.get("/dev/mailbox/" + msgs[0].ID)
	for _, want := range []string{"List-Unsubscribe-Post", "List-Unsubscribe=One-Click", "Message-ID", "0123456789abcdef0123456789abcdef@", "Plain part",
		`sandbox src="/dev/mailbox/` + msgs[0].ID + `/html"`, "Not delivered", "postmark is not registered"} {
		if !strings.Contains(r.body, want) {
			t.Fatalf("%q missing", want)
		}
	}
	r = b.get("/dev/mailbox/" + msgs[0].ID + "/html")
	csp := r.header.Get("Content-Security-Policy")
	if r.status != http.StatusOK || !strings.Contains(csp, "sandbox") || !strings.Contains(csp, "default-src 'none'") || r.header.Get("X-Frame-Options") != "SAMEORIGIN" {
		t.Fatalf("%d %q", r.status, csp)
	}
	if strings.Contains(r.body, "script") || strings.Contains(r.body, "onclick") || strings.Contains(r.body, "t.example") || !strings.Contains(r.body, "Hi ") {
		t.Fatalf("%q", r.body)
	}
}

// The dev mailbox holds every organization's mail, reset and invitation
// links included: only a signed-in owner reads it, and only the mail of
// their own organization and mail to no organization.
func TestDevMailboxIsForAnOwnerAndTheirOrganizationsMail(t *testing.T) {
	ts := newTestServer(t)
	acme := ts.browser(t)
	acme.signup("olivia@acme.test", "Acme")
	globex := ts.browser(t)
	globex.signup("gina@globex.test", "Globex")
	// A reset link for each owner, each sent on behalf of their organization.
	for _, email := range []string{"olivia@acme.test", "gina@globex.test"} {
		b := ts.browser(t)
		b.get("/password/forgot")
		if r := b.post("/password/forgot", url.Values{"email": {email}}); r.status != http.StatusSeeOther {
			t.Fatalf("forgot: %d", r.status)
		}
	}
	if err := ts.outbox.Send(context.Background(), mail.Message{To: "nobody@example.com", Subject: "Mail to no organization", Text: "system"}); err != nil {
		t.Fatal(err)
	}
	globexReset := ts.lastMail(t, "gina@globex.test", "password_reset")
	acmeReset := ts.lastMail(t, "olivia@acme.test", "password_reset")

	// Anonymous: sent to sign in, for the list and for each message.
	anon := ts.browser(t)
	for _, path := range []string{"/dev/mailbox", "/dev/mailbox/" + globexReset.ID, "/dev/mailbox/" + globexReset.ID + "/html"} {
		if r := anon.get(path); r.status != http.StatusSeeOther || r.location != "/login" {
			t.Fatalf("anonymous %s: %d %s", path, r.status, r.location)
		}
	}
	// An agent of Acme is not an owner.
	agent := inviteAndJoin(t, ts, acme, "adam@acme.test", "agent")
	if r := agent.get("/dev/mailbox"); r.status != http.StatusForbidden {
		t.Fatalf("agent: %d", r.status)
	}
	// Acme's owner sees Acme's mail and mail to no organization, never Globex's.
	r := acme.get("/dev/mailbox")
	if r.status != http.StatusOK || !strings.Contains(r.body, "/dev/mailbox/"+acmeReset.ID) || !strings.Contains(r.body, "Mail to no organization") {
		t.Fatalf("owner's list: %d", r.status)
	}
	if strings.Contains(r.body, "gina@globex.test") || strings.Contains(r.body, globexReset.ID) {
		t.Fatal("the list shows another organization's mail")
	}
	for _, path := range []string{"/dev/mailbox/" + globexReset.ID, "/dev/mailbox/" + globexReset.ID + "/html"} {
		if r := acme.get(path); r.status != http.StatusNotFound || strings.Contains(r.body, "token=") {
			t.Fatalf("another organization's mail %s: %d", path, r.status)
		}
	}
	if r := acme.get("/dev/mailbox/" + acmeReset.ID); r.status != http.StatusOK || !strings.Contains(r.body, "token=") {
		t.Fatalf("own mail: %d", r.status)
	}
}

// Mail to Convot's support address (policy §14) opens a support ticket of
// the account that sent it, once however often Postmark delivers it, shown
// on that organization's Support page; mail from an address no account
// has is refused with a 422 that says why.
func TestInboundSupportAddressOpensATicket(t *testing.T) {
	ts := newEmailServer(t, nil)
	ts.srv.Config.SupportAddress = "help@convot.test"
	owner, org := ts.customer(t, "owner@acme.test", "Acme", "support@acme.test")
	mailFrom := func(from string) string {
		body := strings.ReplaceAll(fixture(t, "privacy.json", nil), "privacy@convot.io", "help@convot.test")
		body = strings.ReplaceAll(body, "carol@example.net", from)
		return strings.ReplaceAll(body, "Please delete my data", "Invoice question")
	}
	if r := ts.inbound(t, mailFrom("stranger@example.net")); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "support address") {
		t.Fatalf("from a stranger: %d %s", r.status, r.body)
	}
	body := mailFrom("owner@acme.test")
	var wg sync.WaitGroup
	statuses := make([]string, 3)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = ts.inbound(t, body).body
		}()
	}
	wg.Wait()
	opened := 0
	for _, s := range statuses {
		if strings.Contains(s, `"support_ticket"`) {
			opened++
		} else if !strings.Contains(s, "duplicate") {
			t.Fatalf("a delivery answered %s", s)
		}
	}
	var tickets []models.SupportTicket
	ts.db.Where("organization_id = ?", org.ID).Find(&tickets)
	if opened != 1 || len(tickets) != 1 || tickets[0].Status != models.TicketOpen {
		t.Fatalf("%d opened, %d tickets", opened, len(tickets))
	}
	page := owner.get("/support")
	if page.status != http.StatusOK || !strings.Contains(page.body, "Invoice question") {
		t.Fatalf("/support does not list the mailed ticket: %d", page.status)
	}
	ticket := owner.get(fmt.Sprintf("/support/%d", tickets[0].ID))
	if !strings.Contains(ticket.body, "Please erase everything you hold about me.") {
		t.Fatal("the ticket lacks the mail's text")
	}
	if n := len(ts.conversations(t, org.ID)); n != 0 {
		t.Fatal("mail to Convot's support address became a conversation")
	}
}
