package subprocessors

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/convot/convot/internal/shopifytest"
)

func fakeShopifyApp(t *testing.T, grant string) (*Shopify, *shopifytest.Shop, string) {
	t.Helper()
	fake := shopifytest.New(t, "app-key", "app-secret")
	fake.Customers = []shopifytest.Customer{{ID: 207119551, FirstName: "Bob", LastName: "Norman", Email: "bob@example.com", Phone: "+16136120707",
		Orders: []shopifytest.Order{{Name: "#1001", CreatedAt: time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC), Total: "59.90", Currency: "EUR", FulfillmentStatus: "FULFILLED", Items: []string{"Blue mug"}}}}}
	g, _ := mustEgressGate(t)
	s, err := NewShopify(g, ShopifyConfig{BaseURL: fake.URL()})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.ExchangeShopifyCode(context.Background(), shopOrg(strings.Split(grant, ",")...), "acme.myshopify.com", "app-key", "app-secret", fake.Code(grant))
	if err != nil {
		t.Fatal(err)
	}
	if tok.Scope != grant {
		t.Fatalf("granted %q", tok.Scope)
	}
	return s, fake, tok.AccessToken
}

// The token exchange goes through the gate: an organization that
// authorized no scope sends nothing, and a used code is refused.
func TestShopifyTokenExchange(t *testing.T) {
	fake := shopifytest.New(t, "app-key", "app-secret")
	g, _ := mustEgressGate(t)
	s, _ := NewShopify(g, ShopifyConfig{BaseURL: fake.URL()})
	ctx := context.Background()
	code := fake.Code("read_customers")
	_, err := s.ExchangeShopifyCode(ctx, shopOrg(), "acme.myshopify.com", "app-key", "app-secret", code)
	requireDeniedWithReason(t, err, "the organization has not authorized any shopify scope")
	if _, err := s.ExchangeShopifyCode(ctx, shopOrg("read_customers"), "evil.example.com", "app-key", "app-secret", code); err == nil {
		t.Fatal("a foreign host was called")
	}
	tok, err := s.ExchangeShopifyCode(ctx, shopOrg("read_customers"), "acme.myshopify.com", "app-key", "app-secret", code)
	if err != nil || tok.AccessToken == "" || tok.Scope != "read_customers" {
		t.Fatalf("exchange: %+v %v", tok, err)
	}
	if _, err := s.ExchangeShopifyCode(ctx, shopOrg("read_customers"), "acme.myshopify.com", "app-key", "app-secret", code); err == nil {
		t.Fatal("a used code was exchanged twice")
	}
}

func TestShopifyGraphQLCustomerAndOrders(t *testing.T) {
	s, fake, token := fakeShopifyApp(t, "read_customers,read_orders")
	ctx := context.Background()
	org := shopOrg("read_customers", "read_orders")
	c, found, err := s.FindShopifyCustomer(ctx, org, shopVisitor, "acme.myshopify.com", token, "bob@example.com", "")
	if err != nil || !found || c.ID != "gid://shopify/Customer/207119551" || c.FirstName != "Bob" || c.NumberOfOrders != "1" {
		t.Fatalf("customer %+v %v %v", c, found, err)
	}
	if _, found, err := s.FindShopifyCustomer(ctx, org, shopVisitor, "acme.myshopify.com", token, "", "+16136120707"); err != nil || !found {
		t.Fatalf("by phone: %v %v", found, err)
	}
	if _, found, err := s.FindShopifyCustomer(ctx, org, shopVisitor, "acme.myshopify.com", token, "nobody@example.com", ""); err != nil || found {
		t.Fatalf("unknown: %v %v", found, err)
	}
	orders, err := s.ShopifyCustomerOrders(ctx, org, shopVisitor, "acme.myshopify.com", token, c.ID, 5)
	if err != nil || len(orders) != 1 || orders[0].Name != "#1001" || orders[0].Total != "59.90" || orders[0].FulfillmentStatus != "FULFILLED" || orders[0].Items[0].Title != "Blue mug" {
		t.Fatalf("orders %+v %v", orders, err)
	}
	q := fake.Queries()
	if len(q) != 4 || q[0].Variables["query"] != `email:"bob@example.com"` || q[3].Operation != "ConvotOrders" {
		t.Fatalf("queries %+v", q)
	}
}

// A shop that granted only read_customers never receives a query for
// orders: the gate denies before anything is sent.
func TestShopifyCustomersOnlyNeverQueriesOrders(t *testing.T) {
	s, fake, token := fakeShopifyApp(t, "read_customers")
	ctx := context.Background()
	org := shopOrg("read_customers")
	c, found, err := s.FindShopifyCustomer(ctx, org, shopVisitor, "acme.myshopify.com", token, "bob@example.com", "")
	if err != nil || !found {
		t.Fatalf("customer: %v %v", found, err)
	}
	_, err = s.ShopifyCustomerOrders(ctx, org, shopVisitor, "acme.myshopify.com", token, c.ID, 5)
	requireDeniedWithReason(t, err, "scope read_orders for user.behavior.purchase_history is not authorized")
	for _, q := range fake.Queries() {
		if q.Operation == "ConvotOrders" || strings.Contains(q.Text, "orders(") {
			t.Fatalf("the fake Shopify received an orders query: %+v", q)
		}
	}
	if n := len(fake.Queries()); n != 1 {
		t.Fatalf("%d queries, want the customer lookup only", n)
	}
}
