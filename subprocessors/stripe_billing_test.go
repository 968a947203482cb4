package subprocessors

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"

	"github.com/convot/convot/internal/testenv"
	"github.com/convot/convot/policies"
)

// recordingTransport keeps the method, path and idempotency key of every
// request a client sends.
type recordingTransport struct {
	mu   sync.Mutex
	sent []sentRequest
}

type sentRequest struct{ Method, Path, Key string }

func (rt *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rt.mu.Lock()
	rt.sent = append(rt.sent, sentRequest{r.Method, r.URL.Path, r.Header.Get("Idempotency-Key")})
	rt.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (rt *recordingTransport) requests() []sentRequest {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return append([]sentRequest(nil), rt.sent...)
}

func stripeAgainstMock(t *testing.T) (*Stripe, *recordingTransport) {
	t.Helper()
	base := testenv.StripeMock(t)
	rt := &recordingTransport{}
	g, _ := mustEgressGate(t)
	s, err := NewStripe(g, StripeConfig{BaseURL: base, SecretKey: "sk_test_123", Region: "eu", HTTPClient: &http.Client{Transport: rt, Timeout: 20 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	return s, rt
}

// Every Stripe call billing makes, against stripe-mock (which checks each
// request against Stripe's OpenAPI specification): each answers, and each
// that creates or changes something carries an idempotency key, the same
// one when it is retried.
func TestStripeBillingCallsAgainstStripeMock(t *testing.T) {
	s, rt := stripeAgainstMock(t)
	ctx := context.Background()
	customer := policies.SubjectContext{Kind: "customer"}

	cus, err := s.CreateCustomer(ctx, billingOrg, customer, "Ada Lovelace", "ada@example.com")
	if err != nil || !strings.HasPrefix(cus, "cus_") {
		t.Fatalf("create customer: %q %v", cus, err)
	}
	price, err := s.PriceForLookupKey(ctx, billingOrg, "convot_growth_monthly")
	if err != nil || !strings.HasPrefix(price, "price_") {
		t.Fatalf("price lookup: %q %v", price, err)
	}
	for _, req := range []CheckoutRequest{
		{CustomerID: cus, PriceID: price, PlanID: "growth", SuccessURL: "https://convot.example/billing?checkout=done", CancelURL: "https://convot.example/billing", RequestKey: "form-1"},
		{CustomerID: cus, SuccessURL: "https://convot.example/billing?card=done", CancelURL: "https://convot.example/billing", RequestKey: "form-2"},
	} {
		cs, err := s.CreateCheckoutSession(ctx, billingOrg, req)
		if err != nil || cs.URL == "" || !strings.HasPrefix(cs.ID, "cs_") {
			t.Fatalf("checkout %+v: %+v %v", req, cs, err)
		}
	}
	portal, err := s.CreatePortalSession(ctx, billingOrg, cus, "https://convot.example/billing", "form-3")
	if err != nil || !strings.HasPrefix(portal, "https://") {
		t.Fatalf("portal: %q %v", portal, err)
	}
	sub, err := s.CreateSubscription(ctx, billingOrg, cus, price, "growth", "form-4")
	if err != nil || !strings.HasPrefix(sub.ID, "sub_") || sub.Status == "" {
		t.Fatalf("create subscription: %+v %v", sub, err)
	}
	got, err := s.GetSubscription(ctx, billingOrg, sub.ID)
	if err != nil || got.ItemID == "" || got.PriceID == "" || got.CurrentPeriodEnd.IsZero() {
		t.Fatalf("get subscription: %+v %v", got, err)
	}
	if _, err := s.ChangeSubscriptionPrice(ctx, billingOrg, sub.ID, price, "scale", "form-5"); err != nil {
		t.Fatalf("change plan: %v", err)
	}
	if _, err := s.SetCancelAtPeriodEnd(ctx, billingOrg, sub.ID, true, "form-6"); err != nil {
		t.Fatalf("cancel at period end: %v", err)
	}
	if err := s.CancelSubscription(ctx, billingOrg, sub.ID, "form-7"); err != nil {
		t.Fatalf("cancel now: %v", err)
	}
	invoices, err := s.ListInvoices(ctx, billingOrg, cus, 10)
	if err != nil || len(invoices) == 0 || !strings.HasPrefix(invoices[0].ID, "in_") || invoices[0].Currency == "" {
		t.Fatalf("invoices: %+v %v", invoices, err)
	}
	cards, err := s.ListCards(ctx, billingOrg, cus)
	if err != nil || len(cards) == 0 || cards[0].Brand == "" || len(cards[0].Last4) != 4 {
		t.Fatalf("cards: %+v %v", cards, err)
	}
	if err := s.SetDefaultPaymentMethod(ctx, billingOrg, cus, cards[0].PaymentMethodID, "evt_1"); err != nil {
		t.Fatalf("default payment method: %v", err)
	}
	if err := s.DeleteCustomer(ctx, billingOrg, cus); err != nil {
		t.Fatalf("delete customer: %v", err)
	}

	seen := map[string]bool{}
	for _, r := range rt.requests() {
		seen[r.Method+" "+r.Path] = true
		if r.Method == http.MethodPost && !strings.HasPrefix(r.Key, "convot-") {
			t.Errorf("%s %s without a Convot idempotency key (%q)", r.Method, r.Path, r.Key)
		}
	}
	for _, want := range []string{
		"POST /v1/customers", "GET /v1/prices", "POST /v1/checkout/sessions", "POST /v1/billing_portal/sessions",
		"POST /v1/subscriptions", "GET /v1/subscriptions/" + sub.ID, "POST /v1/subscriptions/" + sub.ID,
		"DELETE /v1/subscriptions/" + sub.ID, "GET /v1/invoices", "GET /v1/payment_methods",
		"POST /v1/customers/" + cus, "DELETE /v1/customers/" + cus,
	} {
		if !seen[want] {
			t.Errorf("no %s request; sent %v", want, seen)
		}
	}

	// A retry is the same request: the same key. Another form, another key.
	before := len(rt.requests())
	for _, key := range []string{"form-4", "form-4", "form-8"} {
		if _, err := s.CreateSubscription(ctx, billingOrg, cus, price, "growth", key); err != nil {
			t.Fatal(err)
		}
	}
	retries := rt.requests()[before:]
	if retries[0].Key != retries[1].Key || retries[0].Key == retries[2].Key {
		t.Fatalf("idempotency keys of a retry and a new request: %q %q %q", retries[0].Key, retries[1].Key, retries[2].Key)
	}
}

// Every billing call asks the gate first: denied, it sends nothing at all.
func TestStripeBillingDeniedSendsNothing(t *testing.T) {
	s, rec := fakeStripe(t)
	ctx := context.Background()
	none := policies.OrgContext{} // a flow without an organization is denied
	calls := map[string]func() error{
		"price lookup": func() error { _, err := s.PriceForLookupKey(ctx, none, "convot_growth_monthly"); return err },
		"checkout": func() error {
			_, err := s.CreateCheckoutSession(ctx, none, CheckoutRequest{CustomerID: "cus_1", PriceID: "price_1", SuccessURL: "https://x.example/s", CancelURL: "https://x.example/c"})
			return err
		},
		"portal": func() error {
			_, err := s.CreatePortalSession(ctx, none, "cus_1", "https://x.example/b", "k")
			return err
		},
		"create subscription": func() error { _, err := s.CreateSubscription(ctx, none, "cus_1", "price_1", "growth", "k"); return err },
		"get subscription":    func() error { _, err := s.GetSubscription(ctx, none, "sub_1"); return err },
		"change plan": func() error {
			_, err := s.ChangeSubscriptionPrice(ctx, none, "sub_1", "price_2", "scale", "k")
			return err
		},
		"cancel at period end": func() error {
			_, err := s.SetCancelAtPeriodEnd(ctx, none, "sub_1", true, "k")
			return err
		},
		"cancel now":      func() error { return s.CancelSubscription(ctx, none, "sub_1", "k") },
		"list invoices":   func() error { _, err := s.ListInvoices(ctx, none, "cus_1", 10); return err },
		"list cards":      func() error { _, err := s.ListCards(ctx, none, "cus_1"); return err },
		"default card":    func() error { return s.SetDefaultPaymentMethod(ctx, none, "cus_1", "pm_1", "k") },
		"delete customer": func() error { return s.DeleteCustomer(ctx, none, "cus_1") },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			requireDeniedWithReason(t, call(), "organization missing")
		})
	}
	if n := len(rec.Requests()); n != 0 {
		t.Fatalf("denied calls sent %d requests", n)
	}
}

// A declined card and an unreachable Stripe are errors the dashboard can
// tell apart and explain.
func TestStripeDeclinesAndOutagesAreTyped(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/subscriptions", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusPaymentRequired)
		_, _ = w.Write([]byte(`{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"Your card has insufficient funds."}}`))
	})
	srv, _ := newRecordedUpstream(t, mux)
	g, _ := mustEgressGate(t)
	s, err := NewStripe(g, StripeConfig{BaseURL: srv.URL, SecretKey: "sk_test_123", Region: "us"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.CreateSubscription(context.Background(), billingOrg, "cus_1", "price_1", "growth", "k")
	var se *StripeError
	if !errors.As(err, &se) || se.Code != string(stripe.ErrorCodeCardDeclined) || se.DeclineCode != "insufficient_funds" || se.Type != "card_error" {
		t.Fatalf("declined: %#v (%v)", se, err)
	}

	srv.Close() // nothing listens any more
	_, err = s.CreateSubscription(context.Background(), billingOrg, "cus_1", "price_1", "growth", "k")
	if !errors.Is(err, ErrStripeUnreachable) {
		t.Fatalf("outage: %v", err)
	}
}

const testWebhookSecret = "whsec_test_secret"

func signedEvent(t *testing.T, payload string, at time.Time) (body []byte, header string) {
	t.Helper()
	return []byte(payload), SignStripeTestPayload([]byte(payload), testWebhookSecret, at)
}

// The signature is checked (five-minute tolerance) before the payload is
// read; the event's object is read by its type.
func TestVerifyStripeEvent(t *testing.T) {
	now := time.Now()
	subscription := `{"id":"evt_1","object":"event","api_version":"` + stripe.APIVersion + `","created":1700000000,"type":"customer.subscription.updated",
		"data":{"object":{"id":"sub_1","object":"subscription","customer":"cus_1","status":"past_due","current_period_end":1700100000,"cancel_at_period_end":true,
		"metadata":{"convot_org_id":"7","convot_plan":"growth"},"items":{"object":"list","data":[{"id":"si_1","price":{"id":"price_1","lookup_key":"convot_growth_monthly"}}]}}}}`
	body, subHeader := signedEvent(t, subscription, now)
	ev, err := VerifyStripeEvent(body, subHeader, testWebhookSecret)
	if err != nil {
		t.Fatal(err)
	}
	s := ev.Subscription
	if ev.ID != "evt_1" || s == nil || s.ID != "sub_1" || s.CustomerID != "cus_1" || s.Status != "past_due" || s.OrganizationID != 7 ||
		s.PlanID != "growth" || s.PriceLookupKey != "convot_growth_monthly" || !s.CancelAtPeriodEnd || s.CurrentPeriodEnd.Unix() != 1700100000 {
		t.Fatalf("event %+v subscription %+v", ev, s)
	}

	card := `{"id":"evt_2","object":"event","api_version":"` + stripe.APIVersion + `","created":1700000000,"type":"payment_method.attached",
		"data":{"object":{"id":"pm_1","object":"payment_method","type":"card","customer":"cus_1","card":{"brand":"visa","last4":"4242","exp_month":12,"exp_year":2030,"fingerprint":"fp"}}}}`
	body, header := signedEvent(t, card, now)
	ev, err = VerifyStripeEvent(body, header, testWebhookSecret)
	if err != nil || ev.Card == nil || *ev.Card != (StripeCard{PaymentMethodID: "pm_1", CustomerID: "cus_1", Brand: "visa", Last4: "4242"}) {
		t.Fatalf("card event: %+v %v", ev.Card, err)
	}

	bad := map[string]struct {
		body, header string
		want         error
	}{
		"missing":   {subscription, "", ErrStripeSignature},
		"forged":    {subscription, SignStripeTestPayload([]byte(subscription), "whsec_someone_else", now), ErrStripeSignature},
		"tampered":  {strings.Replace(subscription, "past_due", "active", 1), subHeader, ErrStripeSignature},
		"stale":     {subscription, SignStripeTestPayload([]byte(subscription), testWebhookSecret, now.Add(-6*time.Minute)), ErrStripeSignature},
		"malformed": {subscription, "t=abc,v1=zz", ErrStripeSignature},
		"not json":  {"not json", SignStripeTestPayload([]byte("not json"), testWebhookSecret, now), ErrStripeEvent},
		"old api": {strings.Replace(subscription, stripe.APIVersion, "2020-08-27", 1),
			SignStripeTestPayload([]byte(strings.Replace(subscription, stripe.APIVersion, "2020-08-27", 1)), testWebhookSecret, now), ErrStripeEvent},
	}
	for name, tc := range bad {
		if _, err := VerifyStripeEvent([]byte(tc.body), tc.header, testWebhookSecret); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	if _, err := VerifyStripeEvent([]byte(subscription), SignStripeTestPayload([]byte(subscription), "", now), ""); !errors.Is(err, ErrStripeSignature) {
		t.Errorf("no secret configured: %v", err)
	}
}
