package handlers

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/coder/websocket"

	"github.com/convot/convot/conversation"
	"github.com/convot/convot/handlers/dashboard"
	"github.com/convot/convot/handlers/widget"
	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/internal/geoip"
	"github.com/convot/convot/internal/geoip/geoiptest"
	"github.com/convot/convot/internal/realtime"
	"github.com/convot/convot/models"
	"github.com/convot/convot/workflows"
)

// widgetSite is the origin of the Customer's site in these tests.
const widgetSite = "https://shop.example"

// widgetWorld is an organization with an owner and the widget allowed on
// widgetSite.
type widgetWorld struct {
	ts      *testServer
	owner   *browser
	org     models.Organization
	ownerID uint64
}

func newWidgetWorld(t *testing.T) *widgetWorld {
	t.Helper()
	ts := newTestServer(t)
	owner := ts.browser(t)
	owner.signup("olivia@acme.test", "Acme")
	w := &widgetWorld{ts: ts, owner: owner}
	if err := ts.db.Order("id DESC").First(&w.org).Error; err != nil {
		t.Fatal(err)
	}
	if err := ts.db.Model(&models.Organization{}).Where("id = ?", w.org.ID).Update("allowed_origins", widgetSite+"\nhttps://*.example.org").Error; err != nil {
		t.Fatal(err)
	}
	w.org.AllowedOrigins = widgetSite + "\nhttps://*.example.org"
	var a models.Account
	if err := ts.db.Where("organization_id = ?", w.org.ID).First(&a).Error; err != nil {
		t.Fatal(err)
	}
	w.ownerID = a.ID
	return w
}

// widgetReply is one API answer.
type widgetReply struct {
	status int
	body   []byte
	header http.Header
}

func (r widgetReply) json(t *testing.T) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("not JSON (%d): %q", r.status, r.body)
	}
	return v
}

func (r widgetReply) errorText(t *testing.T) string {
	t.Helper()
	s, _ := r.json(t)["error"].(string)
	if s == "" {
		t.Fatalf("error answer without an error message: %d %s", r.status, r.body)
	}
	return s
}

// visitor is one browser with the widget: its token and its origin.
type visitor struct {
	t      *testing.T
	w      *widgetWorld
	key    string // organization public key
	token  string
	origin string
	ua     string
	lang   string
}

