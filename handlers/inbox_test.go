package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/gin-gonic/gin"

	"github.com/convot/convot/conversation"
	"github.com/convot/convot/handlers/dashboard"
	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/internal/realtime"
	"github.com/convot/convot/models"
	"github.com/convot/convot/workflows"
)

// inboxWorld is an organization with its signed-in owner.
type inboxWorld struct {
	ts      *testServer
	owner   *browser
	ownerID uint64
	org     *models.Organization
}

func newInboxWorld(t *testing.T, ts *testServer, email, company string) *inboxWorld {
	t.Helper()
	b := ts.browser(t)
	b.signup(email, company)
	a := accountByEmail(t, ts, email)
	var org models.Organization
	if err := ts.db.First(&org, a.OrganizationID).Error; err != nil {
		t.Fatal(err)
	}
	return &inboxWorld{ts: ts, owner: b, ownerID: a.ID, org: &org}
}

func accountByEmail(t *testing.T, ts *testServer, email string) *models.Account {
	t.Helper()
	var a models.Account
	if err := ts.db.Where("email_index = ?", ts.db.Keys.BlindIndex(email)).First(&a).Error; err != nil {
		t.Fatalf("account %s: %v", email, err)
	}
	return &a
}

// conversation creates a contact and a conversation in which the contact
// said something.
func (w *inboxWorld) conversation(t *testing.T, ct models.Contact, says string) (*models.Contact, *models.Conversation) {
	t.Helper()
	ct.OrganizationID = w.org.ID
	if err := w.ts.db.Create(&ct).Error; err != nil {
		t.Fatal(err)
	}
	conv, err := w.ts.srv.Conversations.Start(context.Background(), w.ts.srv.Store, w.org, &ct, "widget")
	if err != nil {
		t.Fatal(err)
	}
	if says != "" {
		w.contactSays(t, &ct, conv, says)
	}
	return &ct, conv
}

