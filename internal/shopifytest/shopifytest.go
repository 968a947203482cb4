// Package shopifytest is a fake Shopify for tests: the OAuth authorization
// page (which approves at once), the token exchange, and the Admin GraphQL
// API for customers and their orders, with Shopify's real signing (a hex
// HMAC-SHA256 over the sorted query of installs and callbacks, a base64
// HMAC-SHA256 of the raw body of webhooks). It records every GraphQL query
// it receives, so a test can prove what was never asked.
package shopifytest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// APIVersion is the Admin API version the fake serves.
const APIVersion = "2024-10"

// Order is one order of a fake customer.
type Order struct {
	Name              string
	CreatedAt         time.Time
	Total, Currency   string
	FulfillmentStatus string // UNFULFILLED, FULFILLED, ...
	Items             []string
}

// Customer is one customer of the fake shop.
type Customer struct {
	ID                  int64
	FirstName, LastName string
	Email, Phone        string
	Orders              []Order
}

// Query is one GraphQL request the fake received.
type Query struct {
	Operation string
	Text      string
	Variables map[string]any
}

// Shop is a fake Shopify serving one app (APIKey, Secret).
type Shop struct {
	APIKey, Secret string
	// Grant overrides the scopes the token exchange answers (by default,
	// those asked for at authorization).
	Grant string
	// Domain is the shop the authorization page answers for (every shop's
	// URL is the fake's): acme.myshopify.com unless set.
	Domain    string
	Customers []Customer
	Server    *httptest.Server

	mu      sync.Mutex
	codes   map[string]string // code -> scopes asked
	tokens  map[string]string // token -> scopes granted
	queries []Query
	nextID  int
}

// New starts a fake Shopify; it stops with the test's cleanup.
func New(t interface{ Cleanup(func()) }, apiKey, secret string) *Shop {
	s := &Shop{APIKey: apiKey, Secret: secret, Domain: "acme.myshopify.com", codes: map[string]string{}, tokens: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/oauth/authorize", s.authorize)
	mux.HandleFunc("POST /admin/oauth/access_token", s.accessToken)
	mux.HandleFunc("POST /admin/api/"+APIVersion+"/graphql.json", s.graphql)
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Server.Close)
	return s
}

// URL is the fake's base URL (it stands for https://{shop}).
func (s *Shop) URL() string { return s.Server.URL }

// SignQuery is Shopify's signature of an install or callback query: the
// hex HMAC-SHA256, under the app secret, of the parameters other than hmac
// and signature, sorted by name, as name=value joined by '&'.
func SignQuery(secret string, q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		if k == "hmac" || k == "signature" {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+strings.Join(q[k], ","))
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strings.Join(parts, "&")))
	return hex.EncodeToString(m.Sum(nil))
}

// SignWebhook is Shopify's X-Shopify-Hmac-SHA256 of a webhook body: the
// base64 HMAC-SHA256 of the raw body under the app secret.
func SignWebhook(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// InstallQuery is the signed query Shopify sends to an app's install URL.
func (s *Shop) InstallQuery(shop string, at time.Time) url.Values {
	q := url.Values{"shop": {shop}, "timestamp": {strconv.FormatInt(at.Unix(), 10)}, "host": {base64.RawStdEncoding.EncodeToString([]byte(shop + "/admin"))}}
	q.Set("hmac", SignQuery(s.Secret, q))
	return q
}

// Webhook builds a signed webhook request for topic from shop to url.
func (s *Shop) Webhook(target, topic, shop, webhookID string, body []byte) *http.Request {
	req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Shopify-Topic", topic)
	req.Header.Set("X-Shopify-Shop-Domain", shop)
	req.Header.Set("X-Shopify-Webhook-Id", webhookID)
	req.Header.Set("X-Shopify-Triggered-At", time.Now().UTC().Format(time.RFC3339Nano))
	req.Header.Set("X-Shopify-API-Version", APIVersion)
	req.Header.Set("X-Shopify-Hmac-SHA256", SignWebhook(s.Secret, body))
	return req
}

// Queries returns the GraphQL requests received so far.
func (s *Shop) Queries() []Query {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Query(nil), s.queries...)
}

// authorize stands for the merchant approving the app: it redirects at
// once to redirect_uri with a code and Shopify's signed callback query.
func (s *Shop) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != s.APIKey {
		http.Error(w, "unknown app", http.StatusBadRequest)
		return
	}
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || q.Get("state") == "" || q.Get("grant_options[]") != "" {
		http.Error(w, "bad authorization request", http.StatusBadRequest)
		return
	}
	shop := s.Domain
	s.mu.Lock()
	s.nextID++
	code := fmt.Sprintf("code-%d", s.nextID)
	s.codes[code] = q.Get("scope")
	s.mu.Unlock()
	cb := url.Values{"code": {code}, "shop": {shop}, "state": {q.Get("state")},
		"timestamp": {strconv.FormatInt(time.Now().Unix(), 10)}, "host": {base64.RawStdEncoding.EncodeToString([]byte(shop + "/admin"))}}
	cb.Set("hmac", SignQuery(s.Secret, cb))
	redirect.RawQuery = cb.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

