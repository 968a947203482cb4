package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/convot/convot/closure"
	"github.com/convot/convot/internal/testenv"
	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/store"
	"github.com/convot/convot/subprocessors"
	"github.com/convot/convot/workflows"
)

const testWebhookSecret = "whsec_convot_test"

// fakeCancellations stands in for the cancellation workflow: it records
// what was started, and reactivates as the workflow's activity would.
type fakeCancellations struct {
	st *store.Store

	mu          sync.Mutex
	started     []workflows.CancellationInput
	reactivated []uint64
	startErr    error
}

func (f *fakeCancellations) Start(ctx context.Context, in workflows.CancellationInput) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.startErr != nil {
		return f.startErr
	}
	f.started = append(f.started, in)
	return nil
}

// Reactivate is a signal: the organization turns active afterwards, as the
// workflow's activity would make it, outside the caller's transaction.
func (f *fakeCancellations) Reactivate(ctx context.Context, orgID, actorID uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	status, err := f.st.OrganizationStatus(ctx, orgID)
	if err != nil {
		return err
	}
	if status != models.OrgCancelled {
		return closure.ErrNotCancellable
	}
	f.reactivated = append(f.reactivated, orgID)
	go func() {
		_, _ = f.st.SetOrganizationStatus(context.Background(), orgID, models.OrgCancelled, models.OrgActive, time.Now())
	}()
	return nil
}

// Status is in its grace period, for the reason it was last started with.
func (f *fakeCancellations) Status(ctx context.Context, orgID uint64) (workflows.CancellationState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := workflows.CancellationState{OrganizationID: orgID, Status: workflows.CancellationGrace, DeleteAt: time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)}
	for _, in := range f.started {
		if in.OrganizationID == orgID {
			st.Reason = in.Reason
		}
	}
	return st, nil
}

func (f *fakeCancellations) reactivations() []uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]uint64(nil), f.reactivated...)
}

func (f *fakeCancellations) starts() []workflows.CancellationInput {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]workflows.CancellationInput(nil), f.started...)
}

// billingServer is a test server with webhooks on and cancellations
// recorded.
func billingServer(t *testing.T) (*testServer, *fakeCancellations) {
	t.Helper()
	ts := newTestServer(t)
	fc := &fakeCancellations{st: ts.srv.Store}
	ts.srv.Cancellations = fc
	ts.srv.Config.StripeWebhookSecret = testWebhookSecret
	return ts, fc
}

func billingOwner(t *testing.T, ts *testServer, email string) (*models.Account, *models.Organization) {
	t.Helper()
	var a models.Account
	if err := ts.db.Where("email_index = ?", ts.db.Keys.BlindIndex(email)).First(&a).Error; err != nil {
		t.Fatal(err)
	}
	var org models.Organization
	if err := ts.db.First(&org, a.OrganizationID).Error; err != nil {
		t.Fatal(err)
	}
	return &a, &org
}

