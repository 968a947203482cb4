package activities

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/internal/mail"
	"github.com/convot/convot/internal/testdb"
	"github.com/convot/convot/internal/testenv"
	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/store"
	"github.com/convot/convot/subprocessors"
	"github.com/convot/convot/workflows"
)

const testInboundDomain = "inbound.convot.test"

// newMailer is the mailer of production: suppressions first, then the
// gated Postmark client, pointed at a fake Postmark API.
func newMailer(t *testing.T, db *testdb.DB) (mail.Sender, *testenv.FakePostmark) {
	t.Helper()
	fake := testenv.NewFakePostmark(t, "test-token")
	gate, err := policies.NewGate(context.Background(), models.DecisionLog{DB: db.DB})
	if err != nil {
		t.Fatal(err)
	}
	pm, err := subprocessors.NewPostmark(gate, subprocessors.PostmarkConfig{BaseURL: fake.URL, ServerToken: fake.Token})
	if err != nil {
		t.Fatal(err)
	}
	return mail.NewMailer(pm.MailSender(), "Convot <no-reply@convot.test>", models.Suppressions{DB: db.DB, Keys: db.Keys}), fake
}

func TestNotifyContactOfReplies(t *testing.T) {
	db := testdb.New(t)
	ctx := context.Background()
	org := models.Organization{PublicKey: crypto.RandomToken(8), CompanyName: "Acme", Region: "eu", Status: models.OrgActive}
	db.Create(&org)
	operator := models.Account{OrganizationID: org.ID, FullName: "Oscar Operator", DisplayName: "Oscar", Email: "oscar@acme.test", Role: models.RoleAgent, Status: "active"}
	db.Create(&operator)
	contact := models.Contact{OrganizationID: org.ID, Name: "Ada Lovelace", Email: "ada@example.com"}
	db.Create(&contact)
	conv := models.Conversation{OrganizationID: org.ID, ContactID: contact.ID, DataKeyID: contact.DataKeyID, Channel: "widget", Status: "open", LastMessageAt: time.Now()}
	db.Create(&conv)
	post := func(kind string, body string, private bool, read bool) models.Message {
		m := models.Message{OrganizationID: org.ID, ConversationID: conv.ID, DataKeyID: conv.DataKeyID, AuthorType: kind, Body: body, Private: private, CreatedAt: time.Now()}
		if kind == workflows.AuthorOperator {
			m.AuthorID = operator.ID
		}
		if read {
			now := time.Now()
			m.ReadAt = &now
		}
		if err := db.Create(&m).Error; err != nil {
			t.Fatal(err)
		}
		return m
	}
	post(workflows.AuthorContact, "Where is my order?", false, false)
	post(workflows.AuthorOperator, "Seen already <b>earlier</b>", false, true)
	post(workflows.AuthorOperator, "Internal: customer is a VIP", true, false)
	first := post(workflows.AuthorOperator, "It ships <b>today</b>.", false, false)
	db.Create(&models.Attachment{OrganizationID: org.ID, ConversationID: conv.ID, MessageID: first.ID, DataKeyID: conv.DataKeyID, FileName: "label.pdf", ContentType: "application/pdf", Size: 3, BlobKey: "k"})

	mailer, fake := newMailer(t, db)
	a := &Activities{Store: store.New(db.DB, db.Keys), Keys: db.Keys, Mail: mailer, MailFrom: "Convot <no-reply@convot.test>", InboundDomain: testInboundDomain}
	env := testenv.ActivityEnv(a.NotifyContactOfReplies)
	notify := func() workflows.ReplyNotificationResult {
		t.Helper()
		return testenv.ActivityResult[workflows.ReplyNotificationResult](t, env, a.NotifyContactOfReplies, workflows.ReplyNotification{ConversationID: conv.ID, OrganizationID: org.ID})
	}

	// The unread reply leaves, threaded; the read one and the note do not.
	if res := notify(); !res.Sent || res.Messages != 1 {
		t.Fatalf("%+v", res)
	}
	reqs := fake.Mails()
	if len(reqs) != 1 {
		t.Fatalf("%d mails", len(reqs))
	}
	r := reqs[0]
	var thread models.EmailThread
	db.First(&thread, "conversation_id = ?", conv.ID)
	if r.To != `"Ada Lovelace" <ada@example.com>` || r.ReplyTo != "<reply+"+thread.ReplyToken+"@"+testInboundDomain+">" || r.MessageStream != "outbound" {
		t.Fatalf("envelope %+v", r)
	}
	if r.From != `"Acme (via Convot)" <no-reply@convot.test>` || r.Subject != "New reply from Acme" || r.Tag != "reply_notification" {
		t.Fatalf("from %q subject %q", r.From, r.Subject)
	}
	if !strings.Contains(r.TextBody, "Oscar wrote:\nIt ships <b>today</b>.") || !strings.Contains(r.TextBody, "[Attachment: label.pdf]") ||
		strings.Contains(r.TextBody, "VIP") || strings.Contains(r.TextBody, "Seen already") || strings.Contains(r.TextBody, "Where is my order") {
		t.Fatalf("text %q", r.TextBody)
	}
	if !strings.Contains(r.HtmlBody, "It ships &lt;b&gt;today&lt;/b&gt;.") || strings.Contains(r.HtmlBody, "VIP") {
		t.Fatalf("html %q", r.HtmlBody)
	}
	firstID := mail.ParseMessageIDs(r.Header("Message-ID"))
	if len(firstID) != 1 || !strings.HasSuffix(firstID[0], "@"+testInboundDomain) || r.Header("In-Reply-To") != "" || r.Header("References") != "" {
		t.Fatalf("headers %+v", r.Headers)
	}
	if r.Header("List-Unsubscribe") != "" {
		t.Fatal("a transactional mail offers to unsubscribe")
	}

	// Nothing new: nothing sent.
	if res := notify(); res.Sent || res.Skipped != "nothing_unread" {
		t.Fatalf("%+v", res)
	}
	// The contact answers by mail (recorded by the inbound webhook), the
	// operator again: the second mail names both earlier ones.
	if err := models.RecordEmailMessage(ctx, db.DB, db.Keys, &models.EmailMessage{OrganizationID: org.ID, ConversationID: conv.ID, DataKeyID: conv.DataKeyID,
		Direction: models.EmailInbound, HeaderID: "CAF00d@mail.example.com"}); err != nil {
		t.Fatal(err)
	}
	post(workflows.AuthorOperator, "Tracking number: 42", false, false)
	if res := notify(); !res.Sent {
		t.Fatalf("%+v", res)
	}
	second := fake.Mails()[1]
	if second.Header("In-Reply-To") != "<CAF00d@mail.example.com>" ||
		second.Header("References") != "<"+firstID[0]+"> <CAF00d@mail.example.com>" || second.ReplyTo != r.ReplyTo {
		t.Fatalf("threading %+v", second.Headers)
	}
	if strings.Contains(second.TextBody, "ships") {
		t.Fatal("a reply was mailed twice")
	}

	// Read before the timer fired: no mail.
	post(workflows.AuthorOperator, "Anything else?", false, true)
	if res := notify(); res.Skipped != "nothing_unread" {
		t.Fatalf("%+v", res)
	}
	// The address bounced: no mail, transactional or not.
	if _, err := (models.Suppressions{DB: db.DB, Keys: db.Keys}).Record(ctx, "ADA@example.com", models.EmailSuppression{
		Kind: models.SuppressionBounce, BounceType: "HardBounce", Suppresses: true, PostmarkID: 1, OccurredAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	post(workflows.AuthorOperator, "Hello?", false, false)
	if res := notify(); res.Skipped != "suppressed" {
		t.Fatalf("%+v", res)
	}
	if n := len(fake.Mails()); n != 2 {
		t.Fatalf("%d mails", n)
	}
}

func TestNotifyContactOfRepliesNeedsAnAddressAndTheGate(t *testing.T) {
	db := testdb.New(t)
	org := models.Organization{PublicKey: crypto.RandomToken(8), CompanyName: "Acme", Region: "eu", Status: models.OrgActive}
	db.Create(&org)
	anonymous := models.Contact{OrganizationID: org.ID}
	restricted := models.Contact{OrganizationID: org.ID, Email: "restricted@example.com"}
	db.Create(&anonymous)
	db.Create(&restricted)
	if err := store.New(db.DB, db.Keys).RecordPreference(context.Background(), models.SubjectPreference{OrganizationID: org.ID, ContactID: restricted.ID, Kind: models.PreferenceRestriction, Active: true, Source: "operator"}); err != nil {
		t.Fatal(err)
	}
	mailer, fake := newMailer(t, db)
	a := &Activities{Store: store.New(db.DB, db.Keys), Keys: db.Keys, Mail: mailer, MailFrom: "Convot <no-reply@convot.test>", InboundDomain: testInboundDomain}
	env := testenv.ActivityEnv(a.NotifyContactOfReplies)
	for contact, want := range map[*models.Contact]string{&anonymous: "no_email", &restricted: "refused"} {
		conv := models.Conversation{OrganizationID: org.ID, ContactID: contact.ID, DataKeyID: contact.DataKeyID, Status: "open", LastMessageAt: time.Now()}
		db.Create(&conv)
		db.Create(&models.Message{OrganizationID: org.ID, ConversationID: conv.ID, DataKeyID: conv.DataKeyID, AuthorType: workflows.AuthorOperator, Body: "Hi", CreatedAt: time.Now()})
		res := testenv.ActivityResult[workflows.ReplyNotificationResult](t, env, a.NotifyContactOfReplies, workflows.ReplyNotification{ConversationID: conv.ID, OrganizationID: org.ID})
		if res.Sent || res.Skipped != want {
			t.Fatalf("want %s: %+v", want, res)
		}
	}
	// Another organization's conversation is gone to this one.
	res := testenv.ActivityResult[workflows.ReplyNotificationResult](t, env, a.NotifyContactOfReplies, workflows.ReplyNotification{ConversationID: 1, OrganizationID: org.ID + 100})
	if res.Skipped != "conversation_gone" {
		t.Fatalf("%+v", res)
	}
	if n := len(fake.Mails()); n != 0 {
		t.Fatalf("%d mails", n)
	}
}