func (w *inboxWorld) contactSays(t *testing.T, ct *models.Contact, conv *models.Conversation, body string) *models.Message {
	t.Helper()
	w.ts.advance(time.Second) // activity orders the list
	m, _, err := w.ts.srv.Conversations.Post(context.Background(), w.org, conv, conversation.Author{Kind: workflows.AuthorContact, ID: ct.ID}, body, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// fetch sends a request as inbox.js does: CSRF header, JSON wanted.
func (b *browser) fetch(method, path, contentType string, body io.Reader) response {
	b.t.Helper()
	req, err := http.NewRequest(method, b.ts.URL+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set(site.CSRFHeader, b.csrf)
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.read(resp)
}

func (b *browser) fetchForm(path string, form url.Values) response {
	b.t.Helper()
	return b.fetch(http.MethodPost, path, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
}

// upload posts a multipart reply with a file, as inbox.js does.
func (b *browser) upload(path string, fields map[string]string, fileName string, data []byte) response {
	b.t.Helper()
	body, contentType := multipartForm(b.t, fields, fileName, data)
	return b.fetch(http.MethodPost, path, contentType, body)
}

func decodeJSON[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		t.Fatalf("JSON answer %d %q: %v", r.status, excerpt(r.body), err)
	}
	return v
}

func convPath(conv *models.Conversation, rest string) string {
	return "/inbox/conversations/" + itoa(conv.ID) + rest
}

func lastSignal(t *testing.T, ts *testServer) conversation.LifecycleSignal {
	t.Helper()
	sent := ts.lifecycles.sent()
	if len(sent) == 0 {
		t.Fatal("no lifecycle signal sent")
	}
	return sent[len(sent)-1]
}

func reloadConversation(t *testing.T, ts *testServer, conv *models.Conversation) *models.Conversation {
	t.Helper()
	var c models.Conversation
	if err := ts.db.First(&c, conv.ID).Error; err != nil {
		t.Fatal(err)
	}
	return &c
}

func TestInboxListAndConversation(t *testing.T) {
	ts, w := acmeInbox(t)
	seen := ts.now.Add(-time.Hour)
	ada, conv := w.conversation(t, models.Contact{
		Name: "Ada Lovelace", Email: "ada@example.test", Phone: "+44 20 7946 0000", ExternalID: "user-42",
		CustomAttributes: map[string]string{"plan": "pro", "company": "Analytical Engines"},
		IP:               "203.0.113.7", UserAgent: "Mozilla/5.0 (Windows NT 10.0) Chrome/126.0 Safari/537.36", BrowserLanguage: "en-GB",
		PageURL: "https://shop.example.test/pricing", DeviceType: "desktop", Country: "GB", LastSeenAt: &seen,
	}, "Hello, I need help with my order")
	_, anon := w.conversation(t, models.Contact{}, "Anyone there?")

	list := w.owner.get("/inbox")
	if list.status != http.StatusOK {
		t.Fatalf("inbox: %d %s", list.status, excerpt(list.body))
	}
	for _, want := range []string{`data-testid="conversation-list"`, `data-testid="conversation-item" data-conversation-id="` + itoa(conv.ID) + `"`,
		"Ada Lovelace", "Visitor #" + itoa(anon.ContactID), `data-testid="conversation-item-unread">1<`, "/static/inbox.js", "/static/inbox.css", `data-testid="nav-inbox"`} {
		if !strings.Contains(list.body, want) {
			t.Errorf("inbox list lacks %q", want)
		}
	}

	page := w.owner.get(convPath(conv, ""))
	if page.status != http.StatusOK {
		t.Fatalf("conversation: %d %s", page.status, excerpt(page.body))
	}
	for _, want := range []string{"Hello, I need help with my order", "ada@example.test", "&#43;44 20 7946 0000", "user-42",
		"Analytical Engines", "203.0.113.7", "en-GB", "https://shop.example.test/pricing", "desktop", "GB", "Chrome on Windows",
		`href="/inbox/contacts/` + itoa(ada.ID) + `/privacy-requests"`, `data-testid="composer-textarea"`, `data-testid="composer-send"`,
		`data-testid="composer-note-toggle"`, `data-testid="composer-file"`, `data-testid="resolve-button"`, `data-star-contact="` + itoa(ada.ID) + `"`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("conversation page lacks %q", want)
		}
	}
	// Opening the conversation read the contact's message.
	var unread int64
	ts.db.Model(&models.Message{}).Where("conversation_id = ? AND read_at IS NULL", conv.ID).Count(&unread)
	if unread != 0 {
		t.Fatalf("%d messages unread after the operator opened the conversation", unread)
	}

	// A reply from the form (no JavaScript): committed, then back to the page.
	ts.advance(time.Second)
	r := w.owner.post(convPath(conv, "/reply"), url.Values{"body": {"Hi Ada, let me check."}, "status": {"open"}, "assignment": {"mine"}})
	if r.status != http.StatusSeeOther || r.location != convPath(conv, "?assignment=mine&status=open") {
		t.Fatalf("reply: %d %q %s", r.status, r.location, excerpt(r.body))
	}
	var reply models.Message
	ts.db.Where("conversation_id = ? AND author_type = ?", conv.ID, workflows.AuthorOperator).First(&reply)
	if reply.Body != "Hi Ada, let me check." || reply.AuthorID != w.ownerID || reply.Private {
		t.Fatalf("reply stored as %+v", reply)
	}
	// A private note over fetch: JSON answer, marked private.
	note := decodeJSON[struct{ Message realtime.MessageView }](t, w.owner.fetchForm(convPath(conv, "/note"), url.Values{"body": {"Customer since 2019"}}))
	if !note.Message.Private || note.Message.AuthorType != workflows.AuthorOperator || note.Message.AuthorName == "" {
		t.Fatalf("note: %+v", note.Message)
	}
	// The reply composer's note toggle does the same.
	toggled := decodeJSON[struct{ Message realtime.MessageView }](t, w.owner.fetchForm(convPath(conv, "/reply"), url.Values{"body": {"Second note"}, "note": {"1"}}))
	if !toggled.Message.Private {
		t.Fatal("the note toggle did not make a private note")
	}
	// Empty and oversized messages are refused with a reason.
	if r := w.owner.fetchForm(convPath(conv, "/reply"), url.Values{"body": {"   "}}); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "empty") {
		t.Fatalf("empty reply: %d %s", r.status, r.body)
	}
	if r := w.owner.fetchForm(convPath(conv, "/reply"), url.Values{"body": {strings.Repeat("x", conversation.MaxMessageRunes+1)}}); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("oversized reply: %d", r.status)
	}

	// The contact reads the reply: the operator sees "Seen" on it.
	if err := ts.srv.Conversations.MarkRead(context.Background(), w.org, conv, workflows.AuthorContact, reply.ID); err != nil {
		t.Fatal(err)
	}
	page = w.owner.get(convPath(conv, ""))
	seenMark := regexp.MustCompile(`data-message-id="` + itoa(reply.ID) + `"[^>]*>(?s:.*?)data-testid="message-seen">Seen<`)
	if !seenMark.MatchString(page.body) {
		t.Error("the reply the contact read is not marked Seen")
	}
	if !strings.Contains(page.body, `data-private="true"`) || !strings.Contains(page.body, `data-testid="message-note-badge">Private note<`) {
		t.Error("private notes are not marked")
	}
	if !strings.Contains(page.body, "Private note (hidden from the contact, but disclosed to them if they ask for a copy of their data)") {
		t.Error("the private-note label does not warn that notes are disclosed on access requests")
	}

	// Messages after an ID, as JSON (the live view's catch-up).
	got := decodeJSON[struct {
		Conversation dashboard.InboxItem
		Messages     []realtime.MessageView
	}](t, w.owner.fetch(http.MethodGet, convPath(conv, "/messages?after_id="+itoa(reply.ID)), "", nil))
	if len(got.Messages) != 2 || !got.Messages[0].Private || got.Conversation.ID != conv.ID || got.Conversation.Contact != "Ada Lovelace" {
		t.Fatalf("messages after %d: %+v", reply.ID, got)
	}
	for _, bad := range []string{"?after_id=x", "?limit=0", "?limit=501"} {
		if r := w.owner.fetch(http.MethodGet, convPath(conv, "/messages"+bad), "", nil); r.status != http.StatusBadRequest {
			t.Errorf("messages%s: %d, want 400", bad, r.status)
		}
	}

	// Filters: unknown values are refused; the JSON list honours them.
	wantGet(t, w.owner, "/inbox?status=archived", http.StatusBadRequest, "unknown status")
	wantGet(t, w.owner, "/inbox?assignment=theirs", http.StatusBadRequest, "unknown assignment")
	mine := decodeJSON[struct{ Conversations []dashboard.InboxItem }](t, w.owner.fetch(http.MethodGet, "/inbox/conversations?status=open&assignment=mine", "", nil))
	if len(mine.Conversations) != 0 {
		t.Fatalf("mine before assigning: %+v", mine.Conversations)
	}
	all := decodeJSON[struct{ Conversations []dashboard.InboxItem }](t, w.owner.fetch(http.MethodGet, "/inbox/conversations?status=open&assignment=all", "", nil))
	if len(all.Conversations) != 2 || all.Conversations[0].ID != conv.ID {
		t.Fatalf("all open, newest first: %+v", all.Conversations)
	}
	wantGet(t, w.owner, "/inbox/conversations/999999", http.StatusNotFound, "unknown conversation")
	wantGet(t, w.owner, "/inbox/conversations/abc", http.StatusNotFound, "malformed conversation ID")
}

