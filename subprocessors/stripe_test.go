package subprocessors

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/convot/convot/policies"
)

// fakeStripe answers customer creation and deletion like Stripe, minimally.
func fakeStripe(t *testing.T) (*Stripe, *upstreamRecorder) {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/customers", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			t.Errorf("form: %v", err)
		}
		if r.PostForm.Get("email") == "taken@example.com" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":{"type":"invalid_request_error","code":"email_invalid","message":"Invalid email address: taken@example.com"}}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"cus_123","object":"customer"}`))
	})
	mux.HandleFunc("DELETE /v1/customers/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.PathValue("id") == "cus_gone" {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such customer: 'cus_gone'"}}`))
			return
		}
		_, _ = w.Write([]byte(`{"id":"` + r.PathValue("id") + `","object":"customer","deleted":true}`))
	})
	srv, rec := newRecordedUpstream(t, mux)
	g, _ := mustEgressGate(t)
	s, err := NewStripe(g, StripeConfig{BaseURL: srv.URL, SecretKey: "sk_test_123", Region: "us"})
	if err != nil {
		t.Fatal(err)
	}
	return s, rec
}

var billingOrg = policies.OrgContext{ID: 7, Region: "eu"}

func TestStripeCreateCustomer(t *testing.T) {
	s, rec := fakeStripe(t)
	ctx := context.Background()
	id, err := s.CreateCustomer(ctx, billingOrg, policies.SubjectContext{Kind: "customer"}, "Ada Lovelace", "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if id != "cus_123" {
		t.Fatalf("customer ID %q", id)
	}
	r := onlyRequest(t, rec.Requests())
	form, err := url.ParseQuery(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	want := url.Values{"name": {"Ada Lovelace"}, "email": {"ada@example.com"}, "metadata[convot_org_id]": {"7"}}
	if form.Encode() != want.Encode() {
		t.Fatalf("form %v, want %v", form, want)
	}
	if r.Header.Get("Authorization") != "Bearer sk_test_123" {
		t.Fatalf("authorization header %q", r.Header.Get("Authorization"))
	}
	key := r.Header.Get("Idempotency-Key")
	if !strings.HasPrefix(key, "convot-customer-") || strings.Contains(key, "ada") {
		t.Fatalf("idempotency key %q", key)
	}

	// The same call again carries the same key; another email another key.
	if _, err := s.CreateCustomer(ctx, billingOrg, policies.SubjectContext{Kind: "customer"}, "Ada Lovelace", "ada@example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateCustomer(ctx, billingOrg, policies.SubjectContext{Kind: "customer"}, "Ada Lovelace", "ada@example.org"); err != nil {
		t.Fatal(err)
	}
	reqs := rec.Requests()
	if reqs[1].Header.Get("Idempotency-Key") != key || reqs[2].Header.Get("Idempotency-Key") == key {
		t.Fatalf("idempotency keys %q %q %q", key, reqs[1].Header.Get("Idempotency-Key"), reqs[2].Header.Get("Idempotency-Key"))
	}
}

func TestStripeErrorDoesNotEchoTheEmail(t *testing.T) {
	s, _ := fakeStripe(t)
	_, err := s.CreateCustomer(context.Background(), billingOrg, policies.SubjectContext{Kind: "customer"}, "Ada", "taken@example.com")
	if err == nil {
		t.Fatal("want an error")
	}
	if strings.Contains(err.Error(), "taken@example.com") || !strings.Contains(err.Error(), "email_invalid") {
		t.Fatalf("error %q", err)
	}
}

func TestStripeDeniedSendsNothing(t *testing.T) {
	cases := []struct {
		name    string
		org     policies.OrgContext
		subject policies.SubjectContext
		reason  string
	}{
		{"end user", billingOrg, policies.SubjectContext{Kind: "end_user"}, "stripe does not receive data of subject kind end_user"},
		{"restricted customer", billingOrg, policies.SubjectContext{Kind: "customer", Restricted: true}, "processing of the data subject is restricted"},
		{"missing organization", policies.OrgContext{}, policies.SubjectContext{Kind: "customer"}, "organization missing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, rec := fakeStripe(t)
			_, err := s.CreateCustomer(context.Background(), tc.org, tc.subject, "Ada Lovelace", "ada@example.com")
			requireDeniedWithReason(t, err, tc.reason)
			if n := len(rec.Requests()); n != 0 {
				t.Fatalf("the fake Stripe received %d requests", n)
			}
		})
	}
	t.Run("delete without organization", func(t *testing.T) {
		s, rec := fakeStripe(t)
		requireDeniedWithReason(t, s.DeleteCustomer(context.Background(), policies.OrgContext{}, "cus_123"), "organization missing")
		if n := len(rec.Requests()); n != 0 {
			t.Fatalf("the fake Stripe received %d requests", n)
		}
	})
}

func TestStripeDeleteCustomer(t *testing.T) {
	s, rec := fakeStripe(t)
	ctx := context.Background()
	if err := s.DeleteCustomer(ctx, billingOrg, "cus_123"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteCustomer(ctx, billingOrg, "cus_gone"); err != nil {
		t.Fatalf("deleting a customer Stripe no longer has: %v", err)
	}
	reqs := rec.Requests()
	if len(reqs) != 2 || reqs[0].Method != http.MethodDelete || reqs[0].Path != "/v1/customers/cus_123" {
		t.Fatalf("requests %+v", reqs)
	}
}
