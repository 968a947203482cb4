package subprocessors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getsentry/sentry-go"
	"github.com/gin-gonic/gin"

	"github.com/convot/convot/policies"
)

// What a request of every surface carries, none of which may reach Sentry.
const (
	sentryTestEmail       = "ana.lima@example.com"
	sentryTestIP          = "203.0.113.77"
	sentryTestToken       = "tok_7Hq2xL9pV3mZ8wK4rT6yB1nC"
	sentryTestBody        = "my package never arrived and I am very upset about it"
	sentryTestCookieValue = "sess_Vb71Kq0Zp2Lm9Xw4Rt8Yu3Io"
	sentryTestAuthValue   = "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.c2lnbmF0dXJlMTIzNDU2Nzg5"
	sentryTestDSN         = "https://public@sentry.example.invalid/1"
)

// sentryTestSecrets are the values searched for in every event.
var sentryTestSecrets = map[string]string{
	"email":         sentryTestEmail,
	"IP address":    sentryTestIP,
	"token":         sentryTestToken,
	"message body":  sentryTestBody,
	"cookie value":  sentryTestCookieValue,
	"authorization": sentryTestAuthValue,
	"bearer token":  "c2lnbmF0dXJlMTIzNDU2Nzg5",
}

// sentryTestTransport is a sentry.Transport that keeps every event it is
// given instead of sending it.
type sentryTestTransport struct {
	mu     sync.Mutex
	events []*sentry.Event
}

func (t *sentryTestTransport) Configure(sentry.ClientOptions) {}

func (t *sentryTestTransport) SendEvent(ev *sentry.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.events = append(t.events, ev)
}

func (t *sentryTestTransport) Flush(time.Duration) bool { return true }

func (t *sentryTestTransport) FlushWithContext(context.Context) bool { return true }

func (t *sentryTestTransport) Close() {}

func (t *sentryTestTransport) captured() []*sentry.Event {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]*sentry.Event(nil), t.events...)
}

var _ sentry.Transport = (*sentryTestTransport)(nil)

// sentryTestInit initialises Sentry with the real gate and a capturing
// transport, and unbinds the client when the test ends. Tests that call it
// must not run in parallel: the Sentry client is process-wide.
func sentryTestInit(t *testing.T, gate Gate) *sentryTestTransport {
	t.Helper()
	tr := &sentryTestTransport{}
	if err := InitSentry(sentryTestDSN, gate, "test", 0, tr); err != nil {
		t.Fatalf("InitSentry: %v", err)
	}
	t.Cleanup(func() { sentry.CurrentHub().BindClient(nil) })
	return tr
}

var sentryTestOrg = policies.OrgContext{ID: 42, Region: "eu"}

// sentryTestEventJSON is the event as Sentry would receive it.
func sentryTestEventJSON(t *testing.T, ev *sentry.Event) string {
	t.Helper()
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatalf("marshal event: %v", err)
	}
	return string(b)
}

// sentryTestAssertClean fails if the event carries any of the secrets.
func sentryTestAssertClean(t *testing.T, what string, ev *sentry.Event) {
	t.Helper()
	js := sentryTestEventJSON(t, ev)
	for name, secret := range sentryTestSecrets {
		if strings.Contains(js, secret) {
			t.Errorf("%s: the event carries the %s %q:\n%s", what, name, secret, js)
		}
	}
	if strings.Contains(js, strings.ReplaceAll(sentryTestEmail, "@", "%40")) {
		t.Errorf("%s: the event carries the URL-encoded email:\n%s", what, js)
	}
}