func TestInboxAssignSnoozeResolveReopen(t *testing.T) {
	ts, w := acmeInbox(t)
	agent := inviteAndJoin(t, ts, w.owner, "adam@acme.test", "agent")
	inviteAndJoin(t, ts, w.owner, "audrey@acme.test", "auditor")
	agentID := accountByEmail(t, ts, "adam@acme.test").ID
	auditorID := accountByEmail(t, ts, "audrey@acme.test").ID
	other := newInboxWorld(t, ts, "boris@other.test", "Other")
	ct, conv := w.conversation(t, models.Contact{Name: "Ada"}, "Hello")
	w.owner.get(convPath(conv, ""))

	state := func(r response) dashboard.InboxItem {
		t.Helper()
		if r.status != http.StatusOK {
			t.Fatalf("state change: %d %s", r.status, r.body)
		}
		return decodeJSON[struct{ Conversation dashboard.InboxItem }](t, r).Conversation
	}

	// Assign to me.
	c := state(w.owner.fetchForm(convPath(conv, "/assign"), url.Values{"assignee": {"me"}}))
	if c.AssigneeID != w.ownerID || c.Assignee != "Olivia Owner" {
		t.Fatalf("assign to me: %+v", c)
	}
	if sig := lastSignal(t, ts); sig.Name != workflows.SignalAssign || sig.Arg.(workflows.AssignSignal).AssigneeID != w.ownerID || sig.Input.ConversationID != conv.ID {
		t.Fatalf("assign signal: %+v", sig)
	}
	mine := decodeJSON[struct{ Conversations []dashboard.InboxItem }](t, w.owner.fetch(http.MethodGet, "/inbox/conversations?status=open&assignment=mine", "", nil))
	if len(mine.Conversations) != 1 {
		t.Fatalf("mine after assigning: %+v", mine.Conversations)
	}
	// To a teammate (an agent); never to an auditor or to someone else's.
	if c := state(w.owner.fetchForm(convPath(conv, "/assign"), url.Values{"assignee": {itoa(agentID)}})); c.AssigneeID != agentID {
		t.Fatalf("assign to agent: %+v", c)
	}
	for _, bad := range []uint64{auditorID, other.ownerID} {
		if r := w.owner.fetchForm(convPath(conv, "/assign"), url.Values{"assignee": {itoa(bad)}}); r.status != http.StatusUnprocessableEntity {
			t.Errorf("assign to account %d: %d, want 422", bad, r.status)
		}
	}
	if r := w.owner.fetchForm(convPath(conv, "/assign"), url.Values{"assignee": {"someone"}}); r.status != http.StatusUnprocessableEntity {
		t.Errorf("assign to garbage: %d", r.status)
	}
	if got := reloadConversation(t, ts, conv); got.AssigneeID == nil || *got.AssigneeID != agentID {
		t.Fatalf("a refused assignment changed the assignee: %v", got.AssigneeID)
	}
	// The agent sees it under "mine", and unassigns it.
	agent.get("/inbox")
	if r := agent.get("/inbox?status=open&assignment=mine"); !strings.Contains(r.body, `data-conversation-id="`+itoa(conv.ID)+`"`) {
		t.Error("the agent's 'mine' lacks the conversation assigned to them")
	}
	agent.get(convPath(conv, ""))
	if c := state(agent.fetchForm(convPath(conv, "/assign"), url.Values{"assignee": {""}})); c.AssigneeID != 0 || c.Assignee != "" {
		t.Fatalf("unassign: %+v", c)
	}
	if sig := lastSignal(t, ts); sig.Name != workflows.SignalAssign || sig.Arg.(workflows.AssignSignal).AssigneeID != 0 {
		t.Fatalf("unassign signal: %+v", sig)
	}

	// Snooze for an hour.
	c = state(w.owner.fetchForm(convPath(conv, "/snooze"), url.Values{"preset": {"1h"}}))
	want := ts.clock().Add(time.Hour).UTC()
	if c.Status != models.ConversationSnoozed || c.SnoozedUntil == nil || c.SnoozedUntil.Sub(want).Abs() > time.Millisecond {
		t.Fatalf("snooze 1h: %+v, want until %s", c, want)
	}
	if sig := lastSignal(t, ts); sig.Name != workflows.SignalSnooze || !sig.Arg.(workflows.SnoozeSignal).Until.Equal(want) {
		t.Fatalf("snooze signal: %+v", sig)
	}
	// Until a time of the operator's choice; bad times are refused.
	until := ts.clock().Add(72 * time.Hour).UTC().Truncate(time.Minute)
	c = state(w.owner.fetchForm(convPath(conv, "/snooze"), url.Values{"until": {until.Format("2006-01-02T15:04")}}))
	if !c.SnoozedUntil.Equal(until) {
		t.Fatalf("snooze until %s: %+v", until, c.SnoozedUntil)
	}
	for _, bad := range []url.Values{{"until": {"yesterday"}}, {"until": {ts.clock().Add(-time.Hour).UTC().Format(time.RFC3339)}},
		{"until": {ts.clock().AddDate(2, 0, 0).UTC().Format(time.RFC3339)}}, {"preset": {"forever"}}, {}} {
		if r := w.owner.fetchForm(convPath(conv, "/snooze"), bad); r.status != http.StatusUnprocessableEntity {
			t.Errorf("snooze %v: %d, want 422", bad, r.status)
		}
	}
	if snoozed := w.owner.get("/inbox?status=snoozed&assignment=all"); !strings.Contains(snoozed.body, `data-conversation-id="`+itoa(conv.ID)+`"`) {
		t.Error("the snoozed filter lacks the snoozed conversation")
	}

	// Resolve, then reopen; without JavaScript the form redirects back.
	r := w.owner.post(convPath(conv, "/resolve"), nil)
	if r.status != http.StatusSeeOther || r.location != convPath(conv, "") {
		t.Fatalf("resolve: %d %s", r.status, r.location)
	}
	if got := reloadConversation(t, ts, conv); got.Status != models.ConversationResolved || got.ResolvedAt == nil || got.SnoozedUntil != nil {
		t.Fatalf("resolved: %+v", got)
	}
	if sig := lastSignal(t, ts); sig.Name != workflows.SignalResolve {
		t.Fatalf("resolve signal: %+v", sig)
	}
	page := w.owner.get(convPath(conv, ""))
	if !regexp.MustCompile(`data-show-unless="resolved" hidden>\s*<input[^>]*>(?s:.*?)resolve-button`).MatchString(page.body) {
		t.Error("a resolved conversation still offers Resolve")
	}
	if c := state(w.owner.fetchForm(convPath(conv, "/reopen"), nil)); c.Status != models.ConversationOpen {
		t.Fatalf("reopen: %+v", c)
	}
	if sig := lastSignal(t, ts); sig.Name != workflows.SignalReopen {
		t.Fatalf("reopen signal: %+v", sig)
	}
	// Waiting on the contact: pending, listed under Pending, until the
	// contact writes.
	if c := state(w.owner.fetchForm(convPath(conv, "/pending"), nil)); c.Status != models.ConversationPending {
		t.Fatalf("pending: %+v", c)
	}
	if sig := lastSignal(t, ts); sig.Name != workflows.SignalPending {
		t.Fatalf("pending signal: %+v", sig)
	}
	if r := w.owner.get("/inbox?status=pending&assignment=all"); !strings.Contains(r.body, `data-conversation-id="`+itoa(conv.ID)+`"`) {
		t.Error("the pending filter lacks the conversation waiting on its contact")
	}
	waiting := reloadConversation(t, ts, conv) // as the widget loads it
	w.contactSays(t, ct, waiting, "Here is the photo you asked for")
	if got := reloadConversation(t, ts, conv); got.Status != models.ConversationOpen {
		t.Fatalf("after the contact's message: %s", got.Status)
	}
	// Snoozed, then resolved: what both sides are told carries no snooze.
	state(w.owner.fetchForm(convPath(conv, "/snooze"), url.Values{"preset": {"1h"}}))
	if c := state(w.owner.fetchForm(convPath(conv, "/resolve"), nil)); c.Status != models.ConversationResolved || c.SnoozedUntil != nil {
		t.Fatalf("resolving a snoozed conversation answers %+v", c)
	}
}