// Code issues an authorization code for scopes directly (tests that drive
// the callback themselves).
func (s *Shop) Code(scopes string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	code := fmt.Sprintf("code-%d", s.nextID)
	s.codes[code] = scopes
	return code
}

// CallbackQuery is the signed query Shopify redirects the merchant back
// with.
func (s *Shop) CallbackQuery(shop, state, code string) url.Values {
	cb := url.Values{"code": {code}, "shop": {shop}, "state": {state},
		"timestamp": {strconv.FormatInt(time.Now().Unix(), 10)}, "host": {base64.RawStdEncoding.EncodeToString([]byte(shop + "/admin"))}}
	cb.Set("hmac", SignQuery(s.Secret, cb))
	return cb
}

func (s *Shop) accessToken(w http.ResponseWriter, r *http.Request) {
	var in struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
		Code         string `json:"code"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"errors": "malformed body"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	scopes, ok := s.codes[in.Code]
	if in.ClientID != s.APIKey || in.ClientSecret != s.Secret || !ok {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_request", "error_description": "The authorization code was not found or was already used"})
		return
	}
	delete(s.codes, in.Code) // a code is good once
	if s.Grant != "" {
		scopes = s.Grant
	}
	s.nextID++
	token := fmt.Sprintf("shpat_fake_%d", s.nextID)
	s.tokens[token] = scopes
	writeJSON(w, http.StatusOK, map[string]any{"access_token": token, "scope": scopes})
}

func (s *Shop) graphql(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Query         string         `json:"query"`
		OperationName string         `json:"operationName"`
		Variables     map[string]any `json:"variables"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"errors": "malformed body"})
		return
	}
	s.mu.Lock()
	s.queries = append(s.queries, Query{Operation: in.OperationName, Text: in.Query, Variables: in.Variables})
	scopes, ok := s.tokens[r.Header.Get("X-Shopify-Access-Token")]
	customers := append([]Customer(nil), s.Customers...)
	s.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"})
		return
	}
	has := func(scope string) bool { return strings.Contains(","+scopes+",", ","+scope+",") }
	switch in.OperationName {
	case "ConvotCustomer":
		if !has("read_customers") {
			writeJSON(w, http.StatusOK, accessDenied("customers"))
			return
		}
		search, _ := in.Variables["query"].(string)
		var nodes []any
		for _, c := range customers {
			if matches(c, search) {
				nodes = append(nodes, map[string]any{"id": gid(c.ID), "firstName": c.FirstName, "lastName": c.LastName,
					"email": c.Email, "phone": c.Phone, "numberOfOrders": strconv.Itoa(len(c.Orders))})
				break
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"customers": map[string]any{"nodes": orEmpty(nodes)}}})
	case "ConvotOrders":
		if !has("read_orders") || !has("read_customers") {
			writeJSON(w, http.StatusOK, accessDenied("orders"))
			return
		}
		id, _ := in.Variables["id"].(string)
		for _, c := range customers {
			if gid(c.ID) != id {
				continue
			}
			var nodes []any
			for _, o := range c.Orders {
				var items []any
				for _, it := range o.Items {
					items = append(items, map[string]any{"title": it, "quantity": 1})
				}
				nodes = append(nodes, map[string]any{"name": o.Name, "createdAt": o.CreatedAt.UTC().Format(time.RFC3339),
					"displayFulfillmentStatus": o.FulfillmentStatus,
					"totalPriceSet":            map[string]any{"shopMoney": map[string]any{"amount": o.Total, "currencyCode": o.Currency}},
					"lineItems":                map[string]any{"nodes": orEmpty(items)}})
			}
			writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"customer": map[string]any{"orders": map[string]any{"nodes": orEmpty(nodes)}}}})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"customer": nil}})
	default:
		writeJSON(w, http.StatusOK, map[string]any{"errors": []any{map[string]any{"message": "unknown operation"}}})
	}
}

func matches(c Customer, search string) bool {
	field, value, ok := strings.Cut(search, ":")
	if !ok {
		return false
	}
	value = strings.Trim(value, `"`)
	switch field {
	case "email":
		return strings.EqualFold(c.Email, value)
	case "phone":
		return c.Phone != "" && c.Phone == value
	}
	return false
}

func gid(id int64) string { return "gid://shopify/Customer/" + strconv.FormatInt(id, 10) }

func orEmpty(v []any) []any {
	if v == nil {
		return []any{}
	}
	return v
}

func accessDenied(what string) map[string]any {
	return map[string]any{"errors": []any{map[string]any{"message": "Access denied for " + what + " field.", "extensions": map[string]any{"code": "ACCESS_DENIED"}}}}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