func stripeMockClient(t *testing.T) *subprocessors.Stripe {
	t.Helper()
	base := testenv.StripeMock(t)
	g, err := policies.NewGate(context.Background(), policies.NewMemoryLog())
	if err != nil {
		t.Fatal(err)
	}
	s, err := subprocessors.NewStripe(g, subprocessors.StripeConfig{BaseURL: base, SecretKey: "sk_test_convot", Region: "eu"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The billing page is the owners': plan, usage against its limits, card,
// invoices; other roles get 403.
func TestBillingPageForOwners(t *testing.T) {
	ts, _ := billingServer(t)
	owner := ts.browser(t)
	owner.signup("olivia@billing.test", "Billing GmbH")
	_, org := billingOwner(t, ts, "olivia@billing.test")
	r := owner.get("/billing")
	if r.status != http.StatusOK || !strings.Contains(r.body, "Plan: Free") || !strings.Contains(r.body, "Seats (members; auditors take none)") ||
		!strings.Contains(r.body, "No invoices yet") || !strings.Contains(r.body, `href="/billing"`) {
		t.Fatalf("billing page: %d %s", r.status, excerpt(r.body))
	}
	if !strings.Contains(r.body, "Billing is not configured") {
		t.Fatal("no word that billing is off")
	}
	now := time.Now().UTC()
	if err := ts.db.Create(&models.Invoice{OrganizationID: org.ID, StripeInvoiceID: "in_page", Number: "BILL-0042", Status: "paid", Currency: "eur", AmountDue: 2900, IssuedAt: now, HostedInvoiceURL: "https://invoice.stripe.com/i/page"}).Error; err != nil {
		t.Fatal(err)
	}
	if err := ts.db.Create(&models.PaymentMethod{OrganizationID: org.ID, DataKeyID: org.DataKeyID, CardBrand: "mastercard", CardLast4: "4444"}).Error; err != nil {
		t.Fatal(err)
	}
	r = owner.get("/billing")
	for _, want := range []string{"BILL-0042", "29.00 EUR", "https://invoice.stripe.com/i/page", "Mastercard ending in 4444"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("billing page lacks %q", want)
		}
	}
	agent := inviteAndJoin(t, ts, owner, "adam@billing.test", "admin")
	if r := agent.get("/billing"); r.status != http.StatusForbidden {
		t.Fatalf("an admin reached billing: %d", r.status)
	}
	agent.get("/")
	if r := agent.post("/account/close", url.Values{"password": {"agent password 1"}}); r.status != http.StatusForbidden {
		t.Fatalf("an admin closed the account: %d", r.status)
	}
	if r := owner.post("/billing/plan", url.Values{"plan": {"growth"}}); r.status != http.StatusServiceUnavailable || !strings.Contains(r.body, "not configured") {
		t.Fatalf("subscribing without Stripe: %d %s", r.status, excerpt(r.body))
	}
	if r := owner.post("/billing/plan", url.Values{"plan": {"platinum"}}); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("an unknown plan: %d", r.status)
	}
}

// Every billing action against stripe-mock: subscribe through Checkout,
// update the card through Checkout in setup mode, the Billing Portal,
// subscribe directly with a card on file, change plan, cancel at period
// end and resume, refresh from Stripe (invoices and card mirrored), close
// the account (subscription ended at Stripe, cancellation started, the
// organization read-only) and reactivate it.
func TestBillingAgainstStripeMock(t *testing.T) {
	ts, fc := billingServer(t)
	ts.srv.Stripe = stripeMockClient(t)
	ts.srv.Plans.Apply = true // New built the limits before billing was on
	owner := ts.browser(t)
	owner.signup("olivia@stripe.test", "Stripe Test GmbH")
	_, org := billingOwner(t, ts, "olivia@stripe.test")

	owner.get("/billing")
	r := owner.post("/billing/plan", url.Values{"plan": {"growth"}})
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "https://checkout.stripe.com/") {
		t.Fatalf("subscribe: %d %q %s", r.status, r.location, excerpt(r.body))
	}
	sub, err := models.SubscriptionOf(context.Background(), ts.db.DB, org.ID)
	if err != nil || sub == nil || !strings.HasPrefix(sub.StripeCustomerID, "cus_") {
		t.Fatalf("subscription row after checkout: %+v %v", sub, err)
	}
	owner.get("/billing")
	if r := owner.post("/billing/payment-method", nil); r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "https://checkout.stripe.com/") {
		t.Fatalf("update card: %d %q %s", r.status, r.location, excerpt(r.body))
	}
	owner.get("/billing")
	if r := owner.post("/billing/portal", nil); r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "https://") {
		t.Fatalf("portal: %d %q %s", r.status, r.location, excerpt(r.body))
	}

	// Refresh: the card (brand and last four) and the invoices come in.
	owner.get("/billing")
	if r := owner.post("/billing/refresh", nil); r.status != http.StatusSeeOther {
		t.Fatalf("refresh: %d %s", r.status, excerpt(r.body))
	}
	var card models.PaymentMethod
	if err := ts.db.Where("organization_id = ?", org.ID).First(&card).Error; err != nil || card.CardBrand == "" || len(card.CardLast4) != 4 {
		t.Fatalf("card after refresh: %+v %v", card, err)
	}
	var invoices int64
	ts.db.Model(&models.Invoice{}).Where("organization_id = ?", org.ID).Count(&invoices)
	if invoices == 0 {
		t.Fatal("no invoice mirrored")
	}

	// With a card on file, subscribing is direct; then a plan change.
	owner.get("/billing")
	if r := owner.post("/billing/plan", url.Values{"plan": {"starter"}}); r.status != http.StatusSeeOther || r.location != "/billing?notice=subscribed" {
		t.Fatalf("direct subscribe: %d %q %s", r.status, r.location, excerpt(r.body))
	}
	sub, _ = models.SubscriptionOf(context.Background(), ts.db.DB, org.ID)
	if !sub.Paying() || sub.Plan != models.PlanStarter || !strings.HasPrefix(sub.StripeSubscriptionID, "sub_") {
		t.Fatalf("after subscribing: %+v", sub)
	}
	owner.get("/billing")
	if r := owner.post("/billing/plan", url.Values{"plan": {"scale"}}); r.status != http.StatusSeeOther {
		t.Fatalf("change plan: %d %s", r.status, excerpt(r.body))
	}
	sub, _ = models.SubscriptionOf(context.Background(), ts.db.DB, org.ID)
	if sub.Plan != models.PlanScale {
		t.Fatalf("after the plan change: %+v", sub)
	}
	if r := owner.get("/billing"); !strings.Contains(r.body, "Plan: Scale") {
		t.Fatalf("billing page after the change: %s", excerpt(r.body))
	}
	for _, path := range []string{"/billing/cancel", "/billing/resume"} {
		owner.get("/billing")
		if r := owner.post(path, nil); r.status != http.StatusSeeOther {
			t.Fatalf("%s: %d %s", path, r.status, excerpt(r.body))
		}
	}
	assertAudit(t, ts, "billing.plan_changed", "billing.cancel_scheduled", "billing.resumed")

	// Closing: wrong password changes nothing; the right one ends the
	// subscription and starts the cancellation.
	owner.get("/billing")
	if r := owner.post("/account/close", url.Values{"password": {"wrong password"}}); r.status != http.StatusUnauthorized || len(fc.starts()) != 0 {
		t.Fatalf("close with a wrong password: %d", r.status)
	}
	if r := owner.post("/account/close", url.Values{"password": {"correct horse battery"}}); r.status != http.StatusSeeOther {
		t.Fatalf("close: %d %s", r.status, excerpt(r.body))
	}
	if got := fc.starts(); len(got) != 1 || got[0].OrganizationID != org.ID || got[0].Reason != workflows.CancellationClosedByOwner {
		t.Fatalf("cancellations started: %+v", got)
	}
	assertAudit(t, ts, "organization.closed")
	r = owner.get("/billing")
	if !strings.Contains(r.body, "This account is closed") || !strings.Contains(r.body, "2031-01-02") || !strings.Contains(r.body, "Reactivate the account") {
		t.Fatalf("billing page of a closed account: %s", excerpt(r.body))
	}
	if r := owner.post("/billing/reactivate", nil); r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/billing?notice=reactivat") {
		t.Fatalf("reactivate: %d %s", r.status, excerpt(r.body))
	}
	var status string
	ts.db.Model(&models.Organization{}).Where("id = ?", org.ID).Pluck("status", &status)
	if status != models.OrgActive {
		t.Fatalf("status after reactivation %q", status)
	}
}