func TestInboxAttachments(t *testing.T) {
	ts, w := acmeInbox(t)
	_, conv := w.conversation(t, models.Contact{Name: "Ada"}, "Here is my receipt")
	w.owner.get(convPath(conv, ""))

	// A PNG larger than the dashboard's body limit (64 KB in tests): the
	// reply route applies the attachment limit instead.
	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0}, 100<<10)...)
	r := w.owner.upload(convPath(conv, "/reply"), map[string]string{"body": "The label", site.CSRFField: w.owner.csrf}, "../../label<b>.png", png)
	if r.status != http.StatusCreated {
		t.Fatalf("reply with a file: %d %s", r.status, excerpt(r.body))
	}
	sent := decodeJSON[struct{ Message realtime.MessageView }](t, r).Message
	if len(sent.Attachments) != 1 || sent.Attachments[0].ContentType != "image/png" || sent.Attachments[0].Name != "label_b_.png" {
		t.Fatalf("attachment: %+v", sent.Attachments)
	}
	att := sent.Attachments[0]
	// A file alone, as a private note.
	if r := w.owner.upload(convPath(conv, "/note"), nil, "notes.txt", []byte("internal notes")); r.status != http.StatusCreated {
		t.Fatalf("note with only a file: %d %s", r.status, r.body)
	}
	// A file that is not on the allow-list, and an empty message: nothing stored.
	if r := w.owner.upload(convPath(conv, "/reply"), map[string]string{"body": "see"}, "page.html", []byte("<!doctype html><script>alert(1)</script>")); r.status != http.StatusUnsupportedMediaType {
		t.Fatalf("HTML attachment: %d %s", r.status, r.body)
	}
	huge := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, conversation.MaxAttachmentBytes)...)
	if r := w.owner.upload(convPath(conv, "/reply"), map[string]string{"body": "big"}, "big.png", huge); r.status != http.StatusRequestEntityTooLarge || !strings.Contains(r.body, "10 MB") {
		t.Fatalf("oversized attachment: %d %s", r.status, r.body)
	}
	if r := w.owner.upload(convPath(conv, "/reply"), map[string]string{"body": ""}, "", nil); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("empty multipart reply: %d %s", r.status, r.body)
	}
	var n int64
	ts.db.Model(&models.Attachment{}).Where("conversation_id = ?", conv.ID).Count(&n)
	if n != 2 {
		t.Fatalf("%d attachments stored, want 2", n)
	}

	page := w.owner.get(convPath(conv, ""))
	link := convPath(conv, "/attachments/"+itoa(att.ID))
	if !strings.Contains(page.body, `href="`+link+`"`) {
		t.Fatal("the conversation page does not link the attachment")
	}
	got := w.owner.get(link)
	if got.status != http.StatusOK || got.body != string(png) || got.header.Get("Content-Type") != "image/png" ||
		!strings.Contains(got.header.Get("Content-Security-Policy"), "sandbox") {
		t.Fatalf("attachment: %d %s %q", got.status, got.header.Get("Content-Type"), got.header.Get("Content-Security-Policy"))
	}
	// Only within its conversation.
	_, otherConv := w.conversation(t, models.Contact{Name: "Bob"}, "Hi")
	if r := w.owner.get(convPath(otherConv, "/attachments/"+itoa(att.ID))); r.status != http.StatusNotFound {
		t.Fatalf("attachment through another conversation: %d", r.status)
	}
	if r := w.owner.get(convPath(conv, "/attachments/999999")); r.status != http.StatusNotFound {
		t.Fatalf("unknown attachment: %d", r.status)
	}
}