// sentryTestRouter serves the surfaces of Convot that report to Sentry:
// the dashboard, the widget's JSON API, a webhook, and a route without
// organization (a login page).
func sentryTestRouter() *gin.Engine {
	gin.SetMode(gin.TestMode)
	r := gin.New()
	r.Use(SentryGin())
	// Stands for authentication (dashboard), the widget's organization
	// key and webhook resolution: the organization becomes known.
	withOrg := func(c *gin.Context) {
		SentrySetOrganization(c, sentryTestOrg)
		c.Next()
	}
	// A careless handler: it attaches the raw request (which buffers its
	// body), the user and a breadcrumb to the Sentry scope, then panics
	// with the contact's email and IP in the message.
	r.GET("/dashboard/contacts/:id", withOrg, func(c *gin.Context) {
		hub := sentry.GetHubFromContext(c.Request.Context())
		hub.Scope().SetRequest(c.Request)
		hub.Scope().SetUser(sentry.User{ID: "7", Email: sentryTestEmail, IPAddress: sentryTestIP, Username: "ana"})
		hub.Scope().SetTag("contact", sentryTestEmail)
		hub.AddBreadcrumb(&sentry.Breadcrumb{Category: "query", Message: "load contact " + sentryTestEmail,
			Data: map[string]any{"ip": sentryTestIP, "token": sentryTestToken}}, nil)
		panic(fmt.Sprintf("cannot render contact %s last seen from %s", sentryTestEmail, sentryTestIP))
	})
	// The widget's JSON API fails to store a message, with the message's
	// body and the visitor's email in the error.
	r.POST("/widget/api/conversations/:id/messages", withOrg, func(c *gin.Context) {
		sentry.GetHubFromContext(c.Request.Context()).Scope().SetRequest(c.Request)
		var in struct {
			Body  string `json:"body"`
			Email string `json:"email"`
		}
		if err := c.ShouldBindJSON(&in); err != nil {
			c.AbortWithStatus(http.StatusBadRequest)
			return
		}
		_ = c.Error(fmt.Errorf("store message %q from %s: %w", in.Body, in.Email, errors.New("database is locked")))
		c.JSON(http.StatusInternalServerError, gin.H{"error": "the message could not be stored"})
	})
	// An inbound-mail webhook fails with the sender and the text.
	r.POST("/webhooks/postmark/inbound", withOrg, func(c *gin.Context) {
		raw, _ := io.ReadAll(c.Request.Body)
		_ = c.Error(fmt.Errorf("inbound mail could not be threaded: %s", raw))
		c.Status(http.StatusBadGateway)
	})
	// No organization is ever known here.
	r.GET("/login", func(c *gin.Context) {
		panic("login page broke for " + sentryTestEmail)
	})
	return r
}

