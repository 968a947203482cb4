package subprocessors

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/convot/convot/policies"
)

// The Convot Shopify app's calls: the OAuth token exchange and the Admin
// GraphQL reads of the inbox sidebar. Each asks the gate with the
// categories it sends and reads; the gate checks them against the scopes
// the organization granted.

// ShopifyToken is what the token exchange answers: an offline access
// token and the scopes Shopify granted (comma-separated).
type ShopifyToken struct {
	AccessToken string `json:"access_token"`
	Scope       string `json:"scope"`
}

// ShopifyAppCustomer is a shop's customer as the inbox sidebar shows it.
type ShopifyAppCustomer struct {
	ID             string // gid://shopify/Customer/N
	FirstName      string
	LastName       string
	Email          string
	Phone          string
	NumberOfOrders string
}

// ShopifyAppOrder is one recent order as the inbox sidebar shows it.
type ShopifyAppOrder struct {
	Name              string
	CreatedAt         time.Time
	Total, Currency   string
	FulfillmentStatus string
	Items             []ShopifyAppItem
}

// ShopifyAppItem is one line of an order.
type ShopifyAppItem struct {
	Title    string
	Quantity int
}

// ExchangeShopifyCode exchanges an OAuth authorization code for the shop's
// offline access token. The organization context carries the scopes its
// owner chose on Convot's page: the exchange sends no personal data (the
// shop, the app's credentials and the code), but Shopify is called only
// for an organization that authorized a scope.
func (s *Shopify) ExchangeShopifyCode(ctx context.Context, org policies.OrgContext, shop, apiKey, apiSecret, code string) (ShopifyToken, error) {
	if !shopifyShopDomain.MatchString(shop) {
		return ShopifyToken{}, errors.New("subprocessors: shopify: the shop must be a *.myshopify.com domain")
	}
	if apiKey == "" || apiSecret == "" || code == "" {
		return ShopifyToken{}, errors.New("subprocessors: shopify: the app's key and secret and a code are required")
	}
	if _, err := authorize(ctx, s.gate, policies.Flow{Subprocessor: shopifySubprocessor, Purpose: shopifyPurpose,
		Categories: []string{"system.operations"}, Organization: org, Subject: policies.SubjectContext{Kind: "none"}}); err != nil {
		return ShopifyToken{}, fmt.Errorf("shopify: %w", err)
	}
	body, _ := json.Marshal(map[string]string{"client_id": apiKey, "client_secret": apiSecret, "code": code})
	var out ShopifyToken
	if err := s.post(ctx, s.shopBase(shop)+"/admin/oauth/access_token", "", body, &out); err != nil {
		return ShopifyToken{}, err
	}
	if out.AccessToken == "" {
		return ShopifyToken{}, errors.New("subprocessors: shopify: the token exchange answered no token")
	}
	return out, nil
}

// ShopifyAuthorizeURL is where the owner approves the app: the shop's
// OAuth authorization page (the fake's in tests).
func (s *Shopify) ShopifyAuthorizeURL(shop string) string {
	return s.shopBase(shop) + "/admin/oauth/authorize"
}

// ShopifyAuthorizeSource is the CSP source of every shop's authorization
// page: the page whose form goes to Shopify must allow it in form-action,
// since browsers apply form-action to the redirect after the post too.
func (s *Shopify) ShopifyAuthorizeSource() string {
	if s.base != "" {
		if u, err := url.Parse(s.base); err == nil && u.Host != "" {
			return u.Scheme + "://" + u.Host
		}
	}
	return "https://*.myshopify.com"
}

func (s *Shopify) shopBase(shop string) string {
	if s.base != "" {
		return s.base
	}
	return "https://" + shop
}

const shopifyCustomerQuery = `query ConvotCustomer($query: String!) {
  customers(first: 1, query: $query) {
    nodes { id firstName lastName email phone numberOfOrders }
  }
}`