func TestInboxRendersMessagesSafely(t *testing.T) {
	_, w := acmeInbox(t)
	const evil = `<script>alert(1)</script><img src=x onerror=alert(2)>"'&`
	_, conv := w.conversation(t, models.Contact{Name: `<img src=x onerror=alert(3)>`, Email: "x@example.test",
		CustomAttributes: map[string]string{"<b>k</b>": `<svg onload=alert(4)>`}, PageURL: `javascript:alert(5)`}, evil)
	w.owner.get(convPath(conv, ""))
	w.owner.post(convPath(conv, "/note"), url.Values{"body": {`<iframe src="javascript:alert(6)">`}})
	w.owner.get("/inbox/canned")
	w.owner.post("/inbox/canned", url.Values{"shortcut": {"x"}, "body": {`"><script>alert(7)</script>`}})

	page := w.owner.get(convPath(conv, ""))
	if page.status != http.StatusOK {
		t.Fatalf("conversation: %d", page.status)
	}
	for _, raw := range []string{"<script>alert", "<img src=x", "<svg", "<iframe", `href="javascript:`, "<b>k</b>"} {
		if strings.Contains(page.body, raw) {
			t.Errorf("the page carries %q unescaped", raw)
		}
	}
	for _, escaped := range []string{
		`&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;&#34;&#39;&amp;`,
		`&lt;img src=x onerror=alert(3)&gt;`, `&lt;svg onload=alert(4)&gt;`, `&lt;iframe src=&#34;javascript:alert(6)&#34;&gt;`,
		`data-canned-body="&#34;&gt;&lt;script&gt;alert(7)&lt;/script&gt;"`,
	} {
		if !strings.Contains(page.body, escaped) {
			t.Errorf("the page lacks the escaped text %q", escaped)
		}
	}
	// The page allows no inline script at all.
	if csp := page.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP: %s", csp)
	}
	for _, p := range []string{"/inbox", "/inbox/contacts", "/inbox/contacts?q=img", "/inbox/canned"} {
		if r := w.owner.get(p); strings.Contains(r.body, "<img src=x") || strings.Contains(r.body, "<script>alert") {
			t.Errorf("%s carries markup unescaped", p)
		}
	}
	// JSON carries it as text that inbox.js puts in textContent.
	r := w.owner.fetch(http.MethodGet, convPath(conv, "/messages"), "", nil)
	if strings.Contains(r.body, "<script>") {
		t.Error("the JSON answer carries raw markup")
	}
	got := decodeJSON[struct{ Messages []realtime.MessageView }](t, r)
	if got.Messages[0].Body != evil {
		t.Errorf("the body changed on its way: %q", got.Messages[0].Body)
	}
}