func (w *widgetWorld) visitor(t *testing.T) *visitor {
	return &visitor{t: t, w: w, key: w.org.PublicKey, origin: widgetSite,
		ua: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36", lang: "de-DE,de;q=0.9,en;q=0.5"}
}

func (v *visitor) url(path string) string {
	return v.w.ts.URL + "/widget/v1/" + v.key + path
}

func (v *visitor) do(method, path, contentType string, body io.Reader) widgetReply {
	v.t.Helper()
	req, err := http.NewRequest(method, v.url(path), body)
	if err != nil {
		v.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if v.token != "" {
		req.Header.Set("Authorization", "Bearer "+v.token)
	}
	if v.origin != "" {
		req.Header.Set("Origin", v.origin)
	}
	req.Header.Set("User-Agent", v.ua)
	req.Header.Set("Accept-Language", v.lang)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		v.t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }() // read, not written: nothing to lose
	b, _ := io.ReadAll(resp.Body)
	return widgetReply{status: resp.StatusCode, body: b, header: resp.Header}
}

func (v *visitor) call(method, path string, payload any) widgetReply {
	v.t.Helper()
	if payload == nil {
		return v.do(method, path, "", nil)
	}
	b, err := json.Marshal(payload)
	if err != nil {
		v.t.Fatal(err)
	}
	return v.do(method, path, "application/json", bytes.NewReader(b))
}

func (v *visitor) upload(path string, fields map[string]string, name string, data []byte) widgetReply {
	v.t.Helper()
	body, contentType := multipartForm(v.t, fields, name, data)
	return v.do(http.MethodPost, path, contentType, body)
}

// boot starts the visitor's session and keeps the token it hands out.
func (v *visitor) boot(pageURL string) map[string]any {
	v.t.Helper()
	r := v.call(http.MethodPost, "/session", map[string]any{"page_url": pageURL, "language": "fr-FR", "create": true})
	if r.status != http.StatusOK {
		v.t.Fatalf("session: %d %s", r.status, r.body)
	}
	out := r.json(v.t)
	if tok, _ := out["token"].(string); tok != "" {
		v.token = tok
	}
	return out
}

// start opens a conversation and returns its ID.
func (v *visitor) start(body string) uint64 {
	v.t.Helper()
	r := v.call(http.MethodPost, "/conversations", map[string]string{"body": body})
	if r.status != http.StatusCreated {
		v.t.Fatalf("start: %d %s", r.status, r.body)
	}
	conv := r.json(v.t)["conversation"].(map[string]any)
	return uint64(conv["id"].(float64))
}

func (v *visitor) messages(convID uint64, after uint64) []map[string]any {
	v.t.Helper()
	r := v.call(http.MethodGet, fmt.Sprintf("/conversations/%d/messages?after_id=%d", convID, after), nil)
	if r.status != http.StatusOK {
		v.t.Fatalf("messages: %d %s", r.status, r.body)
	}
	var out struct {
		Messages []map[string]any `json:"messages"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil {
		v.t.Fatal(err)
	}
	return out.Messages
}

func (v *visitor) contact() models.Contact {
	v.t.Helper()
	var vt models.VisitorToken
	if err := v.w.ts.db.Where("token_hash = ?", crypto.HashToken(v.token)).First(&vt).Error; err != nil {
		v.t.Fatal(err)
	}
	var ct models.Contact
	if err := v.w.ts.db.First(&ct, vt.ContactID).Error; err != nil {
		v.t.Fatal(err)
	}
	return ct
}

func (w *widgetWorld) conversation(t *testing.T, id uint64) *models.Conversation {
	t.Helper()
	var conv models.Conversation
	if err := w.ts.db.Where("id = ? AND organization_id = ?", id, w.org.ID).First(&conv).Error; err != nil {
		t.Fatal(err)
	}
	return &conv
}

// operatorSays posts an operator's message (or private note) through the
// conversation core, as the inbox does.
func (w *widgetWorld) operatorSays(t *testing.T, convID uint64, body string, private bool) *models.Message {
	t.Helper()
	org := w.org
	if err := w.ts.db.First(&org, w.org.ID).Error; err != nil {
		t.Fatal(err)
	}
	msg, _, err := w.ts.srv.Conversations.Post(context.Background(), &org, w.conversation(t, convID), conversation.Author{Kind: workflows.AuthorOperator, ID: w.ownerID}, body, private, nil)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// dbContains reports whether any text column of any table holds needle.
func dbContains(t *testing.T, ts *testServer, needle string) []string {
	t.Helper()
	var found []string
	seen := map[string]bool{}
	for _, m := range models.All() {
		stmt := ts.db.Model(m).Statement
		if err := stmt.Parse(m); err != nil {
			t.Fatal(err)
		}
		table := stmt.Schema.Table
		if seen[table] {
			continue
		}
		seen[table] = true
		var rows []map[string]any
		if err := ts.db.Table(table).Find(&rows).Error; err != nil {
			t.Fatal(err)
		}
		for _, row := range rows {
			for col, val := range row {
				var s string
				switch x := val.(type) {
				case string:
					s = x
				case []byte:
					s = string(x)
				}
				if strings.Contains(s, needle) {
					found = append(found, table+"."+col)
				}
			}
		}
	}
	return found
}

// The script itself: served as JavaScript, text set only as text, and no
// address but Convot's own.
func TestWidgetScriptRendersTextOnlyAndCallsOnlyConvot(t *testing.T) {
	w := newWidgetWorld(t)
	resp, err := http.Get(w.ts.URL + "/widget.js")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close() // read, not written: nothing to lose
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") {
		t.Fatalf("widget.js: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	src := staticFile(t, "widget.js")
	if !bytes.Equal(src, body) {
		t.Fatal("/widget.js is not web/static/widget.js")
	}
	// Revalidation by ETag.
	req, _ := http.NewRequest(http.MethodGet, w.ts.URL+"/widget.js", nil)
	req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
	if r2, err := http.DefaultClient.Do(req); err != nil || r2.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match: %v %v", r2, err)
	}
	js := string(src)
	// Markup is never built from strings: no HTML parsing sinks at all.
	for _, sink := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "setAttribute(\"on", "srcdoc", "DOMParser", "createContextualFragment"} {
		if strings.Contains(js, sink) {
			t.Errorf("widget.js uses %s", sink)
		}
	}
	// No address but the script's own origin: the only absolute URL is the
	// SVG namespace (a name, never fetched).
	for _, u := range regexp.MustCompile(`(?i)(?:https?|wss?)://[^\s"']*`).FindAllString(js, -1) {
		if u != "http://www.w3.org/2000/svg" && !strings.HasPrefix(u, "https://CONVOT/") {
			t.Errorf("widget.js names an outside address: %s", u)
		}
	}
	if !strings.Contains(js, "document.currentScript") || !strings.Contains(js, "attachShadow") || !strings.Contains(js, "localStorage") {
		t.Error("widget.js lost its origin, Shadow DOM or token storage")
	}
	for _, id := range []string{"convot-launcher", "convot-panel", "convot-messages", "convot-message", "convot-message-body", "convot-input", "convot-send",
		"convot-file", "convot-attach", "convot-typing", "convot-seen", "convot-offline", "convot-email", "convot-email-submit", "convot-greeting", "convot-error", "convot-unread"} {
		if !strings.Contains(js, `"`+id+`"`) {
			t.Errorf("widget.js has no data-testid %s", id)
		}
	}
}

// Policy §5: the visitor token is at least 128 random bits, kept by the
// browser; the server keeps only its hash, and the token brings the
// visitor back to their conversations.
func TestWidgetVisitorTokenIsStoredAsAHashOnly(t *testing.T) {
	w := newWidgetWorld(t)
	v := w.visitor(t)
	first := v.boot(widgetSite + "/pricing")
	raw, err := base64.RawURLEncoding.DecodeString(v.token)
	if err != nil || len(raw) < 16 {
		t.Fatalf("visitor token %q: %d bytes, %v", v.token, len(raw), err)
	}
	var tokens []models.VisitorToken
	w.ts.db.Find(&tokens)
	if len(tokens) != 1 || tokens[0].TokenHash != crypto.HashToken(v.token) || tokens[0].OrganizationID != w.org.ID {
		t.Fatalf("visitor tokens: %+v", tokens)
	}
	if where := dbContains(t, w.ts, v.token); len(where) > 0 {
		t.Fatalf("the raw visitor token is stored in %v", where)
	}
	if first["settings"].(map[string]any)["color"] != models.DefaultWidgetColor {
		t.Errorf("settings: %v", first["settings"])
	}
	convID := v.start("Hello, is anyone there?")

	// A reload: the same token resumes the same contact and conversation,
	// and hands out no new token.
	again := v.boot(widgetSite + "/pricing")
	if _, has := again["token"]; has {
		t.Error("a known visitor got a new token")
	}
	if again["contact"].(map[string]any)["id"] != first["contact"].(map[string]any)["id"] {
		t.Fatal("the token did not bring back the same contact")
	}
	convs := again["conversations"].([]any)
	if len(convs) != 1 || uint64(convs[0].(map[string]any)["id"].(float64)) != convID {
		t.Fatalf("conversations after reload: %v", convs)
	}
	if msgs := v.messages(convID, 0); len(msgs) != 1 || msgs[0]["body"] != "Hello, is anyone there?" {
		t.Fatalf("messages after reload: %v", msgs)
	}

	// Bad or missing tokens: 401, JSON.
	bad := w.visitor(t)
	bad.token = "not-a-token"
	if r := bad.call(http.MethodPost, "/session", nil); r.status != http.StatusUnauthorized {
		t.Fatalf("session with an unknown token: %d", r.status)
	} else {
		r.errorText(t)
	}
	if r := bad.call(http.MethodGet, fmt.Sprintf("/conversations/%d/messages", convID), nil); r.status != http.StatusUnauthorized {
		t.Fatalf("messages with an unknown token: %d", r.status)
	}
	if r := bad.call(http.MethodPost, "/conversations/first/messages", map[string]string{"body": "hi"}); r.status != http.StatusUnauthorized {
		t.Fatalf("a conversation that is no ID, with an unknown token: %d", r.status)
	}
	if r := v.call(http.MethodPost, "/conversations/first/messages", map[string]string{"body": "hi"}); r.status != http.StatusNotFound {
		t.Fatalf("a conversation that is no ID: %d", r.status)
	}
	bad.token = ""
	if r := bad.call(http.MethodGet, "/conversations", nil); r.status != http.StatusUnauthorized {
		t.Fatalf("no token: %d", r.status)
	} else {
		r.errorText(t)
	}
	// A token of another organization is unknown here.
	other := w.visitor(t)
	other.key = "unknown-org-key"
	if r := other.call(http.MethodPost, "/session", nil); r.status != http.StatusNotFound {
		t.Fatalf("unknown organization: %d", r.status)
	} else {
		r.errorText(t)
	}
}

// countContacts counts the contacts of the world's organization.
func countContacts(t *testing.T, w *widgetWorld) int64 {
	t.Helper()
	var n int64
	if err := w.ts.db.Model(&models.Contact{}).Where("organization_id = ?", w.org.ID).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// Policy §2.2, minimal collection: a page view with the widget records
// nothing of the visitor. The session without "create" answers the
// team's settings and presence, and no contact, token, IP, user agent or
// page URL is stored; the first message (session with "create") does.
func TestWidgetPageViewCreatesNoContact(t *testing.T) {
	w := newWidgetWorld(t)
	v := w.visitor(t)
	for i := 0; i < 3; i++ {
		r := v.call(http.MethodPost, "/session", map[string]any{"page_url": widgetSite + "/pricing", "language": "fr-FR"})
		if r.status != http.StatusOK {
			t.Fatalf("page view: %d %s", r.status, r.body)
		}
		out := r.json(t)
		if tok, _ := out["token"].(string); tok != "" {
			t.Fatal("a page view handed out a visitor token")
		}
		if ct, _ := out["contact"].(map[string]any); ct == nil || ct["id"].(float64) != 0 {
			t.Fatalf("a page view names a contact: %v", out["contact"])
		}
		if _, ok := out["settings"].(map[string]any); !ok {
			t.Fatalf("a page view without the settings: %s", r.body)
		}
	}
	if n := countContacts(t, w); n != 0 {
		t.Fatalf("page views created %d contacts", n)
	}
	var tokens int64
	w.ts.db.Model(&models.VisitorToken{}).Where("organization_id = ?", w.org.ID).Count(&tokens)
	if tokens != 0 {
		t.Fatalf("page views created %d visitor tokens", tokens)
	}
	if where := dbContains(t, w.ts, widgetSite+"/pricing"); len(where) > 0 {
		t.Fatalf("the page URL of a page view is stored in %v", where)
	}
	// Without a token, the rest of the API stays closed.
	if r := v.call(http.MethodPost, "/conversations", map[string]string{"body": "hi"}); r.status != http.StatusUnauthorized {
		t.Fatalf("writing without a token: %d", r.status)
	}
	// The first message: the widget asks for a contact, then writes.
	v.boot(widgetSite + "/pricing")
	v.start("Hello")
	if n := countContacts(t, w); n != 1 {
		t.Fatalf("%d contacts after the first message, want 1", n)
	}
	if ct := v.contact(); ct.PageURL != widgetSite+"/pricing" || ct.IP == "" {
		t.Fatalf("technical information once the visitor writes: page=%q ip=%q", ct.PageURL, ct.IP)
	}
}

// Policy §2.2 technical information: IP, user agent, browser language,
// page URL, device type; no country without a GeoIP database.
func TestWidgetRecordsTechnicalInformation(t *testing.T) {
	w := newWidgetWorld(t)
	v := w.visitor(t)
	v.ua = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
	v.boot(widgetSite + "/checkout?session=secret123#step2")
	ct := v.contact()
	if ct.IP != "127.0.0.1" || ct.UserAgent != v.ua || ct.BrowserLanguage != "de-DE" || ct.DeviceType != "mobile" ||
		ct.PageURL != widgetSite+"/checkout" || ct.LastSeenAt == nil {
		t.Fatalf("technical information: ip=%q ua=%q lang=%q device=%q page=%q seen=%v", ct.IP, ct.UserAgent, ct.BrowserLanguage, ct.DeviceType, ct.PageURL, ct.LastSeenAt)
	}
	if ct.Country != "" {
		t.Fatalf("country %q without a GeoIP database", ct.Country)
	}
	// Stored sealed, like every personal column.
	var rawIP string
	w.ts.db.Raw("SELECT ip FROM contacts WHERE id = ?", ct.ID).Scan(&rawIP)
	if strings.Contains(rawIP, "127.0.0.1") {
		t.Fatal("the IP address is stored in clear")
	}
	// Without Accept-Language the widget's navigator.language is used.
	v2 := w.visitor(t)
	v2.lang = ""
	v2.ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Gecko/20100101 Firefox/128.0"
	v2.boot("javascript:alert(1)")
	ct2 := v2.contact()
	if ct2.BrowserLanguage != "fr-FR" || ct2.DeviceType != "desktop" || ct2.PageURL != "" {
		t.Fatalf("second visitor: lang=%q device=%q page=%q", ct2.BrowserLanguage, ct2.DeviceType, ct2.PageURL)
	}
}

// With a GeoIP database configured, the country of the visitor's IP.
func TestWidgetCountryFromGeoIP(t *testing.T) {
	w := newWidgetWorld(t)
	db, err := geoip.Open(geoiptest.Write(t, map[string]string{"127.0.0.0/8": "DE"}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() }) // the test is over; nothing to report
	w.ts.srv.GeoIP = db
	v := w.visitor(t)
	v.boot(widgetSite + "/")
	if ct := v.contact(); ct.Country != "DE" {
		t.Fatalf("country %q, want DE", ct.Country)
	}
}

func TestWidgetCORS(t *testing.T) {
	w := newWidgetWorld(t)
	v := w.visitor(t)
	r := v.call(http.MethodPost, "/session", map[string]bool{"create": true})
	if r.status != http.StatusOK || r.header.Get("Access-Control-Allow-Origin") != widgetSite || !strings.Contains(r.header.Get("Vary"), "Origin") {
		t.Fatalf("allowed origin: %d ACAO=%q Vary=%q", r.status, r.header.Get("Access-Control-Allow-Origin"), r.header.Get("Vary"))
	}
	v.token = r.json(t)["token"].(string)

	// A subdomain of a wildcard entry is allowed; the bare domain is not.
	sub := w.visitor(t)
	sub.origin = "https://help.example.org"
	if r := sub.call(http.MethodPost, "/session", nil); r.status != http.StatusOK || r.header.Get("Access-Control-Allow-Origin") != "https://help.example.org" {
		t.Fatalf("wildcard subdomain: %d", r.status)
	}
	for _, origin := range []string{"https://evil.example", "https://example.org", "http://shop.example", "https://shop.example.evil.test", "null"} {
		o := w.visitor(t)
		o.origin = origin
		o.token = v.token
		// The refusal is readable by the refused page (CORS headers), so
		// the widget can say why; it answers nothing else.
		r := o.call(http.MethodPost, "/session", nil)
		if r.status != http.StatusForbidden || r.header.Get("Access-Control-Allow-Origin") != origin {
			t.Fatalf("origin %s: %d ACAO=%q", origin, r.status, r.header.Get("Access-Control-Allow-Origin"))
		}
		if msg := r.errorText(t); !strings.Contains(msg, "allowed origins") {
			t.Fatalf("origin %s: refusal %q does not say why", origin, msg)
		}
		if r := o.call(http.MethodGet, "/conversations", nil); r.status != http.StatusForbidden || strings.Contains(string(r.body), "conversations\"") {
			t.Fatalf("origin %s with a valid token: %d %s", origin, r.status, r.body)
		}
	}

	preflight := func(origin string) widgetReply {
		req, _ := http.NewRequest(http.MethodOptions, v.url("/conversations/1/messages"), nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }() // read, not written: nothing to lose
		b, _ := io.ReadAll(resp.Body)
		return widgetReply{status: resp.StatusCode, body: b, header: resp.Header}
	}
	p := preflight(widgetSite)
	if p.status != http.StatusNoContent || p.header.Get("Access-Control-Allow-Origin") != widgetSite ||
		!strings.Contains(p.header.Get("Access-Control-Allow-Headers"), "Authorization") || !strings.Contains(p.header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Fatalf("preflight: %d %v", p.status, p.header)
	}
	// The preflight of a refused origin passes, so that the browser lets
	// the widget read the 403 that explains the refusal.
	if p := preflight("https://evil.example"); p.status != http.StatusNoContent || p.header.Get("Access-Control-Allow-Origin") != "https://evil.example" {
		t.Fatalf("preflight from another site: %d", p.status)
	}
	// Server-side clients send no Origin: no CORS check applies.
	v.origin = ""
	if r := v.call(http.MethodGet, "/conversations", nil); r.status != http.StatusOK {
		t.Fatalf("without Origin: %d", r.status)
	}
}

func TestWidgetConversationStartSendAndList(t *testing.T) {
	w := newWidgetWorld(t)
	v := w.visitor(t)
	v.boot(widgetSite + "/")
	convID := v.start("I need help with my order")
	conv := w.conversation(t, convID)
	if conv.Channel != "widget" || conv.Status != models.ConversationOpen || conv.ContactID != v.contact().ID {
		t.Fatalf("conversation: %+v", conv)
	}
	r := v.call(http.MethodPost, fmt.Sprintf("/conversations/%d/messages", convID), map[string]string{"body": "  Order 1234  "})
	if r.status != http.StatusCreated {
		t.Fatalf("send: %d %s", r.status, r.body)
	}
	sent := r.json(t)["message"].(map[string]any)
	if sent["body"] != "Order 1234" || sent["author_type"] != "contact" {
		t.Fatalf("sent: %v", sent)
	}
	// Acknowledged only after commit: the row is there.
	var stored models.Message
	if err := w.ts.db.First(&stored, uint64(sent["id"].(float64))).Error; err != nil || stored.Body != "Order 1234" {
		t.Fatalf("acknowledged message not committed: %v %q", err, stored.Body)
	}
	// The lifecycle workflow hears of the messages.
	if sigs := w.ts.lifecycles.sent(); len(sigs) < 2 || sigs[len(sigs)-1].Input.ConversationID != convID {
		t.Fatalf("lifecycle signals: %d", len(sigs))
	}
	reply := w.operatorSays(t, convID, "Let me check.", false)
	note := w.operatorSays(t, convID, "internal: VIP customer", true)
	msgs := v.messages(convID, 0)
	if len(msgs) != 3 || msgs[2]["body"] != "Let me check." || msgs[2]["author_name"] != "Olivia" {
		t.Fatalf("messages: %v", msgs)
	}
	for _, m := range msgs {
		if uint64(m["id"].(float64)) == note.ID {
			t.Fatal("the visitor sees a private note")
		}
	}
	if after := v.messages(convID, uint64(sent["id"].(float64))); len(after) != 1 || uint64(after[0]["id"].(float64)) != reply.ID {
		t.Fatalf("after_id: %v", after)
	}
	if r := v.call(http.MethodGet, fmt.Sprintf("/conversations/%d/messages?limit=1", convID), nil); r.status != http.StatusOK || r.json(t)["has_more"] != true {
		t.Fatalf("limit: %d %s", r.status, r.body)
	}
	if r := v.call(http.MethodGet, fmt.Sprintf("/conversations/%d/messages?after_id=x", convID), nil); r.status != http.StatusBadRequest {
		t.Fatalf("bad after_id: %d", r.status)
	}

	// Bad messages: 422 (empty, too long), 400 (not JSON), 413 (too big).
	for name, body := range map[string]string{"empty": "   ", "too long": strings.Repeat("a", conversation.MaxMessageRunes+1)} {
		r := v.call(http.MethodPost, fmt.Sprintf("/conversations/%d/messages", convID), map[string]string{"body": body})
		if r.status != http.StatusUnprocessableEntity {
			t.Fatalf("%s message: %d", name, r.status)
		}
		r.errorText(t)
	}
	if r := v.call(http.MethodPost, "/conversations", map[string]string{"body": ""}); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("empty first message: %d", r.status)
	}
	if r := v.do(http.MethodPost, fmt.Sprintf("/conversations/%d/messages", convID), "application/json", strings.NewReader("{not json")); r.status != http.StatusBadRequest {
		t.Fatalf("malformed JSON: %d", r.status)
	} else {
		r.errorText(t)
	}
	huge := `{"body":"` + strings.Repeat("a", int(w.ts.srv.Config.MaxBodyBytes)) + `"}`
	for _, path := range []string{fmt.Sprintf("/conversations/%d/messages", convID), "/conversations"} {
		if r := v.do(http.MethodPost, path, "application/json", strings.NewReader(huge)); r.status != http.StatusRequestEntityTooLarge {
			t.Fatalf("oversized body to %s: %d", path, r.status)
		} else {
			r.errorText(t)
		}
	}
	var convs int64
	w.ts.db.Model(&models.Conversation{}).Count(&convs)
	if convs != 1 {
		t.Fatalf("%d conversations after refused starts", convs)
	}

	// Another visitor cannot read or write this conversation.
	other := w.visitor(t)
	other.boot(widgetSite + "/")
	for _, r := range []widgetReply{
		other.call(http.MethodGet, fmt.Sprintf("/conversations/%d/messages", convID), nil),
		other.call(http.MethodPost, fmt.Sprintf("/conversations/%d/messages", convID), map[string]string{"body": "hi"}),
		other.call(http.MethodPost, "/conversations/abc/messages", map[string]string{"body": "hi"}),
	} {
		if r.status != http.StatusNotFound {
			t.Fatalf("another visitor's conversation: %d", r.status)
		}
	}
	if r := other.call(http.MethodGet, "/conversations", nil); r.status != http.StatusOK || len(r.json(t)["conversations"].([]any)) != 0 {
		t.Fatalf("another visitor's list: %s", r.body)
	}
}

// Policy §7-style safety in the widget: markup a visitor sends comes back
// as data, and the script renders it as text (see the script test).
func TestWidgetMessageMarkupIsData(t *testing.T) {
	w := newWidgetWorld(t)
	v := w.visitor(t)
	v.boot(widgetSite + "/")
	evil := `<script>alert(1)</script><img src=x onerror=alert(2)>`
	convID := v.start(evil)
	msgs := v.messages(convID, 0)
	if len(msgs) != 1 || msgs[0]["body"] != evil {
		t.Fatalf("markup did not come back as the same text: %v", msgs)
	}
	r := v.call(http.MethodGet, fmt.Sprintf("/conversations/%d/messages", convID), nil)
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("messages served as %q", ct)
	}
	if bytes.Contains(r.body, []byte("<script>")) {
		t.Fatal("markup is not escaped in the JSON")
	}
}