const shopifyOrdersQuery = `query ConvotOrders($id: ID!, $first: Int!) {
  customer(id: $id) {
    orders(first: $first, reverse: true, sortKey: CREATED_AT) {
      nodes {
        name createdAt displayFulfillmentStatus
        totalPriceSet { shopMoney { amount currencyCode } }
        lineItems(first: 10) { nodes { title quantity } }
      }
    }
  }
}`

// FindShopifyCustomer finds the shop's customer with email (or, without
// one, phone), through the Admin GraphQL API. It needs read_customers; the
// address sent and the fields read are those the decision lets through.
// found is false when the shop has no such customer.
func (s *Shopify) FindShopifyCustomer(ctx context.Context, org policies.OrgContext, subject policies.SubjectContext, shop, accessToken, email, phone string) (c ShopifyAppCustomer, found bool, err error) {
	categories := []string{"user.unique_id", "user.name", "user.contact.email", "user.contact.phone_number", "system.operations"}
	d, err := s.gated(ctx, org, subject, shop, accessToken, categories)
	if err != nil {
		return c, false, err
	}
	kept := policies.Apply(d, map[string]policies.Field{
		"email": {Category: "user.contact.email", Value: email},
		"phone": {Category: "user.contact.phone_number", Value: phone},
	})
	email, _ = appliedText(kept, "email")
	phone, _ = appliedText(kept, "phone")
	var search string
	switch {
	case email != "":
		search = "email:" + shopifySearchValue(email)
	case phone != "":
		search = "phone:" + shopifySearchValue(phone)
	default:
		return c, false, nil
	}
	var out struct {
		Customers struct {
			Nodes []ShopifyAppCustomer `json:"nodes"`
		} `json:"customers"`
	}
	if err := s.graphql(ctx, shop, accessToken, "ConvotCustomer", shopifyCustomerQuery, map[string]any{"query": search}, &out); err != nil {
		return c, false, err
	}
	if len(out.Customers.Nodes) == 0 {
		return c, false, nil
	}
	c = out.Customers.Nodes[0]
	back := policies.Apply(d, map[string]policies.Field{
		"first_name": {Category: "user.name", Value: c.FirstName},
		"last_name":  {Category: "user.name", Value: c.LastName},
		"email":      {Category: "user.contact.email", Value: c.Email},
		"phone":      {Category: "user.contact.phone_number", Value: c.Phone},
	})
	c.FirstName, _ = appliedText(back, "first_name")
	c.LastName, _ = appliedText(back, "last_name")
	c.Email, _ = appliedText(back, "email")
	c.Phone, _ = appliedText(back, "phone")
	return c, true, nil
}

// ShopifyCustomerOrders reads a customer's most recent orders (at most
// first, newest first). It needs read_orders and read_customers: without
// them the gate denies and nothing is sent.
func (s *Shopify) ShopifyCustomerOrders(ctx context.Context, org policies.OrgContext, subject policies.SubjectContext, shop, accessToken, customerID string, first int) ([]ShopifyAppOrder, error) {
	categories := []string{"user.unique_id", "user.behavior.purchase_history", "system.operations"}
	d, err := s.gated(ctx, org, subject, shop, accessToken, categories)
	if err != nil {
		return nil, err
	}
	kept := policies.Apply(d, map[string]policies.Field{"id": {Category: "user.unique_id", Value: customerID}})
	id, ok := appliedText(kept, "id")
	if !ok || !strings.HasPrefix(id, "gid://shopify/Customer/") {
		return nil, fmt.Errorf("shopify: %w: the decision withholds the customer ID: %s", ErrDenied, d.Reason)
	}
	if first <= 0 || first > 20 {
		first = 5
	}
	var out struct {
		Customer *struct {
			Orders struct {
				Nodes []struct {
					Name                     string    `json:"name"`
					CreatedAt                time.Time `json:"createdAt"`
					DisplayFulfillmentStatus string    `json:"displayFulfillmentStatus"`
					TotalPriceSet            struct {
						ShopMoney struct {
							Amount       string `json:"amount"`
							CurrencyCode string `json:"currencyCode"`
						} `json:"shopMoney"`
					} `json:"totalPriceSet"`
					LineItems struct {
						Nodes []ShopifyAppItem `json:"nodes"`
					} `json:"lineItems"`
				} `json:"nodes"`
			} `json:"orders"`
		} `json:"customer"`
	}
	if err := s.graphql(ctx, shop, accessToken, "ConvotOrders", shopifyOrdersQuery, map[string]any{"id": id, "first": first}, &out); err != nil {
		return nil, err
	}
	if out.Customer == nil {
		return nil, nil
	}
	orders := make([]ShopifyAppOrder, 0, len(out.Customer.Orders.Nodes))
	for _, n := range out.Customer.Orders.Nodes {
		orders = append(orders, ShopifyAppOrder{Name: n.Name, CreatedAt: n.CreatedAt, Total: n.TotalPriceSet.ShopMoney.Amount,
			Currency: n.TotalPriceSet.ShopMoney.CurrencyCode, FulfillmentStatus: n.DisplayFulfillmentStatus, Items: n.LineItems.Nodes})
	}
	return orders, nil
}