// The inbox's own script never parses text as markup.
func TestInboxScriptNeverParsesMarkup(t *testing.T) {
	sinks := regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|createContextualFragment|DOMParser|srcdoc|\beval\(|new Function|setTimeout\(\s*["']|setInterval\(\s*["']`)
	for _, name := range []string{"inbox.js", "app.js"} {
		src := staticFile(t, name)
		if len(src) == 0 {
			t.Fatalf("%s is empty", name)
		}
		for i, line := range strings.Split(string(src), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "//") {
				continue
			}
			if m := sinks.FindString(line); m != "" {
				t.Errorf("%s:%d uses %s: %s", name, i+1, m, strings.TrimSpace(line))
			}
		}
	}
	// And it puts text in with textContent.
	src := staticFile(t, "inbox.js")
	if !strings.Contains(string(src), "textContent") {
		t.Error("inbox.js does not use textContent")
	}
}

func TestInboxRoles(t *testing.T) {
	ts, w := acmeInbox(t)
	agent := inviteAndJoin(t, ts, w.owner, "adam@acme.test", "agent")
	auditor := inviteAndJoin(t, ts, w.owner, "audrey@acme.test", "auditor")
	ct, conv := w.conversation(t, models.Contact{Name: "Ada"}, "Hello")
	w.owner.get("/inbox/canned")
	w.owner.post("/inbox/canned", url.Values{"shortcut": {"hi"}, "body": {"Hello!"}})
	var canned models.CannedResponse
	ts.db.Where("organization_id = ?", w.org.ID).First(&canned)

	// Auditors read policies, not conversations.
	home := auditor.get("/")
	if strings.Contains(home.body, `href="/inbox"`) {
		t.Error("the auditor's navigation links the inbox")
	}
	for _, p := range []string{"/inbox", "/inbox/conversations", convPath(conv, ""), convPath(conv, "/messages"),
		"/inbox/ws", "/inbox/contacts", "/inbox/contacts/" + itoa(ct.ID), "/inbox/canned"} {
		if r := auditor.get(p); r.status != http.StatusForbidden {
			t.Errorf("auditor GET %s: %d, want 403", p, r.status)
		}
	}
	for _, p := range []string{convPath(conv, "/reply"), convPath(conv, "/note"), convPath(conv, "/assign"), convPath(conv, "/resolve"), "/inbox/canned"} {
		if r := auditor.post(p, url.Values{"body": {"hi"}, "assignee": {"me"}, "shortcut": {"x"}}); r.status != http.StatusForbidden {
			t.Errorf("auditor POST %s: %d, want 403", p, r.status)
		}
	}
	var n int64
	ts.db.Model(&models.Message{}).Where("conversation_id = ?", conv.ID).Count(&n)
	if n != 1 {
		t.Fatalf("the auditor's posts left %d messages", n)
	}

	// Agents use the inbox; they use canned responses but do not write them.
	if r := agent.get("/inbox"); r.status != http.StatusOK || !strings.Contains(r.body, `href="/inbox"`) {
		t.Fatalf("agent inbox: %d", r.status)
	}
	agent.get(convPath(conv, ""))
	if r := agent.fetchForm(convPath(conv, "/reply"), url.Values{"body": {"On it"}}); r.status != http.StatusCreated {
		t.Fatalf("agent reply: %d %s", r.status, r.body)
	}
	if r := agent.get("/inbox/canned"); r.status != http.StatusOK || !strings.Contains(r.body, "/hi") || strings.Contains(r.body, `data-testid="canned-form"`) {
		t.Fatalf("agent canned list: %d", r.status)
	}
	for _, p := range []string{"/inbox/canned", "/inbox/canned/" + itoa(canned.ID), "/inbox/canned/" + itoa(canned.ID) + "/delete"} {
		if r := agent.post(p, url.Values{"shortcut": {"x"}, "body": {"y"}}); r.status != http.StatusForbidden {
			t.Errorf("agent POST %s: %d, want 403", p, r.status)
		}
	}
	wantGet(t, agent, "/inbox/canned/"+itoa(canned.ID), http.StatusForbidden, "agent canned edit page")
}

// Invariant 5: every inbox route with an identifier answers 404 to an
// operator of another organization, and changes nothing.
func TestInboxTenantIsolation(t *testing.T) {
	ts, a := acmeInbox(t)
	ct, conv := a.conversation(t, models.Contact{Name: "Ada Lovelace", Email: "ada@example.test"}, "Private matters")
	a.owner.get(convPath(conv, ""))
	sent := decodeJSON[struct{ Message realtime.MessageView }](t, a.owner.upload(convPath(conv, "/reply"), map[string]string{"body": "file"}, "a.txt", []byte("secret file")))
	att := sent.Message.Attachments[0]
	a.owner.get("/inbox/canned")
	a.owner.post("/inbox/canned", url.Values{"shortcut": {"secret"}, "body": {"Acme's wording"}})
	var canned models.CannedResponse
	ts.db.Where("organization_id = ?", a.org.ID).First(&canned)
	before := reloadConversation(t, ts, conv)
	signals := len(ts.lifecycles.sent())

	b := newInboxWorld(t, ts, "boris@other.test", "Other")
	b.owner.get("/inbox")
	// B's own conversation, so that B's routes work for B.
	_, own := b.conversation(t, models.Contact{Name: "Bea"}, "Hi")
	if r := b.owner.get(convPath(own, "")); r.status != http.StatusOK {
		t.Fatalf("own conversation: %d", r.status)
	}

	// Every registered route under /inbox with a parameter, filled with A's
	// identifiers; a route added later is swept too.
	ids := func(path string) string {
		p := strings.ReplaceAll(path, ":attachment", itoa(att.ID))
		switch {
		case strings.HasPrefix(p, "/inbox/conversations/"):
			p = strings.ReplaceAll(p, ":id", itoa(conv.ID))
		case strings.HasPrefix(p, "/inbox/contacts/"):
			p = strings.ReplaceAll(p, ":id", itoa(ct.ID))
		case strings.HasPrefix(p, "/inbox/canned/"):
			p = strings.ReplaceAll(p, ":id", itoa(canned.ID))
		}
		return p
	}
	swept := 0
	for _, rt := range ts.Config.Handler.(*gin.Engine).Routes() {
		if !strings.HasPrefix(rt.Path, "/inbox/") || !strings.Contains(rt.Path, ":") {
			continue
		}
		path := ids(rt.Path)
		if strings.Contains(path, ":") {
			t.Errorf("route %s has a parameter this sweep does not fill", rt.Path)
			continue
		}
		var r response
		switch rt.Method {
		case http.MethodGet:
			r = b.owner.get(path)
		case http.MethodPost:
			r = b.owner.post(path, url.Values{"body": {"hello from another org"}, "assignee": {"me"}, "preset": {"1h"},
				"shortcut": {"stolen"}, "type": {"access"}, "reason": {"x"}})
		default:
			continue
		}
		swept++
		t.Logf("swept %s %s", rt.Method, rt.Path)
		if r.status != http.StatusNotFound {
			t.Errorf("%s %s as another organization: %d, want 404", rt.Method, path, r.status)
		}
		if strings.Contains(r.body, "Ada") || strings.Contains(r.body, "Private matters") || strings.Contains(r.body, "Acme&#39;s wording") {
			t.Errorf("%s %s shows another organization's data", rt.Method, path)
		}
	}
	if swept < 12 {
		t.Fatalf("swept only %d routes", swept)
	}
	// The socket of one conversation of A.
	if r := b.owner.get("/inbox/ws?conversation=" + itoa(conv.ID)); r.status != http.StatusNotFound {
		t.Errorf("socket of another organization's conversation: %d, want 404", r.status)
	}
	// Lists and searches show nothing of A.
	for _, p := range []string{"/inbox", "/inbox?status=resolved", "/inbox/conversations", "/inbox/contacts",
		"/inbox/contacts?q=ada%40example.test", "/inbox/contacts?q=Ada", "/inbox/canned"} {
		r := b.owner.get(p)
		if r.status != http.StatusOK {
			t.Errorf("GET %s: %d", p, r.status)
		}
		if strings.Contains(p, "?q=") && strings.Contains(r.body, `data-testid="contact-row"`) {
			t.Errorf("GET %s finds another organization's contact", p)
		}
		body := strings.ReplaceAll(r.body, `value="ada@example.test"`, "") // the search as typed
		for _, leak := range []string{"Ada Lovelace", "ada@example.test", "Private matters", "/secret", "Acme&#39;s wording"} {
			if strings.Contains(body, leak) {
				t.Errorf("GET %s shows another organization's data (%s)", p, leak)
			}
		}
	}
	// Nothing changed.
	after := reloadConversation(t, ts, conv)
	if after.Status != before.Status || after.AssigneeID != nil || after.SnoozedUntil != nil || len(ts.lifecycles.sent()) != signals+1 {
		t.Fatalf("another organization changed the conversation: %+v (signals %d -> %d)", after, signals, len(ts.lifecycles.sent()))
	}
	var msgs int64
	ts.db.Model(&models.Message{}).Where("conversation_id = ?", conv.ID).Count(&msgs)
	if msgs != 2 {
		t.Fatalf("%d messages in A's conversation, want 2", msgs)
	}
	var cr models.CannedResponse
	ts.db.First(&cr, canned.ID)
	if cr.Shortcut != "secret" {
		t.Fatalf("another organization changed a canned response: %q", cr.Shortcut)
	}
}

// dialInbox opens the inbox socket with the browser's cookies.
func dialInbox(t *testing.T, b *browser, query string, header http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	u, _ := url.Parse(b.ts.URL)
	if header == nil {
		header = http.Header{}
	}
	var cookies []string
	for _, c := range b.http.Jar.Cookies(u) {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	header.Set("Cookie", strings.Join(cookies, "; "))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	noRedirects := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	conn, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(b.ts.URL, "http")+"/inbox/ws"+query,
		&websocket.DialOptions{HTTPHeader: header, HTTPClient: noRedirects})
	if conn != nil {
		t.Cleanup(func() { _ = conn.CloseNow() }) // the test is over; nothing to report
	}
	return conn, resp, err
}

func readEvent(t *testing.T, conn *websocket.Conn) realtime.LiveEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, data, err := conn.Read(ctx)
	if err != nil {
		t.Fatalf("no live event: %v", err)
	}
	var e realtime.LiveEvent
	if err := json.Unmarshal(data, &e); err != nil {
		t.Fatalf("live event %q: %v", data, err)
	}
	return e
}

func TestInboxWebSocket(t *testing.T) {
	ts, w := acmeInbox(t)
	ct, conv := w.conversation(t, models.Contact{Name: "Ada"}, "")
	other := newInboxWorld(t, ts, "boris@other.test", "Other")
	_, foreign := other.conversation(t, models.Contact{Name: "Bea"}, "")

	// No session, or a page of another site: no socket.
	if _, resp, err := dialInbox(t, ts.browser(t), "", nil); err == nil || resp == nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("socket without a session: %v %v", err, resp)
	}
	if _, resp, err := dialInbox(t, w.owner, "", http.Header{"Origin": {"https://evil.example"}}); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site socket: %v %v", err, resp)
	}

	conn, _, err := dialInbox(t, w.owner, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	// Connecting is presence: the widget shows the operator online.
	var me models.Account
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if ts.db.First(&me, w.ownerID); me.PresenceAt != nil {
			break
		}
	}
	if me.PresenceAt == nil || ts.clock().Sub(*me.PresenceAt).Abs() > time.Second {
		t.Fatalf("presence not recorded: %v", me.PresenceAt)
	}

	// A contact's message arrives live.
	msg := w.contactSays(t, ct, conv, "Is anyone there?")
	e := readEvent(t, conn)
	if e.Type != "message" || e.ConversationID != conv.ID || e.Message == nil || e.Message.ID != msg.ID || e.Message.Body != "Is anyone there?" {
		t.Fatalf("message event: %+v", e)
	}
	// Operators hear private notes too; the visitor's topic does not.
	visitor, stop, err := ts.srv.Hub.Subscribe(context.Background(), realtime.ConversationTopic(conv.ID))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	w.owner.get(convPath(conv, ""))
	if r := w.owner.fetchForm(convPath(conv, "/note"), url.Values{"body": {"VIP"}}); r.status != http.StatusCreated {
		t.Fatalf("note: %d", r.status)
	}
	for e = readEvent(t, conn); e.Type == "read"; e = readEvent(t, conn) {
	}
	if e.Type != "message" || e.Message == nil || !e.Message.Private || e.Message.Body != "VIP" {
		t.Fatalf("note event: %+v", e)
	}
	// A status change arrives live.
	w.owner.fetchForm(convPath(conv, "/resolve"), nil)
	if e = readEvent(t, conn); e.Type != "conversation" || e.Conversation == nil || e.Conversation.Status != models.ConversationResolved {
		t.Fatalf("conversation event: %+v", e)
	}
	// Of the visitor's topic: the read receipt and the status change, never the note.
	drain := func() []realtime.LiveEvent {
		var out []realtime.LiveEvent
		for {
			select {
			case p := <-visitor:
				var v realtime.LiveEvent
				if err := json.Unmarshal(p, &v); err != nil {
					t.Fatalf("%v: %s", err, p)
				}
				out = append(out, v)
			case <-time.After(200 * time.Millisecond):
				return out
			}
		}
	}
	for _, v := range drain() {
		if v.Message != nil && v.Message.Private {
			t.Fatal("a private note reached the visitor's topic")
		}
	}

	// Typing from the operator reaches the visitor; typing "in" another
	// organization's conversation reaches nobody.
	foreignTopic, stopForeign, _ := ts.srv.Hub.Subscribe(context.Background(), realtime.ConversationTopic(foreign.ID))
	defer stopForeign()
	write := func(v any) {
		data, _ := json.Marshal(v)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := conn.Write(ctx, websocket.MessageText, data); err != nil {
			t.Fatal(err)
		}
	}
	write(dashboard.InboxClientMessage{Type: "typing", ConversationID: foreign.ID})
	write(dashboard.InboxClientMessage{Type: "typing", ConversationID: conv.ID})
	got := drain()
	if len(got) != 1 || got[0].Type != "typing" || got[0].AuthorType != workflows.AuthorOperator || got[0].ConversationID != conv.ID {
		t.Fatalf("typing events to the visitor: %+v", got)
	}
	select {
	case p := <-foreignTopic:
		t.Fatalf("typing reached another organization's visitor: %s", p)
	default:
	}
	// The operator's own socket hears the typing event too (ignored by inbox.js).
	if e = readEvent(t, conn); e.Type != "typing" {
		t.Fatalf("typing on the org topic: %+v", e)
	}

	// Read: the contact's message gets its read time.
	conv = reloadConversation(t, ts, conv) // resolved: the contact's message reopens it
	second := w.contactSays(t, ct, conv, "Hello again")
	if e = readEvent(t, conn); e.Type != "message" {
		t.Fatalf("message event: %+v", e)
	}
	if e = readEvent(t, conn); e.Type != "conversation" || e.Conversation.Status != models.ConversationOpen {
		t.Fatalf("reopen event: %+v", e)
	}
	write(dashboard.InboxClientMessage{Type: "read", ConversationID: foreign.ID, MessageID: 1 << 40})
	write(dashboard.InboxClientMessage{Type: "read", ConversationID: conv.ID, MessageID: second.ID})
	if e = readEvent(t, conn); e.Type != "read" || e.AuthorType != workflows.AuthorOperator || e.MessageID != second.ID {
		t.Fatalf("read event: %+v", e)
	}
	var m models.Message
	ts.db.First(&m, second.ID)
	if m.ReadAt == nil {
		t.Fatal("the message was not marked read")
	}
	var foreignUnread int64
	ts.db.Model(&models.Message{}).Where("conversation_id = ? AND read_at IS NOT NULL", foreign.ID).Count(&foreignUnread)
	if foreignUnread != 0 {
		t.Fatal("a read over the socket touched another organization's conversation")
	}

	// ?conversation= narrows the socket to one conversation of the org.
	bob, conv2 := w.conversation(t, models.Contact{Name: "Bob"}, "")
	one, _, err := dialInbox(t, w.owner, "?conversation="+itoa(conv.ID), nil)
	if err != nil {
		t.Fatal(err)
	}
	w.contactSays(t, bob, conv2, "other conversation")
	w.contactSays(t, ct, conv, "this conversation")
	if e = readEvent(t, one); e.ConversationID != conv.ID || e.Message == nil || e.Message.Body != "this conversation" {
		t.Fatalf("narrowed socket got %+v", e)
	}
	for _, q := range []string{"?conversation=" + itoa(foreign.ID), "?conversation=abc", "?conversation=0"} {
		if _, resp, err := dialInbox(t, w.owner, q, nil); err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
			t.Errorf("socket %s: %v %v, want 404", q, err, resp)
		}
	}
}

