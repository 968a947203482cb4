package subprocessors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/convot/convot/policies"
)

// Subprocessor name, purpose and API version of Shopify flows.
const (
	shopifySubprocessor = "shopify"
	shopifyPurpose      = "essential.service.operations.support"
	shopifyAPIVersion   = "2024-10"
)

// shopifyShopDomain is a shop's permanent domain; nothing else is called,
// so a shop name from a webhook or an install cannot point the client
// elsewhere.
var shopifyShopDomain = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*\.myshopify\.com$`)

// ShopifyConfig configures a Shopify Admin API client.
type ShopifyConfig struct {
	// BaseURL replaces https://{shop} (tests); empty calls the shop.
	BaseURL string
	// HTTPClient is the client requests go through; nil is a client with a
	// 30-second timeout.
	HTTPClient *http.Client
}

// Shopify reads order and customer metadata from the Admin API of a shop
// that installed the Convot Shopify app, to show an operator who a visitor
// is (purpose essential.service.operations.support). Each call declares
// the categories it reads, and the gate checks them against the scopes the
// organization authorized (OrgContext.ShopifyScopes): read_customers for a
// customer's name, email, phone and ID; read_orders for orders. The customer
// ID in the request path is itself user.unique_id, so every call needs
// read_customers. It is safe for concurrent use.
type Shopify struct {
	gate Gate
	base string
	http *http.Client
}

// ShopifyCustomer is what Convot reads of a shop's customer.
type ShopifyCustomer struct {
	ID          int64  `json:"id"`
	FirstName   string `json:"first_name"`
	LastName    string `json:"last_name"`
	Email       string `json:"email"`
	Phone       string `json:"phone"`
	OrdersCount int    `json:"orders_count"`
	State       string `json:"state"`
}

// ShopifyOrder is what Convot reads of a customer's order.
type ShopifyOrder struct {
	ID                int64     `json:"id"`
	Name              string    `json:"name"`
	CreatedAt         time.Time `json:"created_at"`
	FinancialStatus   string    `json:"financial_status"`
	FulfillmentStatus string    `json:"fulfillment_status"`
	TotalPrice        string    `json:"total_price"`
	Currency          string    `json:"currency"`
}

// NewShopify returns a Shopify client. It sends nothing.
func NewShopify(gate Gate, cfg ShopifyConfig) (*Shopify, error) {
	if gate == nil {
		return nil, errors.New("subprocessors: shopify: an egress gate is required")
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &Shopify{gate: gate, base: strings.TrimRight(cfg.BaseURL, "/"), http: hc}, nil
}

// Customer reads one customer of shop with the shop's access token.
func (s *Shopify) Customer(ctx context.Context, org policies.OrgContext, subject policies.SubjectContext, shop, accessToken string, customerID int64) (ShopifyCustomer, error) {
	categories := []string{"user.unique_id", "user.name", "user.contact.email", "user.contact.phone_number", "system.operations"}
	var out struct {
		Customer ShopifyCustomer `json:"customer"`
	}
	d, err := s.get(ctx, org, subject, shop, accessToken, customerID, categories, "customers/%s.json", nil, &out)
	if err != nil {
		return ShopifyCustomer{}, err
	}
	// What comes back is kept only as far as the decision covers it.
	c := out.Customer
	kept := policies.Apply(d, map[string]policies.Field{
		"first_name": {Category: "user.name", Value: c.FirstName},
		"last_name":  {Category: "user.name", Value: c.LastName},
		"email":      {Category: "user.contact.email", Value: c.Email},
		"phone":      {Category: "user.contact.phone_number", Value: c.Phone},
	})
	c.FirstName, _ = appliedText(kept, "first_name")
	c.LastName, _ = appliedText(kept, "last_name")
	c.Email, _ = appliedText(kept, "email")
	c.Phone, _ = appliedText(kept, "phone")
	return c, nil
}

// Orders reads the orders of one customer of shop (any status, newest
// first, at most 50).
func (s *Shopify) Orders(ctx context.Context, org policies.OrgContext, subject policies.SubjectContext, shop, accessToken string, customerID int64) ([]ShopifyOrder, error) {
	categories := []string{"user.unique_id", "user.behavior.purchase_history", "system.operations"}
	var out struct {
		Orders []ShopifyOrder `json:"orders"`
	}
	query := url.Values{"status": {"any"}, "limit": {"50"}}
	if _, err := s.get(ctx, org, subject, shop, accessToken, customerID, categories, "customers/%s/orders.json", query, &out); err != nil {
		return nil, err
	}
	return out.Orders, nil
}

// get asks the gate for the flow, then GETs the Admin API path (with the
// customer ID the decision lets leave) and decodes the JSON answer.
func (s *Shopify) get(ctx context.Context, org policies.OrgContext, subject policies.SubjectContext, shop, accessToken string, customerID int64, categories []string, pathFormat string, query url.Values, out any) (policies.Decision, error) {
	if !shopifyShopDomain.MatchString(shop) {
		return policies.Decision{}, errors.New("subprocessors: shopify: the shop must be a *.myshopify.com domain")
	}
	if accessToken == "" || customerID <= 0 {
		return policies.Decision{}, errors.New("subprocessors: shopify: an access token and a customer ID are required")
	}
	d, err := authorize(ctx, s.gate, policies.Flow{
		Subprocessor: shopifySubprocessor,
		Purpose:      shopifyPurpose,
		Categories:   categories,
		Organization: org,
		Subject:      subject,
	})
	if err != nil {
		return d, fmt.Errorf("shopify: %w", err)
	}
	allowed := policies.Apply(d, map[string]policies.Field{
		"customer_id": {Category: "user.unique_id", Value: strconv.FormatInt(customerID, 10)},
		"shop":        {Category: "system.operations", Value: shop},
	})
	id, okID := appliedText(allowed, "customer_id")
	shop, okShop := appliedText(allowed, "shop")
	if !okID || !okShop {
		return d, fmt.Errorf("shopify: %w: the decision withholds the customer ID: %s", ErrDenied, d.Reason)
	}
	base := s.base
	if base == "" {
		base = "https://" + shop
	}
	u := base + "/admin/api/" + shopifyAPIVersion + "/" + fmt.Sprintf(pathFormat, url.PathEscape(id))
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return d, fmt.Errorf("subprocessors: shopify: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Shopify-Access-Token", accessToken)
	resp, err := s.http.Do(req)
	if err != nil {
		return d, fmt.Errorf("subprocessors: shopify: %w", err)
	}
	defer func() { _ = resp.Body.Close() }() // read, not written: nothing to lose
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return d, fmt.Errorf("subprocessors: shopify: reading the response: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return d, &ShopifyError{StatusCode: resp.StatusCode, Message: shopifyErrorMessage(raw, resp.StatusCode)}
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return d, fmt.Errorf("subprocessors: shopify: decoding the response: %w", err)
	}
	return d, nil
}

// ShopifyError is the Admin API's refusal of a request (401 for a revoked
// token, 403 for a missing scope, 404 for an unknown customer, 429 when
// rate limited).
type ShopifyError struct {
	StatusCode int
	Message    string
}

func (e *ShopifyError) Error() string {
	return fmt.Sprintf("subprocessors: shopify: HTTP %d: %s", e.StatusCode, e.Message)
}

// shopifyErrorMessage reads the "errors" member Shopify answers with (a
// string or an object of lists); it names fields and scopes, not values.
func shopifyErrorMessage(raw []byte, status int) string {
	var body struct {
		Errors json.RawMessage `json:"errors"`
	}
	if json.Unmarshal(raw, &body) == nil && len(body.Errors) > 0 {
		var s string
		if json.Unmarshal(body.Errors, &s) == nil {
			return s
		}
		return string(body.Errors)
	}
	return http.StatusText(status)
}
