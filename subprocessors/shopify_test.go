package subprocessors

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/convot/convot/policies"
)

func fakeShopify(t *testing.T) (*Shopify, *upstreamRecorder) {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/api/2024-10/customers/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.PathValue("id") != "207119551.json" {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"errors":"Not Found"}`))
			return
		}
		_, _ = w.Write([]byte(`{"customer":{"id":207119551,"first_name":"Bob","last_name":"Norman","email":"bob.norman@mail.example.com","phone":"+16136120707","orders_count":1,"state":"enabled","note":"not read"}}`))
	})
	mux.HandleFunc("GET /admin/api/2024-10/customers/{id}/orders.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"orders":[{"id":450789469,"name":"#1001","created_at":"2024-10-01T12:00:00-04:00","financial_status":"paid","fulfillment_status":null,"total_price":"598.94","currency":"USD"}]}`))
	})
	srv, rec := newRecordedUpstream(t, mux)
	g, _ := mustEgressGate(t)
	s, err := NewShopify(g, ShopifyConfig{BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return s, rec
}

var shopVisitor = policies.SubjectContext{Kind: "end_user"}

func shopOrg(scopes ...string) policies.OrgContext {
	return policies.OrgContext{ID: 3, Region: "us", ShopifyScopes: scopes}
}

func TestShopifyWithScopes(t *testing.T) {
	s, rec := fakeShopify(t)
	ctx := context.Background()
	org := shopOrg("read_customers", "read_orders")
	c, err := s.Customer(ctx, org, shopVisitor, "acme.myshopify.com", "shpat_token", 207119551)
	if err != nil {
		t.Fatal(err)
	}
	want := ShopifyCustomer{ID: 207119551, FirstName: "Bob", LastName: "Norman", Email: "bob.norman@mail.example.com", Phone: "+16136120707", OrdersCount: 1, State: "enabled"}
	if c != want {
		t.Fatalf("customer %+v", c)
	}
	orders, err := s.Orders(ctx, org, shopVisitor, "acme.myshopify.com", "shpat_token", 207119551)
	if err != nil {
		t.Fatal(err)
	}
	if len(orders) != 1 || orders[0].Name != "#1001" || orders[0].TotalPrice != "598.94" {
		t.Fatalf("orders %+v", orders)
	}
	reqs := rec.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	if reqs[0].Path != "/admin/api/2024-10/customers/207119551.json" || reqs[0].Header.Get("X-Shopify-Access-Token") != "shpat_token" {
		t.Fatalf("request %+v", reqs[0])
	}
	if reqs[1].Path != "/admin/api/2024-10/customers/207119551/orders.json" || reqs[1].RawQuery != "limit=50&status=any" {
		t.Fatalf("request %+v", reqs[1])
	}

	_, err = s.Customer(ctx, org, shopVisitor, "acme.myshopify.com", "shpat_token", 1)
	var se *ShopifyError
	if !errors.As(err, &se) || se.StatusCode != 404 {
		t.Fatalf("unknown customer: %v", err)
	}
}

func TestShopifyWithoutScopesSendsNothing(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name   string
		org    policies.OrgContext
		call   string
		reason string
	}{
		{"no scopes, customer", shopOrg(), "customer", "the organization has not authorized any shopify scope"},
		{"no scopes, orders", shopOrg(), "orders", "the organization has not authorized any shopify scope"},
		{"customers only, orders", shopOrg("read_customers"), "orders", "scope read_orders for user.behavior.purchase_history is not authorized"},
		{"orders only, customer", shopOrg("read_orders"), "customer", "scope read_customers for user.contact.email is not authorized"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, rec := fakeShopify(t)
			var err error
			if tc.call == "customer" {
				_, err = s.Customer(ctx, tc.org, shopVisitor, "acme.myshopify.com", "shpat_token", 207119551)
			} else {
				_, err = s.Orders(ctx, tc.org, shopVisitor, "acme.myshopify.com", "shpat_token", 207119551)
			}
			requireDeniedWithReason(t, err, tc.reason)
			if n := len(rec.Requests()); n != 0 {
				t.Fatalf("the fake Shopify received %d requests", n)
			}
		})
	}
	t.Run("customer subject", func(t *testing.T) {
		s, rec := fakeShopify(t)
		_, err := s.Customer(ctx, shopOrg("read_customers"), policies.SubjectContext{Kind: "customer"}, "acme.myshopify.com", "shpat_token", 207119551)
		requireDeniedWithReason(t, err, "shopify does not receive data of subject kind customer")
		if n := len(rec.Requests()); n != 0 {
			t.Fatalf("the fake Shopify received %d requests", n)
		}
	})
}

func TestShopifyRefusesOtherHosts(t *testing.T) {
	s, rec := fakeShopify(t)
	for _, shop := range []string{"evil.example.com", "acme.myshopify.com.evil.example", "acme.myshopify.com/admin", ""} {
		if _, err := s.Customer(context.Background(), shopOrg("read_customers"), shopVisitor, shop, "t", 1); err == nil {
			t.Fatalf("shop %q accepted", shop)
		}
	}
	if n := len(rec.Requests()); n != 0 {
		t.Fatalf("%d requests", n)
	}
}