func TestWidgetAttachments(t *testing.T) {
	w := newWidgetWorld(t)
	v := w.visitor(t)
	v.boot(widgetSite + "/")
	// A file can open the conversation.
	text := []byte("ATTACHMENT-PLAINTEXT-4711 order list\n")
	r := v.upload("/conversations", map[string]string{"body": "my list"}, `..\..\<b>orders</b>.txt`, text)
	if r.status != http.StatusCreated {
		t.Fatalf("start with a file: %d %s", r.status, r.body)
	}
	out := r.json(t)
	convID := uint64(out["conversation"].(map[string]any)["id"].(float64))
	msg := out["message"].(map[string]any)
	atts := msg["attachments"].([]any)
	if msg["body"] != "my list" || len(atts) != 1 {
		t.Fatalf("message with file: %v", msg)
	}
	att := atts[0].(map[string]any)
	name := att["name"].(string)
	if strings.ContainsAny(name, `<>/\`) || !strings.HasSuffix(name, ".txt") || att["content_type"] != "text/plain" {
		t.Fatalf("attachment name %q type %v", name, att["content_type"])
	}
	attID := uint64(att["id"].(float64))

	// An image into the same conversation.
	png := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 64)...)
	r = v.upload(fmt.Sprintf("/conversations/%d/attachments", convID), nil, "photo.png", png)
	if r.status != http.StatusCreated {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	img := r.json(t)["message"].(map[string]any)["attachments"].([]any)[0].(map[string]any)
	if img["content_type"] != "image/png" {
		t.Fatalf("image: %v", img)
	}

	// Stored sealed: the blob does not hold the plaintext.
	var stored models.Attachment
	if err := w.ts.db.First(&stored, attID).Error; err != nil {
		t.Fatal(err)
	}
	blobBytes, err := w.ts.blobs.Get(context.Background(), conversation.AttachmentStorage(&w.org), stored.BlobKey)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(blobBytes, []byte("ATTACHMENT-PLAINTEXT-4711")) {
		t.Fatal("the attachment is stored in clear")
	}
	var rawName string
	w.ts.db.Raw("SELECT file_name FROM attachments WHERE id = ?", attID).Scan(&rawName)
	if strings.Contains(rawName, "orders") {
		t.Fatal("the file name is stored in clear")
	}

	// The visitor downloads it.
	dl := v.call(http.MethodGet, fmt.Sprintf("/conversations/%d/attachments/%d", convID, attID), nil)
	if dl.status != http.StatusOK || !bytes.Equal(dl.body, text) || dl.header.Get("X-Content-Type-Options") != "nosniff" ||
		!strings.HasPrefix(dl.header.Get("Content-Disposition"), "attachment") || dl.header.Get("Access-Control-Allow-Origin") != widgetSite {
		t.Fatalf("download: %d %v", dl.status, dl.header)
	}
	// Another visitor: 404, whatever the path.
	other := w.visitor(t)
	other.boot(widgetSite + "/")
	otherConv := other.start("hello")
	for _, path := range []string{
		fmt.Sprintf("/conversations/%d/attachments/%d", convID, attID),
		fmt.Sprintf("/conversations/%d/attachments/%d", otherConv, attID),
	} {
		if r := other.call(http.MethodGet, path, nil); r.status != http.StatusNotFound {
			t.Fatalf("another visitor's download %s: %d", path, r.status)
		}
	}
	// A file of an operator's private note is not the visitor's to see.
	org := w.org
	noteFile, err := w.ts.srv.Conversations.StoreAttachment(context.Background(), &org, w.conversation(t, convID), "internal.txt", []byte("internal notes"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.ts.srv.Conversations.Post(context.Background(), &org, w.conversation(t, convID), conversation.Author{Kind: workflows.AuthorOperator, ID: w.ownerID}, "note", true, []uint64{noteFile.ID}); err != nil {
		t.Fatal(err)
	}
	if r := v.call(http.MethodGet, fmt.Sprintf("/conversations/%d/attachments/%d", convID, noteFile.ID), nil); r.status != http.StatusNotFound {
		t.Fatalf("private note's file: %d", r.status)
	}

	// Refused files: a type not on the list (415), too big (413), empty (400).
	exe := append([]byte("MZ\x90\x00\x03\x00\x00\x00"), make([]byte, 200)...)
	exe[100] = 0x01
	if r := v.upload(fmt.Sprintf("/conversations/%d/attachments", convID), nil, "invoice.pdf", exe); r.status != http.StatusUnsupportedMediaType {
		t.Fatalf("executable: %d %s", r.status, r.body)
	} else {
		r.errorText(t)
	}
	if r := v.upload("/conversations", nil, "tool.exe", exe); r.status != http.StatusUnsupportedMediaType {
		t.Fatalf("executable opening a conversation: %d", r.status)
	}
	big := bytes.Repeat([]byte("a"), conversation.MaxAttachmentBytes+1)
	if r := v.upload(fmt.Sprintf("/conversations/%d/attachments", convID), nil, "big.txt", big); r.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("too big: %d", r.status)
	} else {
		r.errorText(t)
	}
	if r := v.upload(fmt.Sprintf("/conversations/%d/attachments", convID), nil, "empty.txt", nil); r.status != http.StatusBadRequest {
		t.Fatalf("empty file: %d", r.status)
	}
	var convs, files int64
	w.ts.db.Model(&models.Conversation{}).Where("organization_id = ?", w.org.ID).Count(&convs)
	w.ts.db.Model(&models.Attachment{}).Count(&files)
	if convs != 2 || files != 3 {
		t.Fatalf("refused uploads left %d conversations, %d files", convs, files)
	}
}

// With identity verification on, a signed identity joins its history at
// once (without it, see TestIdentifyWithoutVerificationNeverRevealsHistory).
func TestWidgetIdentifyMergesAnonymousVisitorIntoKnownContact(t *testing.T) {
	w := newWidgetWorld(t)
	secret := w.verifyIdentities(t)
	// Ann, identified by the shop, has a conversation.
	ann := w.visitor(t)
	ann.boot(widgetSite + "/account")
	r := ann.call(http.MethodPost, "/identify", map[string]any{"external_id": "user-42", "email": "Ann@Example.com", "name": "Ann Smith",
		"phone": "+49 30 1234", "custom_attributes": map[string]any{"plan": "pro", "seats": 5, "beta": true}, "user_hash": widget.IdentityHash(secret, "user-42")})
	if r.status != http.StatusOK || r.json(t)["merged"] == true {
		t.Fatalf("identify: %d %s", r.status, r.body)
	}
	known := ann.contact()
	if known.ExternalID != "user-42" || known.Email != "ann@example.com" || known.Name != "Ann Smith" || known.Phone != "+49 30 1234" ||
		known.CustomAttributes["seats"] != "5" || known.CustomAttributes["beta"] != "true" {
		t.Fatalf("identified contact: %+v", known)
	}
	annConv := ann.start("Where is my invoice?")

	// On another device Ann chats anonymously and sends a file, then signs in.
	anon := w.visitor(t)
	anon.ua = "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) Safari/604.1"
	anon.boot(widgetSite + "/help")
	anonContact := anon.contact()
	anonConv := anon.start("Anonymous question about shipping")
	up := anon.upload(fmt.Sprintf("/conversations/%d/attachments", anonConv), nil, "label.txt", []byte("SHIPPING-LABEL-PLAINTEXT"))
	if up.status != http.StatusCreated {
		t.Fatalf("upload: %d %s", up.status, up.body)
	}
	attID := uint64(up.json(t)["message"].(map[string]any)["attachments"].([]any)[0].(map[string]any)["id"].(float64))
	var before models.Attachment
	w.ts.db.First(&before, attID)

	r = anon.call(http.MethodPost, "/identify", map[string]any{"external_id": "user-42", "custom_attributes": map[string]any{"plan": "enterprise", "beta": nil}, "user_hash": widget.IdentityHash(secret, "user-42")})
	if r.status != http.StatusOK {
		t.Fatalf("identify anonymous: %d %s", r.status, r.body)
	}
	out := r.json(t)
	if out["merged"] != true || uint64(out["contact"].(map[string]any)["id"].(float64)) != known.ID || len(out["conversations"].([]any)) != 2 {
		t.Fatalf("merge answer: %s", r.body)
	}

	// The anonymous contact is gone, its key destroyed.
	var n int64
	w.ts.db.Model(&models.Contact{}).Where("id = ?", anonContact.ID).Count(&n)
	if n != 0 {
		t.Fatal("the anonymous contact still exists")
	}
	var dk models.DataKey
	w.ts.db.First(&dk, anonContact.DataKeyID)
	if dk.DestroyedAt == nil || len(dk.Wrapped) != 0 {
		t.Fatal("the anonymous contact's data key was not destroyed")
	}
	// Everything moved and is readable under the known contact's key.
	conv := w.conversation(t, anonConv)
	if conv.ContactID != known.ID || conv.DataKeyID != known.DataKeyID {
		t.Fatalf("conversation not moved: %+v", conv)
	}
	var msgs []models.Message
	w.ts.db.Where("conversation_id = ?", anonConv).Order("id").Find(&msgs)
	if len(msgs) != 2 || msgs[0].Body != "Anonymous question about shipping" || msgs[0].DataKeyID != known.DataKeyID {
		t.Fatalf("messages after merge: %+v", msgs)
	}
	var rawBody string
	w.ts.db.Raw("SELECT body FROM messages WHERE id = ?", msgs[0].ID).Scan(&rawBody)
	if id, ok := models.SealedKeyID(rawBody); !ok || id != known.DataKeyID {
		t.Fatalf("message sealed under key %d, want %d", id, known.DataKeyID)
	}
	var after models.Attachment
	w.ts.db.First(&after, attID)
	if after.DataKeyID != known.DataKeyID || after.FileName != "label.txt" || after.BlobKey == before.BlobKey {
		t.Fatalf("attachment after merge: %+v", after)
	}
	if _, err := w.ts.blobs.Get(context.Background(), conversation.AttachmentStorage(&w.org), before.BlobKey); err == nil {
		t.Fatal("the blob sealed under the destroyed key is still stored")
	}
	// Both of Ann's browsers see both conversations, files included.
	for _, v := range []*visitor{anon, ann} {
		dl := v.call(http.MethodGet, fmt.Sprintf("/conversations/%d/attachments/%d", anonConv, attID), nil)
		if dl.status != http.StatusOK || string(dl.body) != "SHIPPING-LABEL-PLAINTEXT" {
			t.Fatalf("download after merge: %d %q", dl.status, dl.body)
		}
		if m := v.messages(annConv, 0); len(m) != 1 {
			t.Fatalf("Ann's first conversation: %v", m)
		}
	}
	merged := ann.contact()
	if merged.DeviceType != "tablet" || merged.PageURL != widgetSite+"/help" {
		t.Errorf("technical information of the current browser not kept: %q %q", merged.DeviceType, merged.PageURL)
	}
	if merged.CustomAttributes["plan"] != "enterprise" || merged.CustomAttributes["seats"] != "5" {
		t.Errorf("custom attributes after merge: %v", merged.CustomAttributes)
	}
	if _, still := merged.CustomAttributes["beta"]; still {
		t.Error("an attribute set to null was kept")
	}

	// Someone else signing in on Ann's browser does not get Ann's history.
	r = ann.call(http.MethodPost, "/identify", map[string]any{"external_id": "user-77", "email": "bob@example.com", "user_hash": widget.IdentityHash(secret, "user-77")})
	if r.status != http.StatusOK || r.json(t)["merged"] == true || len(r.json(t)["conversations"].([]any)) != 0 {
		t.Fatalf("another user on the same browser: %s", r.body)
	}
	if bob := ann.contact(); bob.ID == known.ID || bob.ExternalID != "user-77" {
		t.Fatalf("the browser was not switched to a new contact: %+v", bob)
	}
	if c := w.conversation(t, annConv); c.ContactID != known.ID {
		t.Fatal("Ann's conversation moved to Bob")
	}

	// Bounded input.
	for name, payload := range map[string]map[string]any{
		"nothing":     {},
		"bad email":   {"email": "not an email"},
		"long name":   {"name": strings.Repeat("n", widget.MaxContactName+1)},
		"nested attr": {"custom_attributes": map[string]any{"x": map[string]any{"y": 1}}},
		"control":     {"external_id": "a\u202eb"},
	} {
		if r := anon.call(http.MethodPost, "/identify", payload); r.status != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	many := map[string]any{}
	for i := 0; i <= widget.MaxCustomAttributes; i++ {
		many["k"+strconv.Itoa(i)] = "v"
	}
	if r := anon.call(http.MethodPost, "/identify", map[string]any{"custom_attributes": many}); r.status != http.StatusUnprocessableEntity {
		t.Errorf("too many attributes: %d", r.status)
	}
}

// saveWidgetSettings posts the settings form as the owner.
func (w *widgetWorld) saveSettings(t *testing.T, b *browser, fields url.Values) response {
	t.Helper()
	b.get("/settings/widget")
	form := url.Values{"allowed_origins": {widgetSite}, "widget_color": {"#2f6f4f"}, "inactivity_hours": {"24"}, "widget_greeting": {""}}
	for k, v := range fields {
		form[k] = v
	}
	return b.post("/settings/widget", form)
}

var identitySecretShown = regexp.MustCompile(`data-testid="widget-identity-secret">([A-Za-z0-9_-]+)<`)

// verifyIdentities turns identity verification on and returns the
// identity secret.
func (w *widgetWorld) verifyIdentities(t *testing.T) string {
	t.Helper()
	if r := w.saveSettings(t, w.owner, url.Values{"identity_verification": {"1"}}); r.status != http.StatusSeeOther {
		t.Fatalf("turn on verification: %d %s", r.status, excerpt(r.body))
	}
	m := identitySecretShown.FindStringSubmatch(w.owner.get("/settings/widget").body)
	if m == nil {
		t.Fatalf("no identity secret on the settings page")
	}
	return m[1]
}

func TestWidgetIdentityVerification(t *testing.T) {
	w := newWidgetWorld(t)
	if r := w.saveSettings(t, w.owner, url.Values{"identity_verification": {"1"}}); r.status != http.StatusSeeOther {
		t.Fatalf("turn on verification: %d %s", r.status, excerpt(r.body))
	}
	page := w.owner.get("/settings/widget")
	m := identitySecretShown.FindStringSubmatch(page.body)
	if m == nil {
		t.Fatalf("no identity secret on the settings page")
	}
	secret := m[1]
	var rawSecret string
	w.ts.db.Raw("SELECT identity_secret FROM organizations WHERE id = ?", w.org.ID).Scan(&rawSecret)
	if strings.Contains(rawSecret, secret) {
		t.Fatal("the identity secret is stored in clear")
	}

	v := w.visitor(t)
	v.boot(widgetSite + "/")
	if s := v.boot(widgetSite + "/")["settings"].(map[string]any); s["identity_verification"] != true {
		t.Fatalf("settings: %v", s)
	}
	before := v.contact()
	for name, payload := range map[string]map[string]any{
		"missing hash":       {"external_id": "user-9", "email": "eve@example.com", "name": "Mallory"},
		"wrong hash":         {"external_id": "user-9", "name": "Mallory", "user_hash": widget.IdentityHash("wrong secret", "user-9")},
		"hash of another id": {"external_id": "user-9", "name": "Mallory", "user_hash": widget.IdentityHash(secret, "user-10")},
		"hash without id":    {"name": "Mallory", "user_hash": widget.IdentityHash(secret, "")},
	} {
		r := v.call(http.MethodPost, "/identify", payload)
		if r.status != http.StatusUnauthorized {
			t.Fatalf("%s: %d %s", name, r.status, r.body)
		}
		r.errorText(t)
	}
	if after := v.contact(); after.Name != before.Name || after.ExternalID != "" || after.Email != "" {
		t.Fatalf("a refused identify changed the contact: %+v", after)
	}
	// The right hash, upper case hex accepted too.
	good := map[string]any{"external_id": "user-9", "name": "Erin", "user_hash": strings.ToUpper(widget.IdentityHash(secret, "user-9"))}
	if r := v.call(http.MethodPost, "/identify", good); r.status != http.StatusOK {
		t.Fatalf("verified identify: %d %s", r.status, r.body)
	}
	if ct := v.contact(); ct.Name != "Erin" || ct.ExternalID != "user-9" {
		t.Fatalf("verified identify did not apply: %+v", ct)
	}
	// Email-only users are signed by their email.
	v2 := w.visitor(t)
	v2.boot(widgetSite + "/")
	if r := v2.call(http.MethodPost, "/identify", map[string]any{"email": "fay@example.com", "user_hash": widget.IdentityHash(secret, "fay@example.com")}); r.status != http.StatusOK {
		t.Fatalf("email identify: %d %s", r.status, r.body)
	}
	// Rotating the secret stops the old hashes at once.
	w.owner.get("/settings/widget")
	if r := w.owner.post("/settings/widget/secret", nil); r.status != http.StatusSeeOther {
		t.Fatalf("rotate: %d", r.status)
	}
	if r := v.call(http.MethodPost, "/identify", good); r.status != http.StatusUnauthorized {
		t.Fatalf("old hash after rotation: %d", r.status)
	}
}

func TestWidgetRateLimit(t *testing.T) {
	w := newWidgetWorld(t)
	v := w.visitor(t)
	v.boot(widgetSite + "/")
	convID := v.start("first")
	path := fmt.Sprintf("/conversations/%d/messages", convID)
	for i := 1; i < widget.DefaultLimits.Messages.Burst; i++ {
		if r := v.call(http.MethodPost, path, map[string]string{"body": "msg " + strconv.Itoa(i)}); r.status != http.StatusCreated {
			t.Fatalf("message %d: %d", i, r.status)
		}
	}
	r := v.call(http.MethodPost, path, map[string]string{"body": "one too many"})
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Fatalf("over the limit: %d Retry-After=%q", r.status, r.header.Get("Retry-After"))
	}
	r.errorText(t)
	// Other visitors are not affected.
	other := w.visitor(t)
	other.boot(widgetSite + "/")
	other.start("I am someone else")
	// The bucket refills.
	w.ts.advance(widget.DefaultLimits.Messages.Every)
	if r := v.call(http.MethodPost, path, map[string]string{"body": "later"}); r.status != http.StatusCreated {
		t.Fatalf("after waiting: %d", r.status)
	}
	var n int64
	w.ts.db.Model(&models.Message{}).Where("conversation_id = ?", convID).Count(&n)
	if n != int64(widget.DefaultLimits.Messages.Burst)+1 {
		t.Fatalf("%d messages stored", n)
	}
}

func dialWidget(t *testing.T, v *visitor, convID uint64, protocols []string, origin string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	u := "ws" + strings.TrimPrefix(v.url(fmt.Sprintf("/conversations/%d/socket", convID)), "http")
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return websocket.Dial(ctx, u, &websocket.DialOptions{Subprotocols: protocols, HTTPHeader: h})
}

func TestWidgetSocketDeliversRepliesButNeverPrivateNotes(t *testing.T) {
	w := newWidgetWorld(t)
	v := w.visitor(t)
	v.boot(widgetSite + "/")
	convID := v.start("Hello")

	// Refused: a bad token, another site, another visitor's conversation.
	if _, resp, err := dialWidget(t, v, convID, []string{"convot.v1", "token.wrong"}, widgetSite); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bad token: %v %v", resp, err)
	}
	if _, resp, err := dialWidget(t, v, convID, []string{"convot.v1", "token." + v.token}, "https://evil.example"); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("other origin: %v %v", resp, err)
	}
	other := w.visitor(t)
	other.boot(widgetSite + "/")
	if _, resp, err := dialWidget(t, other, convID, []string{"convot.v1", "token." + other.token}, widgetSite); err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("another visitor's conversation: %v %v", resp, err)
	}

	conn, _, err := dialWidget(t, v, convID, []string{"convot.v1", "token." + v.token}, widgetSite)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.CloseNow() }() // the test is over; nothing to report
	if conn.Subprotocol() != "convot.v1" {
		t.Fatalf("subprotocol %q", conn.Subprotocol())
	}
	// Operators hear the visitor typing (on the organization's topic).
	orgEvents, unsubscribe, err := w.ts.srv.Hub.Subscribe(context.Background(), realtime.OrgTopic(w.org.ID))
	if err != nil {
		t.Fatal(err)
	}
	defer unsubscribe()
	if err := conn.Write(context.Background(), websocket.MessageText, []byte(`{"type":"typing"}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case payload := <-orgEvents:
		var e realtime.LiveEvent
		if err := json.Unmarshal(payload, &e); err != nil {
			t.Fatalf("%v: %s", err, payload)
		}
		if e.Type != "typing" || e.AuthorType != "contact" || e.ConversationID != convID {
			t.Fatalf("operators heard %s", payload)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("operators did not hear the visitor typing")
	}

	note := w.operatorSays(t, convID, "private: check their refund history", true)
	reply := w.operatorSays(t, convID, "Hi! How can I help?", false)
	e := readEvent(t, conn)
	if e.Type != "message" || e.Message == nil || e.Message.ID != reply.ID || e.Message.Body != "Hi! How can I help?" {
		t.Fatalf("first event: %+v (private note %d must never arrive)", e, note.ID)
	}
	// Read receipts both ways: the visitor reads the reply...
	if err := conn.Write(context.Background(), websocket.MessageText, []byte(fmt.Sprintf(`{"type":"read","message_id":%d}`, reply.ID))); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		var m models.Message
		w.ts.db.First(&m, reply.ID)
		if m.ReadAt != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the visitor's read receipt was not recorded")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// ... and sees "read" when an operator reads theirs.
	org := w.org
	if err := w.ts.srv.Conversations.MarkRead(context.Background(), &org, w.conversation(t, convID), workflows.AuthorOperator, reply.ID); err != nil {
		t.Fatal(err)
	}
	for {
		e = readEvent(t, conn)
		if e.Type == "read" && e.AuthorType == "operator" {
			break
		}
		if e.Type == "message" && e.Message.Private {
			t.Fatal("a private note reached the visitor")
		}
	}
	if e.AuthorType != "operator" || e.MessageID != reply.ID {
		t.Fatalf("read event: %+v", e)
	}
	msgs := v.messages(convID, 0)
	if msgs[0]["read_at"] == nil {
		t.Fatal("the visitor's message is not marked read")
	}
}

func TestWidgetOfflineNoticeAndEmailCapture(t *testing.T) {
	w := newWidgetWorld(t)
	v := w.visitor(t)
	if s := v.boot(widgetSite + "/"); s["operators_online"] != false {
		t.Fatalf("operators online with nobody connected: %v", s["operators_online"])
	}
	if r := v.call(http.MethodGet, "/status", nil); r.status != http.StatusOK || r.json(t)["operators_online"] != false {
		t.Fatalf("status: %s", r.body)
	}
	// An email left while nobody is online.
	if r := v.call(http.MethodPost, "/email", map[string]string{"email": "nope"}); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("bad email: %d", r.status)
	}
	r := v.call(http.MethodPost, "/email", map[string]string{"email": "Visitor@Example.com"})
	if r.status != http.StatusOK || r.json(t)["contact"].(map[string]any)["email"] != "visitor@example.com" {
		t.Fatalf("email capture: %d %s", r.status, r.body)
	}
	if ct := v.contact(); ct.Email != "visitor@example.com" || ct.EmailIndex == "" {
		t.Fatalf("email not kept: %+v", ct)
	}
	// An operator's inbox reported in within the minute: online.
	now := w.ts.clock().UTC()
	w.ts.db.Model(&models.Account{}).Where("id = ?", w.ownerID).Update("presence_at", now.Add(-30*time.Second))
	if r := v.call(http.MethodGet, "/status", nil); r.json(t)["operators_online"] != true {
		t.Fatalf("status with an operator online: %s", r.body)
	}
	w.ts.advance(2 * time.Minute)
	if r := v.call(http.MethodGet, "/status", nil); r.json(t)["operators_online"] != false {
		t.Fatalf("status after the operator left: %s", r.body)
	}
}

