package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"google.golang.org/protobuf/proto"

	"github.com/convot/convot/activities"
	"github.com/convot/convot/dsr"
	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/internal/obligations"
	"github.com/convot/convot/internal/payloads"
	"github.com/convot/convot/internal/testenv"
	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/store"
	"github.com/convot/convot/subprocessors"
	"github.com/convot/convot/workflows"
)

// stripeRecorder notes the requests that reach (the mock of) Stripe.
type stripeRecorder struct {
	mu   sync.Mutex
	seen []string
}

func (r *stripeRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.seen = append(r.seen, req.Method+" "+req.URL.Path)
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

func (r *stripeRecorder) saw(s string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, v := range r.seen {
		if v == s {
			return true
		}
	}
	return false
}

// End to end on a real Temporal dev server (TEMPORAL_CLI) and stripe-mock
// (STRIPE_MOCK): a Customer who owns an organization asks for erasure over
// HTTP, confirms with the code from the mail outbox; Convot's privacy
// officer approves in the Temporal UI's stead (a signal); the workflow
// erases, deletes the Stripe customer, and its scanner finds nothing; the
// billing records remain; ListWorkflow finds the request with
// DsrStatus="completed". Before that, an operator flags a contact as under
// 16 and the contact is erased at once, without anyone's decision.
func TestPrivacyErasureEndToEndOnTemporal(t *testing.T) {
	stripeBase := testenv.StripeMock(t)
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
		s.now = time.Now // the workflow's clock is the server's
	})
	gate, err := policies.NewGate(ctx, models.DecisionLog{DB: p.db.DB})
	if err != nil {
		t.Fatal(err)
	}
	rec := &stripeRecorder{}
	stripe, err := subprocessors.NewStripe(gate, subprocessors.StripeConfig{BaseURL: stripeBase, SecretKey: "sk_test_convot", Region: "eu",
		HTTPClient: &http.Client{Transport: rec}})
	if err != nil {
		t.Fatal(err)
	}
	w := worker.New(c, workflows.TaskQueue, worker.Options{})
	workflows.Register(w)
	activities.Register(w, &activities.Activities{Store: store.New(p.db.DB, p.db.Keys), Keys: p.db.Keys, Mail: p.outbox, MailFrom: p.srv.Config.MailFrom,
		BaseURL: p.URL, Blobs: p.blobs, Stripe: stripe, Privacy: activities.PrivacySettings{Officer: "privacy@convot.io", Hub: p.srv.Hub}})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	// 1. A child's contact, flagged: erased at once.
	conv := models.Conversation{OrganizationID: p.org.ID, ContactID: p.contact.ID, DataKeyID: p.contact.DataKeyID, Channel: "widget", Status: "open", LastMessageAt: time.Now()}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(p.db.Create(&conv).Error)
	must(p.db.Create(&models.Message{OrganizationID: p.org.ID, ConversationID: conv.ID, DataKeyID: p.contact.DataKeyID, AuthorType: "contact", Body: "I am 12", CreatedAt: time.Now()}).Error)
	p.owner.get(fmt.Sprintf("/inbox/contacts/%d/privacy-requests", p.contact.ID))
	flagged := time.Now()
	if r := p.owner.post(fmt.Sprintf("/inbox/contacts/%d/under-16", p.contact.ID), url.Values{"confirm": {"on"}}); r.status != http.StatusOK {
		t.Fatalf("flag: %d %s", r.status, excerpt(r.body))
	}
	var child models.PrivacyRequest
	must(p.db.Where("source = ?", models.DsrSourceChildFlag).First(&child).Error)
	must(c.GetWorkflow(ctx, child.WorkflowID(), "").Get(ctx, nil))
	if took := time.Since(flagged); took > 30*time.Second {
		t.Fatalf("the child's erasure took %s", took)
	}
	var left int64
	p.db.Model(&models.Message{}).Where("data_key_id = ?", p.contact.DataKeyID).Count(&left)
	if left != 0 || p.db.First(&models.Contact{}, p.contact.ID).Error == nil {
		t.Fatal("the flagged child's data is still there")
	}

	// 2. The owner's billing relationship and records.
	var owner models.Account
	must(p.db.Where("email_index = ?", p.db.Keys.BlindIndex("olivia@acme.example")).First(&owner).Error)
	must(p.db.Create(&models.Subscription{OrganizationID: p.org.ID, StripeCustomerID: "cus_convot_e2e", Plan: models.PlanStarter, Status: "active"}).Error)
	must(p.db.Create(&models.Invoice{OrganizationID: p.org.ID, StripeInvoiceID: "in_e2e_1", Number: "ACME-0001", Status: "paid", AmountPaid: 2900,
		Currency: "eur", IssuedAt: time.Now().UTC(), InvoicePDF: "https://pay.stripe.example/ACME-0001.pdf"}).Error)
	must(p.db.Create(&models.Payment{OrganizationID: p.org.ID, Reference: "evt_e2e_1", StripeInvoiceID: "in_e2e_1", Status: models.PaymentSucceeded,
		Amount: 2900, Currency: "eur", AttemptedAt: time.Now().UTC()}).Error)

	// 3. The erasure request over HTTP, confirmed with the mailed code.
	status, out := p.api(t, "/api/privacy-requests", map[string]any{"type": "erasure", "email": "olivia@acme.example"})
	if status != http.StatusAccepted {
		t.Fatalf("intake: %d %v", status, out)
	}
	id := idOf(t, out)
	wid := workflows.PrivacyRequestWorkflowID(id)
	if status, out = p.api(t, fmt.Sprintf("/api/privacy-verification/%d", id), map[string]any{"code": p.code(t, "olivia@acme.example")}); status != http.StatusOK {
		t.Fatalf("verify: %d %v", status, out)
	}
	waitFor(t, ctx, "awaiting approval", func() bool { return p.request(t, id).Status == obligations.DsrAwaitingApproval })
	progress, err := dsr.TemporalWorkflows{Client: c}.Progress(ctx, id)
	must(err)
	if progress.Status != obligations.DsrAwaitingApproval || progress.Steps[len(progress.Steps)-1].Name != "approve" {
		t.Fatalf("progress %+v", progress)
	}
	// Convot is the controller: its privacy officer is told, and approves
	// from the Temporal UI (a signal).
	waitFor(t, ctx, "the officer's notice", func() bool {
		msgs, _ := p.outbox.List()
		for _, m := range msgs {
			if m.Tag == "privacy_officer_awaiting_approval" {
				return true
			}
		}
		return false
	})
	if m := p.lastMail(t, "privacy@convot.io", "privacy_officer_awaiting_approval"); !strings.Contains(m.Text, wid) || strings.Contains(m.Text, "olivia") {
		t.Fatalf("officer notice %q", m.Text)
	}
	must(c.SignalWorkflow(ctx, wid, "", workflows.SignalDsrApprove, workflows.DsrDecisionSignal{}))
	must(c.GetWorkflow(ctx, wid, "").Get(ctx, nil))

	r := p.request(t, id)
	if r.Status != obligations.DsrCompleted || r.CompletedAt == nil {
		t.Fatalf("request %s", r.Status)
	}
	var evidence store.ScanReport
	must(json.Unmarshal([]byte(r.Evidence), &evidence))
	if !evidence.Clean || evidence.FindingsTotal != 0 || evidence.RowsScanned == 0 || evidence.KeysChecked != 1 {
		t.Fatalf("scanner evidence %s", r.Evidence)
	}
	if len(evidence.Retained) != 2 {
		t.Fatalf("retained %+v", evidence.Retained)
	}
	for _, k := range evidence.Retained {
		if !strings.Contains(strings.Join(k.LegalBases, ","), "legal_obligation") {
			t.Fatalf("retained without its legal basis: %+v", k)
		}
	}
	if p.db.First(&models.Account{}, owner.ID).Error == nil {
		t.Fatal("the account is still there")
	}
	var inv models.Invoice
	must(p.db.Where("stripe_invoice_id = ?", "in_e2e_1").First(&inv).Error)
	if inv.InvoicePDF != "https://pay.stripe.example/ACME-0001.pdf" || inv.Number != "ACME-0001" {
		t.Fatalf("the invoice after erasure: %+v", inv)
	}
	var payments int64
	p.db.Model(&models.Payment{}).Where("organization_id = ?", p.org.ID).Count(&payments)
	if payments != 1 {
		t.Fatalf("payments after erasure: %d", payments)
	}
	if !rec.saw("DELETE /v1/customers/cus_convot_e2e") {
		t.Fatalf("the Stripe customer was not deleted: %v", rec.seen)
	}
	if m := p.lastMail(t, "olivia@acme.example", "privacy_request_completed"); !strings.Contains(m.Text, "seven years") {
		t.Fatalf("completion mail %q", m.Text)
	}

	// DESIGN.md invariant 3: the request's history (inputs, signals,
	// activity arguments and results, all encrypted by the payload codec)
	// names no one.
	iter := c.GetWorkflowHistory(ctx, wid, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	events := 0
	for iter.HasNext() {
		ev, err := iter.Next()
		must(err)
		raw, err := proto.Marshal(ev)
		must(err)
		for _, leak := range []string{"olivia", "Olivia", "acme.example", "Acme GmbH", "ACME-0001"} {
			if strings.Contains(string(raw), leak) {
				t.Fatalf("history event %s holds %q", ev.GetEventType(), leak)
			}
		}
		events++
	}
	if events < 20 {
		t.Fatalf("only %d history events", events)
	}

	// 4. The privacy officer finds it in the Temporal UI's terms.
	query := fmt.Sprintf(`DsrStatus="completed" AND DsrType="erasure" AND ConvotOrgId=%q`, strconv.FormatUint(p.org.ID, 10))
	waitFor(t, ctx, "ListWorkflow "+query, func() bool {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: "default", Query: query})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range resp.GetExecutions() {
			if e.GetExecution().GetWorkflowId() == wid {
				return true
			}
		}
		return false
	})
	resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: "default", Query: `DsrStatus="completed"`})
	must(err)
	if len(resp.GetExecutions()) != 2 {
		t.Fatalf("DsrStatus=\"completed\" found %d workflows, want the child's and the owner's", len(resp.GetExecutions()))
	}
}

func waitFor(t *testing.T, ctx context.Context, what string, ok func() bool) {
	t.Helper()
	for !ok() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