// sentryTestRequest adds everything a browser or a caller would send.
func sentryTestRequest(method, target, body string) *http.Request {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.RemoteAddr = sentryTestIP + ":51234"
	req.Header.Set("Cookie", "convot_session="+sentryTestCookieValue)
	req.Header.Set("Authorization", sentryTestAuthValue)
	req.Header.Set("X-Forwarded-For", sentryTestIP)
	req.Header.Set("X-CSRF-Token", sentryTestToken)
	req.Header.Set("User-Agent", "Mozilla/5.0 (test)")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

// Errors on every surface reach Sentry, and none carries an email, an IP
// address, a token, a message body, a cookie or an authorization header.
func TestSentrySurfacesScrubbed(t *testing.T) {
	gate, log := mustEgressGate(t)
	tr := sentryTestInit(t, gate)
	router := sentryTestRouter()

	type surface struct {
		name, route string
		req         *http.Request
		status      int
	}
	widgetBody, _ := json.Marshal(map[string]string{"body": sentryTestBody, "email": sentryTestEmail})
	webhookBody, _ := json.Marshal(map[string]string{"From": sentryTestEmail, "TextBody": sentryTestBody})
	surfaces := []surface{
		{"dashboard panic", "/dashboard/contacts/:id",
			sentryTestRequest(http.MethodGet, "/dashboard/contacts/"+sentryTestEmail+"?token="+sentryTestToken+"&tab=notes", ""),
			http.StatusInternalServerError},
		{"widget API error", "/widget/api/conversations/:id/messages",
			sentryTestRequest(http.MethodPost, "/widget/api/conversations/981/messages?visitor_token="+sentryTestToken, string(widgetBody)),
			http.StatusInternalServerError},
		{"webhook error", "/webhooks/postmark/inbound",
			sentryTestRequest(http.MethodPost, "/webhooks/postmark/inbound?token="+sentryTestToken, string(webhookBody)),
			http.StatusBadGateway},
	}
	for _, s := range surfaces {
		w := httptest.NewRecorder()
		router.ServeHTTP(w, s.req)
		if w.Code != s.status {
			t.Fatalf("%s: status %d, want %d", s.name, w.Code, s.status)
		}
	}
	workerCtx := SentryWithOrganization(context.Background(), sentryTestOrg)
	CaptureWorkerError(workerCtx, fmt.Errorf("send request confirmation to %s: 550 mailbox unavailable", sentryTestEmail), "DataSubjectRequestWorkflow")

	events := tr.captured()
	if len(events) != len(surfaces)+1 {
		t.Fatalf("captured %d events, want %d (one per surface)", len(events), len(surfaces)+1)
	}
	for i, s := range surfaces {
		ev := events[i]
		sentryTestAssertClean(t, s.name, ev)
		if got := ev.Tags["http.route"]; got != s.route {
			t.Errorf("%s: route tag %q, want the template %q", s.name, got, s.route)
		}
		if want := s.req.Method + " " + s.route; ev.Transaction != want {
			t.Errorf("%s: transaction %q, want %q", s.name, ev.Transaction, want)
		}
		if ev.Tags["surface"] != "http" || ev.Tags["http.status_code"] != fmt.Sprint(s.status) {
			t.Errorf("%s: tags %v", s.name, ev.Tags)
		}
	}
	// The panic is reported with its stack, its text withheld.
	if ev := events[0]; ev.Message != SentryScrubbed || len(ev.Threads) == 0 && len(ev.Exception) == 0 {
		t.Errorf("dashboard panic: message %q, %d threads", ev.Message, len(ev.Threads))
	}
	if ev := events[0]; !ev.User.IsEmpty() || len(ev.Breadcrumbs) != 1 || ev.Breadcrumbs[0].Category != "query" {
		t.Errorf("dashboard panic: user %+v, breadcrumbs %+v", ev.User, ev.Breadcrumbs)
	}
	// The widget's error keeps its type, not its text.
	if ev := events[1]; len(ev.Exception) == 0 || ev.Exception[len(ev.Exception)-1].Type == "" {
		t.Errorf("widget API error: exceptions %+v", ev.Exception)
	}
	worker := events[len(events)-1]
	sentryTestAssertClean(t, "worker error", worker)
	if worker.Tags["surface"] != "worker" || worker.Tags["temporal.workflow_type"] != "DataSubjectRequestWorkflow" {
		t.Errorf("worker error: tags %v", worker.Tags)
	}
	if len(worker.Exception) == 0 {
		t.Error("worker error: no exception")
	}

	// Every event was decided on by the gate, and recorded.
	sentryDecisions := func() (allowed, denied []policies.DecisionRecord) {
		for _, r := range log.Records() {
			switch {
			case r.Subprocessor != sentrySubprocessor:
			case r.Allow:
				allowed = append(allowed, r)
			default:
				denied = append(denied, r)
			}
		}
		return allowed, denied
	}
	allowed, denied := sentryDecisions()
	if len(allowed) != len(events) || len(denied) != 0 {
		t.Errorf("%d allowed and %d denied sentry decisions for %d events", len(allowed), len(denied), len(events))
	}
	for _, r := range allowed {
		if r.OrganizationID != sentryTestOrg.ID || r.Purpose != sentryPurpose || len(r.Drop) == 0 {
			t.Errorf("decision: %+v", r)
		}
	}

	// Without an organization the gate denies the flow: the event is dropped.
	dropped := SentryDroppedEvents()
	w := httptest.NewRecorder()
	router.ServeHTTP(w, sentryTestRequest(http.MethodGet, "/login", ""))
	if w.Code != http.StatusInternalServerError {
		t.Fatalf("login panic: status %d", w.Code)
	}
	CaptureWorkerError(context.Background(), errors.New("no organization here"), "BackupWorkflow")
	if n := len(tr.captured()); n != len(events) {
		t.Errorf("events without an organization were sent: %d events", n-len(events))
	}
	if got := SentryDroppedEvents() - dropped; got != 2 {
		t.Errorf("dropped %d events, want 2", got)
	}
	if _, denied := sentryDecisions(); len(denied) != 2 || !strings.Contains(denied[0].Reason, "organization missing") {
		t.Errorf("denials: %+v", denied)
	}
}
