package handlers

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/convot/convot/handlers/webhooks"
	"github.com/convot/convot/models"
)

// Hostile and repeated input (issue 14): the same mail delivered at once
// several times, webhook timestamps from the future, events for nobody,
// oversized bodies, NUL bytes and invalid UTF-8.

// Postmark delivers a mail again when it missed the answer, sometimes
// while the first delivery is still running: eight identical deliveries
// at once make one conversation with one message and one Message-ID row,
// and every delivery is answered 200.
func TestInboundParallelDeliveriesMakeOneConversation(t *testing.T) {
	ts := newEmailServer(t, nil)
	_, org := ts.customer(t, "owner@acme.test", "Acme", "support@acme.test")
	body := fixture(t, "plain.json", map[string]string{"SUPPORT": "support@acme.test"})
	const deliveries = 8
	statuses := make([]int, deliveries)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range deliveries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			req, _ := http.NewRequest(http.MethodPost, ts.URL+"/webhooks/postmark/inbound", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.SetBasicAuth(postmarkUser, postmarkPassword)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close() // read, not written: nothing to lose
			statuses[i] = resp.StatusCode
		}()
	}
	close(start)
	wg.Wait()
	for i, s := range statuses {
		if s != http.StatusOK {
			t.Errorf("delivery %d: %d", i, s)
		}
	}
	convs := ts.conversations(t, org.ID)
	var messages, rows int64
	ts.db.Model(&models.Message{}).Where("organization_id = ?", org.ID).Count(&messages)
	ts.db.Model(&models.EmailMessage{}).Where("organization_id = ? AND direction = ?", org.ID, models.EmailInbound).Count(&rows)
	if len(convs) != 1 || messages != 1 || rows != 1 {
		t.Fatalf("%d deliveries at once made %d conversations, %d messages, %d email_messages rows; want 1 of each", deliveries, len(convs), messages, rows)
	}
	var row models.EmailMessage
	ts.db.Where("organization_id = ?", org.ID).First(&row)
	if row.ConversationID != convs[0].ID || row.MessageID == 0 {
		t.Fatalf("the Message-ID row names conversation %d message %d", row.ConversationID, row.MessageID)
	}
}

// A signature timestamped in the future is refused like a stale one: the
// tolerance is five minutes either way.
func TestStripeWebhookRefusesFutureTimestamps(t *testing.T) {
	ts, _ := billingServer(t)
	stripeCustomerOrg(t, ts, "olivia@future.test", "cus_future")
	payload := stripeEvent("evt_future", "customer.subscription.updated", time.Now(), subscriptionObject("sub_future", "cus_future", "active", time.Now().Add(time.Hour), ""))
	r := postWebhook(t, ts, payload, signStripe(payload, time.Now().Add(10*time.Minute)))
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "signature") {
		t.Fatalf("signed 10 minutes ahead: %d %s", r.status, r.body)
	}
	if n := processedStripeEvents(t, ts); n != 0 {
		t.Fatalf("%d events processed", n)
	}
	// Within the tolerance (clocks drift a little): taken.
	r = postWebhook(t, ts, payload, signStripe(payload, time.Now().Add(time.Minute)))
	if r.status != http.StatusOK || !strings.Contains(r.body, "processed") {
		t.Fatalf("signed a minute ahead: %d %s", r.status, r.body)
	}
}

// An event about a customer no organization has is not marked processed
// and forgotten: it is kept for review with its reason, logged at error
// level (its ID and type, nothing of the customer), and processed when
// Stripe delivers it again once the customer is known.
func TestStripeEventForUnknownOrganizationIsKeptForReview(t *testing.T) {
	ts, _ := billingServer(t)
	var logs syncBuffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	defer slog.SetDefault(old)

	payload := stripeEvent("evt_nobody", "invoice.paid", time.Now(), `{"id":"in_nobody","object":"invoice","customer":"cus_nobody","customer_email":"payer@nobody.test","status":"paid","currency":"eur","amount_paid":1900}`)
	r := postWebhook(t, ts, payload, signStripe(payload, time.Now()))
	if r.status != http.StatusOK || !strings.Contains(r.body, `"status":"unmatched"`) {
		t.Fatalf("event for no organization: %d %s", r.status, r.body)
	}
	var status, reason string
	row := ts.db.Raw("SELECT status, reason FROM processed_stripe_events WHERE event_id = ?", "evt_nobody").Row()
	if err := row.Scan(&status, &reason); err != nil || status != "unmatched" || reason == "" {
		t.Fatalf("kept as %q (%q): %v", status, reason, err)
	}
	text := logs.String()
	if !strings.Contains(text, "level=ERROR") || !strings.Contains(text, "evt_nobody") {
		t.Fatalf("not logged as an error by event ID:\n%s", text)
	}
	for _, secret := range []string{"payer@nobody.test", "1900"} {
		if strings.Contains(text, secret) {
			t.Fatalf("the log names %q:\n%s", secret, text)
		}
	}
	// The customer becomes known; Stripe's redelivery is processed now.
	org, _ := stripeCustomerOrg(t, ts, "olivia@late.test", "cus_nobody")
	r = postWebhook(t, ts, payload, signStripe(payload, time.Now()))
	if r.status != http.StatusOK || !strings.Contains(r.body, `"status":"processed"`) {
		t.Fatalf("redelivered: %d %s", r.status, r.body)
	}
	var orgID uint64
	row = ts.db.Raw("SELECT status, organization_id FROM processed_stripe_events WHERE event_id = ?", "evt_nobody").Row()
	if err := row.Scan(&status, &orgID); err != nil || status != "processed" || orgID != org.ID {
		t.Fatalf("after redelivery: %q organization %d: %v", status, orgID, err)
	}
	if r = postWebhook(t, ts, payload, signStripe(payload, time.Now())); !strings.Contains(r.body, "duplicate") {
		t.Fatalf("a third delivery: %d %s", r.status, r.body)
	}
}