// gated checks the shop and token, then asks the gate.
func (s *Shopify) gated(ctx context.Context, org policies.OrgContext, subject policies.SubjectContext, shop, accessToken string, categories []string) (policies.Decision, error) {
	if !shopifyShopDomain.MatchString(shop) {
		return policies.Decision{}, errors.New("subprocessors: shopify: the shop must be a *.myshopify.com domain")
	}
	if accessToken == "" {
		return policies.Decision{}, errors.New("subprocessors: shopify: an access token is required")
	}
	d, err := authorize(ctx, s.gate, policies.Flow{Subprocessor: shopifySubprocessor, Purpose: shopifyPurpose,
		Categories: categories, Organization: org, Subject: subject})
	if err != nil {
		return d, fmt.Errorf("shopify: %w", err)
	}
	return d, nil
}

// shopifySearchValue quotes a value for Shopify's search syntax.
func shopifySearchValue(v string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
}

// graphql POSTs one query to the shop's Admin GraphQL API and decodes its
// data; GraphQL errors (ACCESS_DENIED for a missing scope) are errors.
func (s *Shopify) graphql(ctx context.Context, shop, accessToken, operation, query string, variables map[string]any, data any) error {
	body, err := json.Marshal(map[string]any{"query": query, "operationName": operation, "variables": variables})
	if err != nil {
		return fmt.Errorf("subprocessors: shopify: %w", err)
	}
	var out struct {
		Data   json.RawMessage `json:"data"`
		Errors json.RawMessage `json:"errors"`
	}
	if err := s.post(ctx, s.shopBase(shop)+"/admin/api/"+shopifyAPIVersion+"/graphql.json", accessToken, body, &out); err != nil {
		return err
	}
	if len(out.Errors) > 0 && string(out.Errors) != "null" {
		return &ShopifyError{StatusCode: http.StatusOK, Message: shopifyErrorMessage([]byte(`{"errors":`+string(out.Errors)+`}`), http.StatusOK)}
	}
	if len(out.Data) == 0 {
		return errors.New("subprocessors: shopify: the GraphQL answer has no data")
	}
	if err := json.Unmarshal(out.Data, data); err != nil {
		return fmt.Errorf("subprocessors: shopify: decoding the response: %w", err)
	}
	return nil
}

func (s *Shopify) post(ctx context.Context, u, accessToken string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("subprocessors: shopify: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if accessToken != "" {
		req.Header.Set("X-Shopify-Access-Token", accessToken)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return fmt.Errorf("subprocessors: shopify: %w", err)
	}
	defer func() { _ = resp.Body.Close() }() // read, not written: nothing to lose
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("subprocessors: shopify: reading the response: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &ShopifyError{StatusCode: resp.StatusCode, Message: shopifyErrorMessage(raw, resp.StatusCode)}
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("subprocessors: shopify: decoding the response: %w", err)
	}
	return nil
}