// Policy §5: the inbox keeps the selected filter, the starred contacts and
// the alert choices as preference entries in local storage, and nothing else anywhere: no
// cookie, no other storage, no address outside Convot.
func TestInboxPreferencesInLocalStorage(t *testing.T) {
	src := string(staticFile(t, "inbox.js"))
	for _, key := range []string{`"convot.inbox.filter." + org`, `"convot.inbox.starred." + org`, `"convot.inbox.alerts." + org`} {
		if !strings.Contains(src, key) {
			t.Errorf("inbox.js lacks the preference entry %s", key)
		}
	}
	if n := strings.Count(src, "localStorage.setItem("); n != 1 {
		t.Errorf("inbox.js writes local storage in %d places, want 1 (save)", n)
	}
	saves := regexp.MustCompile(`\bsave\(([A-Z_]+),`).FindAllStringSubmatch(src, -1)
	if len(saves) == 0 {
		t.Fatal("no preference saved")
	}
	for _, m := range saves {
		if m[1] != "FILTER_KEY" && m[1] != "STAR_KEY" && m[1] != "ALERT_KEY" {
			t.Errorf("inbox.js saves %s", m[1])
		}
	}
	for _, banned := range []string{"document.cookie", "sessionStorage", "indexedDB", "http://", "https://", "//cdn", "navigator.sendBeacon"} {
		if strings.Contains(src, banned) {
			t.Errorf("inbox.js uses %s", banned)
		}
	}
	if !strings.Contains(src, `location.host + "/inbox/ws"`) {
		t.Error("the socket is not opened to Convot's own host")
	}
}