// A closed organization is read-only: every dashboard write but
// reactivation (and signing out) gets a clear 409.
func TestClosedOrganizationIsReadOnly(t *testing.T) {
	ts, _ := billingServer(t)
	owner := ts.browser(t)
	owner.signup("olivia@closed.test", "Closed GmbH")
	_, org := billingOwner(t, ts, "olivia@closed.test")
	ts.db.Model(&models.Organization{}).Where("id = ?", org.ID).Update("status", models.OrgCancelled)

	r := owner.get("/settings/profile")
	if r.status != http.StatusOK || !strings.Contains(r.body, "This account is closed and read-only") {
		t.Fatalf("a closed account's pages: %d %s", r.status, excerpt(r.body))
	}
	r = owner.post("/settings/profile", url.Values{"full_name": {"Changed"}, "time_zone": {"UTC"}, "language": {"en"}})
	if r.status != http.StatusConflict || !strings.Contains(r.body, "reactivate it on the billing page") {
		t.Fatalf("a write to a closed account: %d %s", r.status, excerpt(r.body))
	}
	owner.get("/billing")
	if r := owner.post("/billing/plan", url.Values{"plan": {"growth"}}); r.status != http.StatusConflict {
		t.Fatalf("subscribing while closed: %d", r.status)
	}
	var a models.Account
	ts.db.Where("organization_id = ?", org.ID).First(&a)
	if a.FullName == "Changed" {
		t.Fatal("a closed account was changed")
	}
	owner.get("/billing")
	if r := owner.post("/billing/reactivate", nil); r.status != http.StatusSeeOther {
		t.Fatalf("reactivate: %d %s", r.status, excerpt(r.body))
	}
	owner.get("/settings/profile")
	if r := owner.post("/settings/profile", url.Values{"full_name": {"Changed"}, "time_zone": {"UTC"}, "language": {"en"}}); r.status != http.StatusSeeOther {
		t.Fatalf("a write after reactivation: %d %s", r.status, excerpt(r.body))
	}
	owner.get("/")
	if r := owner.post("/logout", nil); r.status != http.StatusSeeOther {
		t.Fatalf("logout: %d", r.status)
	}
}