// countingBody counts the bytes a handler reads of a request body.
type countingBody struct {
	r    io.Reader
	read atomic.Int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read.Add(int64(n))
	return n, err
}

func (c *countingBody) Close() error { return nil }

// Each route takes bodies of its own size: a mail 1 MiB over the inbound
// limit (room for the largest attachment a conversation keeps) is refused with
// 413 before it is read (by its Content-Length, or after the limit when
// it comes chunked), Stripe's events and the widget's and privacy API's
// JSON are small, whatever the dashboard's limit.
func TestBodyLimitsPerRoute(t *testing.T) {
	ts := newConfiguredTestServer(t, func(s *Server) { s.Config.MaxBodyBytes = 1 << 20 })
	cfg := ts.srv.Config
	cfg.InboundDomain, cfg.PostmarkInboundUser, cfg.PostmarkInboundPassword = testInbound, postmarkUser, postmarkPassword
	const tooLarge = webhooks.MaxInboundBytes + 1<<20
	for _, chunked := range []bool{false, true} {
		body := &countingBody{r: io.LimitReader(zeros{}, tooLarge)}
		req := httptest.NewRequest(http.MethodPost, "/webhooks/postmark/inbound", nil)
		req.Body, req.ContentLength = body, tooLarge
		if chunked {
			req.ContentLength = -1
		}
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth(postmarkUser, postmarkPassword)
		rec := httptest.NewRecorder()
		ts.Config.Handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Body.String(), "MB") {
			t.Fatalf("%d-byte mail (chunked %v): %d %s", tooLarge, chunked, rec.Code, rec.Body.String())
		}
		if read := body.read.Load(); read > webhooks.MaxInboundBytes+64<<10 {
			t.Fatalf("%d-byte mail (chunked %v): %d bytes read before refusing it", tooLarge, chunked, read)
		}
	}

	w := newWidgetWorld(t)
	w.ts.srv.Config.MaxBodyBytes = 1 << 20
	v := w.visitor(t)
	v.boot("https://shop.example.com/")
	convID := v.start("Hello")
	big := strings.Repeat("x", 200<<10)
	if r := v.call(http.MethodPost, "/conversations/"+itoa(convID)+"/messages", map[string]string{"body": big}); r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("200 KiB widget message: %d %s", r.status, r.body)
	}
	for path, body := range map[string]string{
		"/webhooks/stripe":        `{"id":"evt_big","pad":"` + strings.Repeat("x", 512<<10) + `"}`,
		"/api/privacy-requests/x": `{"type":"access","email":"a@b.test","pad":"` + strings.Repeat("x", 200<<10) + `"}`,
	} {
		req, _ := http.NewRequest(http.MethodPost, w.ts.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close() // nothing written
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("%s with %d KiB: %d", path, len(body)>>10, resp.StatusCode)
		}
	}
}

// zeros is an endless body.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

// NUL bytes and invalid UTF-8 are refused with 400 wherever text comes in:
// dashboard forms, query strings, the widget's JSON, the privacy API.
func TestNULAndInvalidUTF8AreRefused(t *testing.T) {
	ts := newTestServer(t)
	iw := newInboxWorld(t, ts, "olivia@acme.test", "Acme")
	b := iw.owner
	b.get("/inbox/canned")
	for name, form := range map[string]url.Values{
		"NUL in a canned response":           {"shortcut": {"nul"}, "body": {"Thanks\x00!"}},
		"invalid UTF-8 in a canned response": {"shortcut": {"latin"}, "body": {"Gr\xfc\xdfe"}},
	} {
		if r := b.post("/inbox/canned", form); r.status != http.StatusBadRequest {
			t.Errorf("%s: %d %s", name, r.status, excerpt(r.body))
		}
	}
	if r := b.get("/inbox?q=%00"); r.status != http.StatusBadRequest {
		t.Errorf("NUL in a query string: %d", r.status)
	}
	var n int64
	ts.db.Model(&models.CannedResponse{}).Count(&n)
	if n != 0 {
		t.Fatalf("%d canned responses stored from bad text", n)
	}

	w := newWidgetWorld(t)
	v := w.visitor(t)
	v.boot("https://shop.example.com/")
	convID := v.start("Hello")
	path := "/conversations/" + itoa(convID) + "/messages"
	for name, raw := range map[string]string{
		"escaped NUL":    `{"body":"a\u0000b"}`,
		"invalid UTF-8":  "{\"body\":\"a\xff\xfeb\"}",
		"lone surrogate": `{"body":"a\ud800b"}`,
	} {
		if r := v.do(http.MethodPost, path, "application/json", strings.NewReader(raw)); r.status != http.StatusBadRequest {
			t.Errorf("widget message with %s: %d %s", name, r.status, r.body)
		}
	}
	if r := v.do(http.MethodPost, path, "application/json", strings.NewReader(`{"body":"a \\u0000 is fine written out"}`)); r.status != http.StatusCreated {
		t.Errorf("an escaped backslash before u0000: %d %s", r.status, r.body)
	}
	req, _ := http.NewRequest(http.MethodPost, w.ts.URL+"/api/privacy-requests/"+w.org.PublicKey, strings.NewReader(`{"type":"access","email":"ada\u0000@example.com"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close() // nothing written
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("privacy request with a NUL: %d", resp.StatusCode)
	}
}

// syncBuffer is a log sink the server's goroutines may write at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}
