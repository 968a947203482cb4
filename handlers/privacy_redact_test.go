package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/convot/convot/activities"
	"github.com/convot/convot/dsr"
	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/internal/obligations"
	"github.com/convot/convot/internal/payloads"
	"github.com/convot/convot/internal/testenv"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// Issue 15 item 3, on a real Temporal dev server: an End User asks for
// erasure; another contact's message holds her address, so the
// completeness scanner finds a remnant and the request waits. The officer
// confirms the approval on a page that says what will be erased, sees the
// remnant's text on the request page, redacts it (the text is gone,
// replaced by a marker; an audit record says who redacted which row and
// when), retries, and the request completes with a clean scan. "Retry"
// shows only while a step has failed.
func TestErasureRemnantRedactedOnTemporal(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	codec, err := payloads.NewCodec(1, map[uint32][]byte{1: crypto.RandomKey()})
	if err != nil {
		t.Fatal(err)
	}
	c := testenv.TemporalDevServer(t, ctx, client.Options{DataConverter: payloads.DataConverter(codec), Logger: tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))})
	if err := workflows.RegisterSearchAttributes(ctx, c, "default"); err != nil {
		t.Fatal(err)
	}
	p := newPrivacyTestServer(t, func(s *Server) {
		s.PrivacyWorkflows = dsr.TemporalWorkflows{Client: c}
		s.now = time.Now
	})
	w := worker.New(c, workflows.TaskQueue, worker.Options{})
	workflows.Register(w)
	activities.Register(w, &activities.Activities{Store: store.New(p.db.DB, p.db.Keys), Keys: p.db.Keys, Mail: p.outbox, MailFrom: p.srv.Config.MailFrom,
		BaseURL: p.URL, Blobs: p.blobs, Privacy: activities.PrivacySettings{Officer: "privacy@convot.io", Hub: p.srv.Hub}})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	// Ada's own conversation, and Bob's message that quotes her address.
	conv := models.Conversation{OrganizationID: p.org.ID, ContactID: p.contact.ID, DataKeyID: p.contact.DataKeyID, Channel: "widget", Status: "open", LastMessageAt: time.Now()}
	must(p.db.Create(&conv).Error)
	must(p.db.Create(&models.Message{OrganizationID: p.org.ID, ConversationID: conv.ID, DataKeyID: p.contact.DataKeyID, AuthorType: "contact", Body: "Hello, Ada here", CreatedAt: time.Now()}).Error)
	bob := models.Contact{OrganizationID: p.org.ID, Name: "Bob Stone", Email: "bob@example.org"}
	must(p.db.Create(&bob).Error)
	bobConv := models.Conversation{OrganizationID: p.org.ID, ContactID: bob.ID, DataKeyID: bob.DataKeyID, Channel: "widget", Status: "open", LastMessageAt: time.Now()}
	must(p.db.Create(&bobConv).Error)
	remnant := models.Message{OrganizationID: p.org.ID, ConversationID: bobConv.ID, DataKeyID: bob.DataKeyID, AuthorType: "contact",
		Body: "Please also write to my colleague ADA@example.com about it", CreatedAt: time.Now()}
	must(p.db.Create(&remnant).Error)
	kept := models.Message{OrganizationID: p.org.ID, ConversationID: bobConv.ID, DataKeyID: bob.DataKeyID, AuthorType: "contact", Body: "Thanks!", CreatedAt: time.Now()}
	must(p.db.Create(&kept).Error)

	status, out := p.api(t, "/api/privacy-requests/"+p.org.PublicKey, map[string]any{"type": "erasure", "email": "ada@example.com"})
	if status != http.StatusAccepted {
		t.Fatalf("intake: %d %v", status, out)
	}
	id := idOf(t, out)
	if status, out = p.api(t, fmt.Sprintf("/api/privacy-verification/%d", id), map[string]any{"code": p.code(t, "ada@example.com")}); status != http.StatusOK {
		t.Fatalf("verify: %d %v", status, out)
	}
	waitFor(t, ctx, "awaiting approval", func() bool { return p.request(t, id).Status == obligations.DsrAwaitingApproval })
	detailPath := fmt.Sprintf("/privacy/requests/%d", id)
	page := p.owner.get(detailPath)
	if page.status != http.StatusOK || strings.Contains(page.body, "Retry a failed step") || strings.Contains(page.body, "Redact") {
		t.Fatalf("awaiting approval, nothing failed: %d %s", page.status, excerpt(page.body))
	}
	if r := p.owner.post(detailPath+"/retry", nil); r.status != http.StatusConflict {
		t.Fatalf("retry with nothing failed: %d", r.status)
	}
	// One click does not erase: the confirmation says what will be.
	if r := p.owner.post(detailPath+"/approve", nil); r.status != http.StatusBadRequest {
		t.Fatalf("approve without confirmation: %d", r.status)
	}
	confirm := p.owner.get(detailPath + "/approve")
	for _, want := range []string{"What will be erased", "Message", "conversation messages", "Contact", "email address", "deleted"} {
		if confirm.status != http.StatusOK || !strings.Contains(confirm.body, want) {
			t.Fatalf("confirmation page lacks %q: %d %s", want, confirm.status, excerpt(confirm.body))
		}
	}
	if r := p.owner.post(detailPath+"/approve", url.Values{"confirm": {"yes"}}); r.status != http.StatusSeeOther {
		t.Fatalf("approve: %d %s", r.status, excerpt(r.body))
	}

	// The scanner finds Bob's message; the request waits.
	waitFor(t, ctx, "the scan to fail", func() bool {
		pr, err := dsr.TemporalWorkflows{Client: c}.Progress(ctx, id)
		return err == nil && pr.AwaitingRetry
	})
	r := p.request(t, id)
	var rep store.ScanReport
	must(json.Unmarshal([]byte(r.Evidence), &rep))
	if rep.Clean || r.Status != obligations.DsrInProgress {
		t.Fatalf("the remnant was not found: %s %s", r.Status, r.Evidence)
	}
	page = p.owner.get(detailPath)
	if !strings.Contains(page.body, "Retry a failed step") || !strings.Contains(page.body, "ADA@example.com") || !strings.Contains(page.body, "Redact this text") {
		t.Fatalf("the officer does not see the remnant: %s", excerpt(page.body))
	}
	// Retrying without fixing finds it again.
	if r := p.owner.post(detailPath+"/retry", nil); r.status != http.StatusSeeOther {
		t.Fatalf("retry: %d %s", r.status, excerpt(r.body))
	}
	waitFor(t, ctx, "the scan to fail again", func() bool {
		pr, err := dsr.TemporalWorkflows{Client: c}.Progress(ctx, id)
		return err == nil && pr.AwaitingRetry && strings.Count(fmt.Sprint(pr.Steps), "remnants found") >= 2
	})

	// A row that is not a finding is refused; another organization's
	// officer cannot redact.
	if r := p.owner.post(detailPath+"/redact", url.Values{"model": {"Message"}, "column": {"body"}, "row": {fmt.Sprint(kept.ID)}}); r.status != http.StatusBadRequest {
		t.Fatalf("redacting a row the scanner did not find: %d", r.status)
	}
	other := p.browser(t)
	other.signup("mallory@other.example", "Other Ltd")
	if r := other.post(detailPath+"/redact", url.Values{"model": {"Message"}, "column": {"body"}, "row": {fmt.Sprint(remnant.ID)}}); r.status != http.StatusNotFound {
		t.Fatalf("another organization's redaction: %d", r.status)
	}
	if r := p.owner.post(detailPath+"/redact", url.Values{"model": {"Message"}, "column": {"body"}, "row": {fmt.Sprint(remnant.ID)}}); r.status != http.StatusSeeOther {
		t.Fatalf("redact: %d %s", r.status, excerpt(r.body))
	}
	var m models.Message
	must(p.db.First(&m, remnant.ID).Error)
	if m.Body != store.RedactionMarker || m.DataKeyID != bob.DataKeyID {
		t.Fatalf("the redacted message: %q", m.Body)
	}
	var untouched models.Message
	must(p.db.First(&untouched, kept.ID).Error)
	if untouched.Body != "Thanks!" {
		t.Fatalf("another message changed: %q", untouched.Body)
	}
	var ev models.AuditEvent
	must(p.db.Where("action = ? AND target = ?", "privacy.redacted", fmt.Sprintf("privacy_request:%d", id)).First(&ev).Error)
	var owner models.Account
	must(p.db.Where("email_index = ?", p.db.Keys.BlindIndex("olivia@acme.example")).First(&owner).Error)
	if ev.ActorID != owner.ID || ev.CreatedAt.IsZero() || ev.Detail != fmt.Sprintf("Message.body row %d", remnant.ID) ||
		strings.Contains(ev.Detail, "ada") {
		t.Fatalf("audit record %+v", ev)
	}
	page = p.owner.get(detailPath + "?done=redacted")
	if strings.Contains(page.body, "ADA@example.com") || !strings.Contains(page.body, "redacted") {
		t.Fatalf("after redaction: %s", excerpt(page.body))
	}

	if r := p.owner.post(detailPath+"/retry", nil); r.status != http.StatusSeeOther {
		t.Fatalf("retry: %d %s", r.status, excerpt(r.body))
	}
	must(c.GetWorkflow(ctx, workflows.PrivacyRequestWorkflowID(id), "").Get(ctx, nil))
	r = p.request(t, id)
	rep = store.ScanReport{}
	must(json.Unmarshal([]byte(r.Evidence), &rep))
	if r.Status != obligations.DsrCompleted || !rep.Clean {
		t.Fatalf("after redaction and retry: %s %s", r.Status, r.Evidence)
	}
	if p.db.First(&models.Contact{}, p.contact.ID).Error == nil {
		t.Fatal("Ada's contact is still there")
	}
	if p.db.First(&models.Contact{}, bob.ID).Error != nil {
		t.Fatal("Bob's contact was erased")
	}
}