// Stripe's errors reach the owner as a clear message: a declined card, an
// unreachable Stripe.
func TestBillingStripeErrorsAreClearMessages(t *testing.T) {
	ts, _ := billingServer(t)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/customers", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"cus_declined","object":"customer"}`)) // a failed write shows in the answer Stripe's client gets
	})
	mux.HandleFunc("GET /v1/prices", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"object":"list","data":[{"id":"price_growth","object":"price","lookup_key":"convot_growth_monthly"}],"has_more":false,"url":"/v1/prices"}`))
	})
	mux.HandleFunc("POST /v1/subscriptions", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusPaymentRequired)
		_, _ = w.Write([]byte(`{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"Your card has insufficient funds."}}`))
	})
	fake := httptest.NewServer(mux)
	t.Cleanup(fake.Close)
	g, _ := policies.NewGate(context.Background(), policies.NewMemoryLog())
	s, err := subprocessors.NewStripe(g, subprocessors.StripeConfig{BaseURL: fake.URL, SecretKey: "sk_test_x", Region: "us"})
	if err != nil {
		t.Fatal(err)
	}
	ts.srv.Stripe = s
	ts.srv.Plans.Apply = true // New built the limits before billing was on
	owner := ts.browser(t)
	owner.signup("olivia@declined.test", "Declined GmbH")
	_, org := billingOwner(t, ts, "olivia@declined.test")
	ts.db.Create(&models.PaymentMethod{OrganizationID: org.ID, DataKeyID: org.DataKeyID, CardBrand: "visa", CardLast4: "0002"})

	owner.get("/billing")
	r := owner.post("/billing/plan", url.Values{"plan": {"growth"}})
	if r.status != http.StatusPaymentRequired || !strings.Contains(r.body, "Your card was declined: insufficient funds") || !strings.Contains(r.body, "Nothing was charged") {
		t.Fatalf("declined card: %d %s", r.status, excerpt(r.body))
	}
	sub, _ := models.SubscriptionOf(context.Background(), ts.db.DB, org.ID)
	if sub.Paying() {
		t.Fatal("a declined card left a paying subscription")
	}

	fake.Close() // Stripe is unreachable now
	owner.get("/billing")
	r = owner.post("/billing/plan", url.Values{"plan": {"growth"}})
	if r.status != http.StatusBadGateway || !strings.Contains(r.body, "could not reach our payment processor") {
		t.Fatalf("Stripe unreachable: %d %s", r.status, excerpt(r.body))
	}
}

// --- webhook ------------------------------------------------------------------

func stripeEvent(id, typ string, created time.Time, object string) []byte {
	return []byte(fmt.Sprintf(`{"id":%q,"object":"event","api_version":%q,"created":%d,"livemode":false,"type":%q,"data":{"object":%s}}`,
		id, subprocessors.StripeAPIVersion, created.Unix(), typ, object))
}

func postWebhook(t *testing.T, ts *testServer, payload []byte, signature string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, ts.URL+"/webhooks/stripe", strings.NewReader(string(payload)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if signature != "" {
		req.Header.Set("Stripe-Signature", signature)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return ts.browser(t).read(resp)
}

func signStripe(payload []byte, at time.Time) string {
	return subprocessors.SignStripeTestPayload(payload, testWebhookSecret, at)
}

func subscriptionObject(id, customer, status string, periodEnd time.Time, extra string) string {
	return fmt.Sprintf(`{"id":%q,"object":"subscription","customer":%q,"status":%q,"current_period_end":%d,"cancel_at_period_end":false,
		"metadata":{"convot_plan":"growth"},"items":{"object":"list","data":[{"id":"si_1","object":"subscription_item","price":{"id":"price_growth","object":"price","lookup_key":"convot_growth_monthly"}}]}%s}`,
		id, customer, status, periodEnd.Unix(), extra)
}

// customerOrg signs an owner up and gives the organization a Stripe
// customer.
func stripeCustomerOrg(t *testing.T, ts *testServer, email, customer string) (*models.Organization, *browser) {
	t.Helper()
	owner := ts.browser(t)
	owner.signup(email, "Hooked GmbH")
	_, org := billingOwner(t, ts, email)
	if err := ts.db.Create(&models.Subscription{OrganizationID: org.ID, StripeCustomerID: customer, Plan: models.PlanFree}).Error; err != nil {
		t.Fatal(err)
	}
	return org, owner
}

func processedStripeEvents(t *testing.T, ts *testServer) int64 {
	t.Helper()
	var n int64
	ts.db.Model(&models.ProcessedStripeEvent{}).Count(&n)
	return n
}

// The signature is verified before anything else: missing, forged, stale
// (older than five minutes) or for another payload, the answer is 400 and
// nothing is processed.
func TestStripeWebhookRefusesBadSignatures(t *testing.T) {
	ts, fc := billingServer(t)
	org, _ := stripeCustomerOrg(t, ts, "olivia@sig.test", "cus_sig")
	payload := stripeEvent("evt_sig", "customer.subscription.deleted", time.Now(), subscriptionObject("sub_sig", "cus_sig", "canceled", time.Now(), ""))
	now := time.Now()
	for name, sig := range map[string]string{
		"missing":       "",
		"forged":        subprocessors.SignStripeTestPayload(payload, "whsec_someone_else", now),
		"stale":         signStripe(payload, now.Add(-6*time.Minute)),
		"other payload": signStripe([]byte(`{"id":"evt_other"}`), now),
		"garbage":       "t=1,v1=nothex",
	} {
		r := postWebhook(t, ts, payload, sig)
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, "signature") {
			t.Errorf("%s signature: %d %s", name, r.status, r.body)
		}
	}
	if n := processedStripeEvents(t, ts); n != 0 || len(fc.starts()) != 0 {
		t.Fatalf("processed %d events, started %d cancellations", n, len(fc.starts()))
	}
	sub, _ := models.SubscriptionOf(context.Background(), ts.db.DB, org.ID)
	if sub.Status != "" || sub.StripeSubscriptionID != "" {
		t.Fatalf("subscription changed by a bad request: %+v", sub)
	}
	// Not configured: refused too.
	ts.srv.Config.StripeWebhookSecret = ""
	if r := postWebhook(t, ts, payload, signStripe(payload, now)); r.status != http.StatusServiceUnavailable {
		t.Fatalf("without a secret: %d", r.status)
	}
}

// A valid event is processed once: the subscription's status follows
// Stripe; a replay is 200 with no second effect; an unknown type is 200
// and ignored; an older event delivered late does not undo a newer one.
func TestStripeWebhookSyncsSubscriptionOnce(t *testing.T) {
	ts, fc := billingServer(t)
	org, _ := stripeCustomerOrg(t, ts, "olivia@sync.test", "cus_sync")
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
	periodEnd := time.Now().Add(30 * 24 * time.Hour).Truncate(time.Second)

	created := stripeEvent("evt_created", "customer.subscription.created", t0, subscriptionObject("sub_sync", "cus_sync", "active", periodEnd, ""))
	if r := postWebhook(t, ts, created, signStripe(created, time.Now())); r.status != http.StatusOK || !strings.Contains(r.body, "processed") {
		t.Fatalf("created: %d %s", r.status, r.body)
	}
	sub, _ := models.SubscriptionOf(context.Background(), ts.db.DB, org.ID)
	if sub.StripeSubscriptionID != "sub_sync" || sub.Status != "active" || sub.Plan != models.PlanGrowth || sub.CurrentPeriodEnd == nil || !sub.CurrentPeriodEnd.Equal(periodEnd) {
		t.Fatalf("after created: %+v", sub)
	}
	pastDue := stripeEvent("evt_past_due", "customer.subscription.updated", t0.Add(time.Minute), subscriptionObject("sub_sync", "cus_sync", "past_due", periodEnd, ""))
	if r := postWebhook(t, ts, pastDue, signStripe(pastDue, time.Now())); r.status != http.StatusOK {
		t.Fatalf("updated: %d %s", r.status, r.body)
	}
	// A late copy of an older state: ignored.
	stale := stripeEvent("evt_older", "customer.subscription.updated", t0.Add(-time.Minute), subscriptionObject("sub_sync", "cus_sync", "active", periodEnd, ""))
	postWebhook(t, ts, stale, signStripe(stale, time.Now()))
	sub, _ = models.SubscriptionOf(context.Background(), ts.db.DB, org.ID)
	if sub.Status != "past_due" {
		t.Fatalf("status %q, want past_due", sub.Status)
	}

	// Replays, freshly signed as Stripe's retries are: no second effect.
	paid := stripeEvent("evt_paid", "invoice.paid", t0.Add(2*time.Minute), `{"id":"in_sync","object":"invoice","customer":"cus_sync","subscription":"sub_sync","number":"HOOK-0001","status":"paid","currency":"eur","amount_due":9900,"amount_paid":9900,"amount_remaining":0,"attempt_count":1,"created":1700000000,"period_start":1700000000,"period_end":1702592000,"hosted_invoice_url":"https://invoice.stripe.com/i/sync","status_transitions":{"paid_at":1700000100}}`)
	for i := 0; i < 3; i++ {
		r := postWebhook(t, ts, paid, signStripe(paid, time.Now()))
		want := "processed"
		if i > 0 {
			want = "duplicate"
		}
		if r.status != http.StatusOK || !strings.Contains(r.body, want) {
			t.Fatalf("invoice.paid delivery %d: %d %s", i, r.status, r.body)
		}
	}
	var payments []models.Payment
	ts.db.Where("organization_id = ?", org.ID).Find(&payments)
	if len(payments) != 1 || payments[0].Status != models.PaymentSucceeded || payments[0].Amount != 9900 {
		t.Fatalf("payments after three deliveries: %+v", payments)
	}
	var inv models.Invoice
	if err := ts.db.Where("stripe_invoice_id = ?", "in_sync").First(&inv).Error; err != nil || inv.OrganizationID != org.ID || inv.Number != "HOOK-0001" || inv.PaidAt == nil || inv.HostedInvoiceURL != "https://invoice.stripe.com/i/sync" {
		t.Fatalf("invoice: %+v %v", inv, err)
	}

	// A failed payment: recorded, and the owner is told.
	failed := stripeEvent("evt_failed", "invoice.payment_failed", t0.Add(3*time.Minute), `{"id":"in_sync2","object":"invoice","customer":"cus_sync","number":"HOOK-0002","status":"open","currency":"eur","amount_due":9900,"amount_paid":0,"attempt_count":2,"created":1702592000}`)
	if r := postWebhook(t, ts, failed, signStripe(failed, time.Now())); r.status != http.StatusOK {
		t.Fatalf("payment_failed: %d %s", r.status, r.body)
	}
	if m := ts.lastMail(t, "olivia@sync.test", "billing_payment_failed"); !strings.Contains(m.Text, "99.00 EUR") || !strings.Contains(m.Text, "/billing") {
		t.Fatalf("payment failed mail: %q", m.Text)
	}
	var failedPayments int64
	ts.db.Model(&models.Payment{}).Where("organization_id = ? AND status = ?", org.ID, models.PaymentFailed).Count(&failedPayments)
	if failedPayments != 1 {
		t.Fatalf("%d failed payments recorded", failedPayments)
	}

	// An event type Convot does not handle: 200, ignored, not recorded.
	before := processedStripeEvents(t, ts)
	unknown := stripeEvent("evt_unknown", "charge.dispute.created", time.Now(), `{"id":"dp_1","object":"dispute"}`)
	if r := postWebhook(t, ts, unknown, signStripe(unknown, time.Now())); r.status != http.StatusOK || !strings.Contains(r.body, "ignored") {
		t.Fatalf("unknown type: %d %s", r.status, r.body)
	}
	if processedStripeEvents(t, ts) != before || len(fc.starts()) != 0 {
		t.Fatal("an unknown event had an effect")
	}
	// An event about a customer nobody here has: acknowledged, no effect.
	stranger := stripeEvent("evt_stranger", "invoice.paid", time.Now(), `{"id":"in_stranger","object":"invoice","customer":"cus_nobody","status":"paid","currency":"eur"}`)
	if r := postWebhook(t, ts, stranger, signStripe(stranger, time.Now())); r.status != http.StatusOK {
		t.Fatalf("stranger: %d", r.status)
	}
	var strangers int64
	ts.db.Model(&models.Invoice{}).Where("stripe_invoice_id = ?", "in_stranger").Count(&strangers)
	if strangers != 0 {
		t.Fatal("an invoice of an unknown customer was recorded")
	}
	// Malformed JSON, correctly signed: 400.
	bad := []byte(`{"id": "evt_bad", "type": `)
	if r := postWebhook(t, ts, bad, signStripe(bad, time.Now())); r.status != http.StatusBadRequest {
		t.Fatalf("malformed payload: %d", r.status)
	}
}

// A cancelled subscription (customer.subscription.deleted) and one Stripe
// gave up collecting (unpaid) start the account's cancellation; if the
// workflow cannot be started, the event is not marked processed, so
// Stripe's retry starts it.
func TestStripeWebhookSubscriptionEndStartsCancellation(t *testing.T) {
	ts, fc := billingServer(t)
	org, owner := stripeCustomerOrg(t, ts, "olivia@ended.test", "cus_ended")
	now := time.Now()
	created := stripeEvent("evt_c", "customer.subscription.created", now.Add(-time.Hour), subscriptionObject("sub_ended", "cus_ended", "active", now.Add(time.Hour), ""))
	postWebhook(t, ts, created, signStripe(created, now))

	deleted := stripeEvent("evt_deleted", "customer.subscription.deleted", now, subscriptionObject("sub_ended", "cus_ended", "canceled", now, `,"canceled_at":`+fmt.Sprint(now.Unix())))
	fc.mu.Lock()
	fc.startErr = fmt.Errorf("temporal unavailable")
	fc.mu.Unlock()
	if r := postWebhook(t, ts, deleted, signStripe(deleted, time.Now())); r.status != http.StatusInternalServerError {
		t.Fatalf("with the workflow service down: %d %s", r.status, r.body)
	}
	var n int64
	ts.db.Model(&models.ProcessedStripeEvent{}).Where("event_id = ?", "evt_deleted").Count(&n)
	if n != 0 {
		t.Fatal("a failed event was marked processed")
	}
	fc.mu.Lock()
	fc.startErr = nil
	fc.mu.Unlock()
	if r := postWebhook(t, ts, deleted, signStripe(deleted, time.Now())); r.status != http.StatusOK {
		t.Fatalf("retry: %d %s", r.status, r.body)
	}
	if got := fc.starts(); len(got) != 1 || got[0].OrganizationID != org.ID || got[0].Reason != workflows.CancellationSubscriptionEnded {
		t.Fatalf("cancellations: %+v", got)
	}
	sub, _ := models.SubscriptionOf(context.Background(), ts.db.DB, org.ID)
	if sub.Status != "canceled" || sub.Paying() || sub.CanceledAt == nil {
		t.Fatalf("subscription after deletion: %+v", sub)
	}
	// The workflow's first activity makes the organization read-only.
	ts.db.Model(&models.Organization{}).Where("id = ?", org.ID).Update("status", models.OrgCancelled)
	if r := owner.get("/"); !strings.Contains(r.body, "This account is closed") {
		t.Fatalf("the dashboard does not say the account is closed: %s", excerpt(r.body))
	}

	// Unpaid.
	org2, _ := stripeCustomerOrg(t, ts, "olivia@unpaid.test", "cus_unpaid")
	unpaid := stripeEvent("evt_unpaid", "customer.subscription.updated", now, subscriptionObject("sub_unpaid", "cus_unpaid", "unpaid", now, ""))
	postWebhook(t, ts, unpaid, signStripe(unpaid, time.Now()))
	if got := fc.starts(); len(got) != 2 || got[1].OrganizationID != org2.ID || got[1].Reason != workflows.CancellationUnpaid {
		t.Fatalf("cancellations: %+v", got)
	}
}

// payment_method.attached stores the brand and last four digits, and
// nothing else of the card (policy §2.1), whatever the event carries.
func TestStripeWebhookStoresOnlyBrandAndLastFour(t *testing.T) {
	ts, _ := billingServer(t)
	org, owner := stripeCustomerOrg(t, ts, "olivia@card.test", "cus_card")
	attached := stripeEvent("evt_pm", "payment_method.attached", time.Now(), `{"id":"pm_card","object":"payment_method","type":"card","customer":"cus_card",
		"billing_details":{"name":"Olivia Cardholder","email":"olivia@card.test"},
		"card":{"brand":"visa","last4":"4242","exp_month":12,"exp_year":2031,"fingerprint":"Xt5EWLLDS7FJjR1c","funding":"credit","country":"DE"}}`)
	if r := postWebhook(t, ts, attached, signStripe(attached, time.Now())); r.status != http.StatusOK {
		t.Fatalf("attached: %d %s", r.status, r.body)
	}
	var rows []map[string]any
	if err := ts.db.Raw("SELECT * FROM payment_methods WHERE organization_id = ?", org.ID).Scan(&rows).Error; err != nil || len(rows) != 1 {
		t.Fatalf("payment methods: %v %v", rows, err)
	}
	for col, v := range rows[0] {
		text := fmt.Sprint(v)
		if b, ok := v.([]byte); ok {
			text = string(b)
		}
		for _, leaked := range []string{"2031", "Xt5EWLLDS7FJjR1c", "credit", "Cardholder", "pm_card"} {
			if strings.Contains(text, leaked) {
				t.Errorf("column %s holds %q", col, leaked)
			}
		}
	}
	if strings.Contains(fmt.Sprint(rows[0]["card_last4"]), "4242") {
		t.Error("the last four digits are stored in clear")
	}
	var pm models.PaymentMethod
	ts.db.Where("organization_id = ?", org.ID).First(&pm)
	if pm.CardBrand != "visa" || pm.CardLast4 != "4242" {
		t.Fatalf("card %+v", pm)
	}
	if r := owner.get("/billing"); !strings.Contains(r.body, "Visa ending in 4242") {
		t.Fatalf("billing page: %s", excerpt(r.body))
	}
}

// A subscription that went unpaid closed the account; when it bills again
// (the owner paid the open invoice within the grace period) the account is
// reactivated without anyone pressing Reactivate. An account its owner
// closed is not reopened by a payment.
func TestStripeWebhookPaymentReactivatesUnpaidAccount(t *testing.T) {
	ts, fc := billingServer(t)
	org, owner := stripeCustomerOrg(t, ts, "olivia@repaid.test", "cus_repaid")
	now := time.Now()
	send := func(id, status string, at time.Time) {
		subscriptionUpdated(t, ts, id, "sub_repaid", "cus_repaid", status, at)
	}
	send("evt_r_active", "active", now.Add(-3*time.Minute))
	send("evt_r_unpaid", "unpaid", now.Add(-2*time.Minute))
	if got := fc.starts(); len(got) != 1 || got[0].Reason != workflows.CancellationUnpaid {
		t.Fatalf("cancellations: %+v", got)
	}
	ts.db.Model(&models.Organization{}).Where("id = ?", org.ID).Update("status", models.OrgCancelled) // the workflow's first step
	if r := owner.get("/billing"); !strings.Contains(r.body, "Paying the open invoice") {
		t.Fatalf("the billing page does not say that paying reactivates: %s", excerpt(r.body))
	}
	if len(fc.reactivations()) != 0 {
		t.Fatal("reactivated before any payment")
	}
	send("evt_r_paid", "active", now.Add(-time.Minute))
	if got := fc.reactivations(); len(got) != 1 || got[0] != org.ID {
		t.Fatalf("reactivations after the payment: %v", got)
	}
	billingEventually(t, 15*time.Second, "the organization is active after the payment", func() bool { return orgStatus(ts, org.ID) == models.OrgActive })

	// Closed by its owner: a later payment leaves it closed.
	org2, _ := stripeCustomerOrg(t, ts, "olivia@closedbyowner.test", "cus_closed")
	if err := fc.Start(context.Background(), workflows.CancellationInput{OrganizationID: org2.ID, Reason: workflows.CancellationClosedByOwner}); err != nil {
		t.Fatal(err)
	}
	ts.db.Model(&models.Organization{}).Where("id = ?", org2.ID).Update("status", models.OrgCancelled)
	subscriptionUpdated(t, ts, "evt_closed_active", "sub_closed", "cus_closed", "active", now)
	if got := fc.reactivations(); len(got) != 1 {
		t.Fatalf("an owner-closed account was reactivated by a payment: %v", got)
	}
}

// subscriptionUpdated delivers a signed customer.subscription.updated
// event and expects it processed.
func subscriptionUpdated(t *testing.T, ts *testServer, eventID, subID, customer, status string, at time.Time) {
	t.Helper()
	ev := stripeEvent(eventID, "customer.subscription.updated", at, subscriptionObject(subID, customer, status, at.Add(time.Hour), ""))
	if r := postWebhook(t, ts, ev, signStripe(ev, time.Now())); r.status != http.StatusOK {
		t.Fatalf("%s: %d %s", eventID, r.status, r.body)
	}
}

func orgStatus(ts *testServer, orgID uint64) string {
	var status string
	ts.db.Model(&models.Organization{}).Where("id = ?", orgID).Pluck("status", &status)
	return status
}