func TestWidgetSettingsPage(t *testing.T) {
	w := newWidgetWorld(t)
	page := w.owner.get("/settings/widget")
	snippet := fmt.Sprintf(`&lt;script src=&#34;%s/widget.js&#34; data-org=&#34;%s&#34; async&gt;&lt;/script&gt;`, w.ts.URL, w.org.PublicKey)
	if page.status != http.StatusOK || !strings.Contains(page.body, snippet) {
		t.Fatalf("settings page: %d, snippet %s missing", page.status, snippet)
	}
	// The trade-off of identity verification is explained, and it is
	// recommended.
	if !strings.Contains(page.body, `data-testid="widget-verification-tradeoff"`) || !strings.Contains(page.body, "We recommend turning it on") {
		t.Error("the settings page does not explain identity verification's trade-off")
	}
	if !strings.Contains(w.owner.get("/").body, `href="/settings/widget"`) {
		t.Error("no Widget link in the navigation")
	}
	r := w.saveSettings(t, w.owner, url.Values{
		"allowed_origins":  {"https://WWW.Shop.example:443/\r\nhttps://*.shop.example\nhttp://localhost:3000\n\n"},
		"widget_color":     {"#AA3366"},
		"inactivity_hours": {"48"},
		"widget_greeting":  {"Hi <b>there</b>!"},
	})
	if r.status != http.StatusSeeOther {
		t.Fatalf("save: %d %s", r.status, excerpt(r.body))
	}
	var org models.Organization
	w.ts.db.First(&org, w.org.ID)
	if org.AllowedOrigins != "https://www.shop.example\nhttps://*.shop.example\nhttp://localhost:3000" || org.WidgetColor != "#aa3366" ||
		org.InactivityHours != 48 || org.WidgetGreeting != "Hi <b>there</b>!" || org.IdentityVerification || org.IdentitySecret != "" {
		t.Fatalf("saved settings: %q %q %d %q %v", org.AllowedOrigins, org.WidgetColor, org.InactivityHours, org.WidgetGreeting, org.IdentityVerification)
	}
	// The widget sees the change at once (same node), escaped greeting and all.
	v := w.visitor(t)
	v.origin = "https://www.shop.example"
	s := v.boot("https://www.shop.example/")["settings"].(map[string]any)
	if s["color"] != "#aa3366" || s["greeting"] != "Hi <b>there</b>!" {
		t.Fatalf("widget settings: %v", s)
	}
	if page := w.owner.get("/settings/widget"); strings.Contains(page.body, "Hi <b>there") {
		t.Fatal("the greeting is not escaped on the settings page")
	}
	assertAudit(t, w.ts, "widget.settings_updated")

	for name, fields := range map[string]url.Values{
		"origin with a path": {"allowed_origins": {"https://shop.example/page"}},
		"not an origin":      {"allowed_origins": {"shop.example"}},
		"hours":              {"inactivity_hours": {"0"}},
		"too many hours":     {"inactivity_hours": {"100000"}},
		"color":              {"widget_color": {"red"}},
		"greeting":           {"widget_greeting": {strings.Repeat("g", dashboard.MaxGreeting+1)}},
	} {
		if r := w.saveSettings(t, w.owner, fields); r.status != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d", name, r.status)
		}
	}

	agent := inviteAndJoin(t, w.ts, w.owner, "adam@acme.test", "agent")
	if r := agent.get("/settings/widget"); r.status != http.StatusForbidden {
		t.Fatalf("agent sees the widget settings: %d", r.status)
	}
	if strings.Contains(agent.get("/").body, `href="/settings/widget"`) {
		t.Error("the agent's navigation links to widget settings")
	}
	agent.get("/")
	if r := agent.post("/settings/widget", url.Values{"allowed_origins": {"https://evil.example"}, "widget_color": {"#000000"}, "inactivity_hours": {"1"}}); r.status != http.StatusForbidden {
		t.Fatalf("agent saves widget settings: %d", r.status)
	}
	if r := agent.post("/settings/widget/secret", nil); r.status != http.StatusForbidden {
		t.Fatalf("agent rotates the secret: %d", r.status)
	}
	w.ts.db.First(&org, w.org.ID)
	if strings.Contains(org.AllowedOrigins, "evil") {
		t.Fatal("the agent changed the allowed origins")
	}
}

// widget.js in a real browser, on a page of another origin that styles
// everything red: the launcher, the panel, sending, a file, the offline
// notice and email capture, live replies, typing and "Seen" both ways,
// markup as text, the conversation after a reload, and a refused identify.
func TestWidgetInBrowser(t *testing.T) {
	w := newWidgetWorld(t)
	site := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "text/html; charset=utf-8")
		// A failed write shows in the browser.
		_, _ = fmt.Fprintf(rw, `<!doctype html><html><head><title>Shop</title>
<style>* { color: rgb(255, 0, 0) !important; font-size: 40px !important; } button { display: none; }</style></head>
<body><h1>Shop</h1><script src="%s/widget.js" data-org="%s" async></script></body></html>`, w.ts.URL, w.org.PublicKey)
	}))
	defer site.Close()
	w.ts.db.Model(&models.Organization{}).Where("id = ?", w.org.ID).Updates(map[string]any{"allowed_origins": site.URL, "widget_greeting": "Hello! Ask us anything."})
	w.ts.srv.widget.ForgetOrganization(w.org.PublicKey)

	page := pageDriver{t, newBrowserContext(t, chromium(t))}
	run, waitJS, eval := page.run, page.waitJS, page.eval
	in := func(id string) chromedp.JSPath {
		return chromedp.JSPath(`ConvotWidget.root.querySelector('[data-testid="` + id + `"]')`)
	}
	q := func(id string) string { return `ConvotWidget.root.querySelector('[data-testid="` + id + `"]')` }
	bodies := `[...ConvotWidget.root.querySelectorAll('[data-testid="convot-message-body"]')].map(e => e.textContent)`

	run("load the page", chromedp.Navigate(site.URL+"/"))
	waitJS("session", `window.ConvotWidget && ConvotWidget.state().started`)
	// Loading the page records nothing of the visitor: no contact, no token.
	tokenKey := "convot.visitor." + w.org.PublicKey
	if tok := eval("no token yet", `localStorage.getItem(`+widgetJSString(tokenKey)+`) || ""`); tok != "" {
		t.Fatalf("a page view stored a visitor token: %q", tok)
	}
	if n := countContacts(t, w); n != 0 {
		t.Fatalf("a page view created %d contacts", n)
	}
	// Nobody is online: the offline notice and the email form show.
	run("open", chromedp.Click(in("convot-launcher")))
	waitJS("panel", `!`+q("convot-panel")+`.hidden && !`+q("convot-offline")+`.hidden && !`+q("convot-email-form")+`.hidden && `+q("convot-greeting")+`.textContent === "Hello! Ask us anything."`)
	// The page's styles do not reach inside.
	if c := eval("isolation", `getComputedStyle(`+q("convot-launcher")+`).display + "|" + getComputedStyle(`+q("convot-greeting")+`).color`); strings.Contains(c, "none") || strings.Contains(c, "255, 0, 0") {
		t.Fatalf("the host page's styles leak into the widget: %s", c)
	}

	run("send", chromedp.SendKeys(in("convot-input"), "Hi, I have a question"), chromedp.Click(in("convot-send")))
	waitJS("sent", bodies+`.includes("Hi, I have a question") && `+q("convot-input")+`.value === ""`)
	convID := uint64(0)
	w.ts.db.Model(&models.Conversation{}).Where("organization_id = ?", w.org.ID).Select("id").Scan(&convID)
	if convID == 0 {
		t.Fatal("no conversation stored")
	}
	// The first message created the visitor's contact and token.
	token := eval("token", `localStorage.getItem(`+widgetJSString(tokenKey)+`) || ""`)
	if len(token) < 22 {
		t.Fatalf("visitor token in local storage: %q", token)
	}
	if where := dbContains(t, w.ts, token); len(where) > 0 {
		t.Fatalf("the raw token is stored in %v", where)
	}
	if n := countContacts(t, w); n != 1 {
		t.Fatalf("%d contacts after the first message, want 1", n)
	}
	run("email", chromedp.SendKeys(in("convot-email"), "visitor@example.com"), chromedp.Click(in("convot-email-submit")))
	waitJS("email saved", `!`+q("convot-email-saved")+`.hidden && `+q("convot-email-form")+`.hidden`)
	file := filepath.Join(t.TempDir(), "photo.png")
	if err := os.WriteFile(file, append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 512)...), 0o600); err != nil {
		t.Fatal(err)
	}
	run("attach", chromedp.SetUploadFiles(in("convot-file"), []string{file}))
	waitJS("image shown", `[...ConvotWidget.root.querySelectorAll('[data-testid="convot-attachment-image"]')].some(i => i.src.startsWith("blob:"))`)

	// The operator types and replies, with markup: live, as text; the
	// open panel marks it read.
	org := w.org
	w.ts.srv.Conversations.Publish(context.Background(), &org, w.conversation(t, convID), realtime.LiveEvent{Type: "typing", ConversationID: convID, AuthorType: workflows.AuthorOperator}, true)
	waitJS("operator typing", `!`+q("convot-typing")+`.hidden`)
	evil := `<img src=x onerror="window.__xss=1">Sure, what is it?`
	reply := w.operatorSays(t, convID, evil, false)
	waitJS("live reply", bodies+`.includes(`+widgetJSString(evil)+`)`)
	if v := eval("markup", `String(window.__xss === 1 || ConvotWidget.root.querySelectorAll("img").length !== 1)`); v != "false" {
		t.Fatal("an operator's text was rendered as markup")
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var m models.Message
		w.ts.db.First(&m, reply.ID)
		if m.ReadAt != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the reply was not marked read by the open panel")
		}
	}
	// The visitor types; the operator reads: "Seen".
	orgEvents, unsubscribe, err := w.ts.srv.Hub.Subscribe(context.Background(), realtime.OrgTopic(w.org.ID))
	if err != nil {
		t.Fatal(err)
	}
	run("type", chromedp.SendKeys(in("convot-input"), "x"))
	typed := false
	for deadline := time.After(5 * time.Second); !typed; {
		select {
		case p := <-orgEvents:
			typed = strings.Contains(string(p), `"typing"`) && strings.Contains(string(p), `"contact"`)
		case <-deadline:
			t.Fatal("operators did not see the visitor typing")
		}
	}
	unsubscribe()
	if err := w.ts.srv.Conversations.MarkRead(context.Background(), &org, w.conversation(t, convID), workflows.AuthorOperator, reply.ID); err != nil {
		t.Fatal(err)
	}
	waitJS("seen", `[...ConvotWidget.root.querySelectorAll('[data-testid="convot-seen"]')].filter(s => !s.hidden).length === 1`)

	// After a reload the visitor still has the conversation.
	run("reload", chromedp.Reload())
	waitJS("resumed", `window.ConvotWidget && ConvotWidget.state().conversationId === `+strconv.FormatUint(convID, 10)+` && `+bodies+`.includes("Hi, I have a question") && `+bodies+`.includes(`+widgetJSString(evil)+`)`)
	if again := eval("same token", `localStorage.getItem(`+widgetJSString(tokenKey)+`)`); again != token {
		t.Fatal("the reload changed the visitor token")
	}
	// A reply while the panel is closed: the unread badge.
	w.operatorSays(t, convID, "Anything else?", false)
	waitJS("unread badge", `!`+q("convot-unread")+`.hidden && `+q("convot-unread")+`.textContent === "1"`)

	// Identity verification on: a forged identify is refused and changes nothing.
	w.ts.db.Model(&models.Organization{}).Where("id = ?", w.org.ID).Updates(map[string]any{"identity_verification": true})
	var o models.Organization
	w.ts.db.First(&o, w.org.ID)
	o.IdentitySecret = crypto.RandomToken(32)
	w.ts.db.Select("identity_secret").Save(&o)
	w.ts.srv.widget.ForgetOrganization(w.org.PublicKey)
	got := eval("forged identify", `ConvotWidget.identify({external_id: "admin", name: "Mallory", user_hash: "00"}).then(() => "accepted", e => String(e.status))`)
	if got != "401" {
		t.Fatalf("forged identify: %s", got)
	}
	got = eval("verified identify", `ConvotWidget.identify({external_id: "u-1", name: "Vera", user_hash: `+widgetJSString(widget.IdentityHash(o.IdentitySecret, "u-1"))+`}).then(c => c.name, e => "refused " + e.status)`)
	if got != "Vera" {
		t.Fatalf("verified identify: %s", got)
	}

	// A new visitor while the plan's conversations are used up: the widget
	// says so and the composer is disabled, instead of refusing a typed
	// message.
	withBilling(t, w.ts)
	w.ts.db.Model(&models.ConversationUsage{}).Where("organization_id = ?", w.org.ID).Update("started", 100) // this month's, counted since the first conversation
	run("a new visitor", chromedp.Evaluate[chromedp.Void](`localStorage.clear()`), chromedp.Reload())
	waitJS("new session", `window.ConvotWidget && ConvotWidget.state().started && ConvotWidget.state().conversationId === 0`)
	run("open", chromedp.Click(in("convot-launcher")))
	waitJS("limit shown", `!`+q("convot-limit")+`.hidden && `+q("convot-input")+`.disabled && `+q("convot-send")+`.disabled`)
}

// widgetJSString quotes s as a JavaScript string literal.
func widgetJSString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// A visitor of one organization is nobody at another: its token is
// unknown there, and its conversations are not found.
func TestWidgetTokenOfAnotherOrganizationIsUnknown(t *testing.T) {
	w := newWidgetWorld(t)
	v := w.visitor(t)
	v.boot(widgetSite + "/")
	convID := v.start("Hello Acme")

	other := w.ts.browser(t)
	other.signup("oscar@globex.test", "Globex")
	var globex models.Organization
	if err := w.ts.db.Where("id <> ?", w.org.ID).First(&globex).Error; err != nil {
		t.Fatal(err)
	}
	w.ts.db.Model(&models.Organization{}).Where("id = ?", globex.ID).Update("allowed_origins", widgetSite)
	stray := *v
	stray.key = globex.PublicKey
	for _, r := range []widgetReply{
		stray.call(http.MethodPost, "/session", nil),
		stray.call(http.MethodGet, "/conversations", nil),
		stray.call(http.MethodGet, fmt.Sprintf("/conversations/%d/messages", convID), nil),
		stray.call(http.MethodPost, fmt.Sprintf("/conversations/%d/messages", convID), map[string]string{"body": "hi"}),
	} {
		if r.status != http.StatusUnauthorized {
			t.Fatalf("Acme's token at Globex: %d %s", r.status, r.body)
		}
	}
	// Globex's own visitor cannot reach Acme's conversation either.
	g := w.visitor(t)
	g.key = globex.PublicKey
	g.boot(widgetSite + "/")
	if r := g.call(http.MethodGet, fmt.Sprintf("/conversations/%d/messages", convID), nil); r.status != http.StatusNotFound {
		t.Fatalf("Globex visitor reading Acme's conversation: %d", r.status)
	}
	if _, resp, err := dialWidget(t, g, convID, []string{"convot.v1", "token." + g.token}, widgetSite); err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("Globex visitor's socket on Acme's conversation: %v %v", resp, err)
	}
}
