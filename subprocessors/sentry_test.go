package subprocessors

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/getsentry/sentry-go"
	"github.com/gin-gonic/gin"

	"github.com/convot/convot/policies"
)

func TestSentryScrubText(t *testing.T) {
	cases := []struct{ in, want string }{
		{"mail ana.lima@example.com now", "mail [scrubbed] now"},
		{"/contacts/ana.lima%40example.co.uk/notes", "/contacts/[scrubbed]/notes"},
		{"from 203.0.113.77:443", "from [scrubbed]:443"},
		{"client 2001:db8::1 and ::1", "client [scrubbed] and [scrubbed]"},
		{"link-local fe80::1%eth0 up", "link-local [scrubbed] up"},
		{"mapped ::ffff:192.0.2.1", "mapped [scrubbed]"},
		{"Authorization: Bearer abc.def-ghi_jkl", "Authorization: Bearer [scrubbed]"},
		{"basic dXNlcjpwYXNzd29yZA==", "basic [scrubbed]"},
		{"GET /x?access_token=s3cr3t&page=2", "GET /x?access_token=[scrubbed]&page=2"},
		{"key tok_7Hq2xL9pV3mZ8wK4rT6yB1nC used", "key [scrubbed] used"},
		{"uuid 123e4567-e89b-12d3-a456-426614174000", "uuid [scrubbed]"},
		// Left alone: code, identifiers, times, versions.
		{"std::vector at 12:30:45", "std::vector at 12:30:45"},
		{"DataSubjectRequestWorkflow in sentry_surfaces_test.go", "DataSubjectRequestWorkflow in sentry_surfaces_test.go"},
		{"token expired", "token expired"},
		{"gin@v1.12.0", "gin@v1.12.0"},
		{"HTTP 500", "HTTP 500"},
	}
	for _, c := range cases {
		if got := sentryScrubText(c.in); got != c.want {
			t.Errorf("sentryScrubText(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// sentryTestFullEvent holds personal data in every place an event has.
func sentryTestFullEvent() *sentry.Event {
	frames := []sentry.Frame{{Function: "handlers.renderContact", Module: "github.com/convot/convot/handlers", Lineno: 12,
		ContextLine: `panic("contact ` + sentryTestEmail + `")`, PreContext: []string{"// " + sentryTestIP},
		Vars: map[string]any{"email": sentryTestEmail}}}
	return &sentry.Event{
		Message: "cannot render " + sentryTestBody,
		Exception: []sentry.Exception{{Type: "*errors.errorString", Value: "store " + sentryTestBody + " for " + sentryTestEmail,
			Stacktrace: &sentry.Stacktrace{Frames: frames},
			Mechanism:  &sentry.Mechanism{Type: "generic", Data: map[string]any{"peer": sentryTestIP}}}},
		Threads:     []sentry.Thread{{Stacktrace: &sentry.Stacktrace{Frames: frames}}},
		Breadcrumbs: []*sentry.Breadcrumb{{Category: "http", Message: "GET /c/" + sentryTestEmail, Data: map[string]any{"url": "/?token=" + sentryTestToken}}},
		Request: &sentry.Request{
			URL:         "https://user:pw@app.convot.io/contacts/" + sentryTestEmail + "?token=" + sentryTestToken,
			Method:      "POST",
			QueryString: "token=" + sentryTestToken,
			Cookies:     "convot_session=" + sentryTestCookieValue,
			Data:        `{"body":"` + sentryTestBody + `"}`,
			Headers: map[string]string{
				"Authorization": sentryTestAuthValue, "Cookie": "convot_session=" + sentryTestCookieValue,
				"Set-Cookie": "convot_session=" + sentryTestCookieValue, "X-Csrf-Token": sentryTestToken,
				"X-Forwarded-For": sentryTestIP, "User-Agent": "Mozilla/5.0", "Content-Type": "application/json",
				"X-Custom": sentryTestBody,
			},
			Env: map[string]string{"REMOTE_ADDR": sentryTestIP, "REMOTE_PORT": "51234"},
		},
		User: sentry.User{ID: "7", Email: sentryTestEmail, IPAddress: sentryTestIP, Username: "ana", Name: "Ana Lima",
			Data: map[string]string{"plan": "pro"}},
		Tags: map[string]string{"route": "/contacts/:id", "contact": sentryTestEmail, "session_token": "abc"},
		Contexts: map[string]sentry.Context{
			sentryContextKey: {"organization_id": uint64(42), "organization_region": "eu"},
			"trace":          {"trace_id": sentry.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}},
			"extra": {"note": "call " + sentryTestIP, "count": 3,
				"nested":  map[string]any{"header": sentryTestAuthValue, "list": []any{sentryTestEmail}},
				"api_key": "whatever"},
		},
		Transaction: "POST /contacts/:id",
		Fingerprint: []string{"{{ default }}", sentryTestEmail},
		Attachments: []*sentry.Attachment{{Filename: "body.txt", Payload: []byte(sentryTestBody)}},
	}
}

// BeforeSend applies the gate's decision, strips what must never leave and
// scrubs the rest by pattern.
func TestSentryBeforeSendScrubsEverything(t *testing.T) {
	gate, log := mustEgressGate(t)
	s := &sentryScrubber{gate: gate}
	ev := s.beforeSend(sentryTestFullEvent(), &sentry.EventHint{})
	if ev == nil {
		t.Fatal("the event was dropped")
	}
	sentryTestAssertClean(t, "full event", ev)
	js := sentryTestEventJSON(t, ev)
	for _, gone := range []string{"Ana Lima", "pw@", "51234", "plan", "body.txt", "Mozilla", "context_line", "pre_context", `"vars"`} {
		if strings.Contains(js, gone) {
			t.Errorf("the event still carries %q:\n%s", gone, js)
		}
	}
	if ev.Message != SentryScrubbed || ev.Exception[0].Value != SentryScrubbed {
		t.Errorf("free text not withheld: message %q, exception %q", ev.Message, ev.Exception[0].Value)
	}
	if !ev.User.IsEmpty() || len(ev.Attachments) != 0 {
		t.Errorf("user %+v, %d attachments", ev.User, len(ev.Attachments))
	}
	r := ev.Request
	if r.Cookies != "" || r.QueryString != "" || r.Data != "" || r.URL != "" || r.Env != nil {
		t.Errorf("request not stripped: %+v", r)
	}
	if len(r.Headers) != 1 || r.Headers["Content-Type"] != "application/json" || r.Method != "POST" {
		t.Errorf("request headers %v, method %q: want only Content-Type and the method", r.Headers, r.Method)
	}
	// What is system data stays.
	if ev.Exception[0].Type != "*errors.errorString" || ev.Exception[0].Stacktrace.Frames[0].Function != "handlers.renderContact" {
		t.Errorf("exception type or frames lost: %+v", ev.Exception[0])
	}
	if ev.Tags["route"] != "/contacts/:id" || ev.Tags["contact"] != SentryScrubbed || ev.Tags["session_token"] != SentryScrubbed {
		t.Errorf("tags %v", ev.Tags)
	}
	if ev.Transaction != "POST /contacts/:id" || ev.Contexts[sentryContextKey]["organization_id"] != uint64(42) {
		t.Errorf("transaction %q, contexts %v", ev.Transaction, ev.Contexts)
	}
	if _, ok := ev.Contexts["trace"]["trace_id"].(sentry.TraceID); !ok {
		t.Errorf("trace context lost: %v", ev.Contexts["trace"])
	}
	if ev.Contexts["extra"]["count"] != 3 || ev.Contexts["extra"]["api_key"] != SentryScrubbed {
		t.Errorf("extra context %v", ev.Contexts["extra"])
	}

	recs := log.Records()
	if len(recs) != 1 {
		t.Fatalf("%d decisions", len(recs))
	}
	d := recs[0]
	if !d.Allow || d.Subprocessor != sentrySubprocessor || d.Purpose != sentryPurpose || d.OrganizationID != 42 {
		t.Fatalf("decision %+v", d)
	}
	for _, c := range []string{sentryCatContent, sentryCatEmail, sentryCatIP, sentryCatCredentials, sentryCatBrowsing, sentryCatAccount, sentryCatName} {
		if !strings.Contains(strings.Join(d.Drop, " "), c) {
			t.Errorf("decision does not drop %s: %v", c, d.Drop)
		}
	}
}

// A denied event, or one the gate could not decide on, is dropped. A gate
// that allowed personal data would still not get the stripped parts out.
func TestSentryBeforeSendFollowsGate(t *testing.T) {
	for name, g := range map[string]stubDecisionGate{
		"denied":       {d: policies.Decision{Reason: "no"}},
		"gate failure": {d: policies.Decision{Allow: true}, err: errors.New("decision log down")},
	} {
		before := SentryDroppedEvents()
		if ev := (&sentryScrubber{gate: g}).beforeSend(sentryTestFullEvent(), nil); ev != nil {
			t.Errorf("%s: the event was sent", name)
		}
		if SentryDroppedEvents() != before+1 {
			t.Errorf("%s: the drop was not counted", name)
		}
	}

	// A (wrong) gate that lets everything through: the unconditional strip
	// and the patterns still hold.
	all := stubDecisionGate{d: policies.Decision{Allow: true, Categories: []string{"user", "system"}}}
	ev := (&sentryScrubber{gate: all}).beforeSend(sentryTestFullEvent(), nil)
	if ev == nil {
		t.Fatal("dropped")
	}
	js := sentryTestEventJSON(t, ev)
	for name, secret := range sentryTestSecrets {
		if name == "message body" {
			continue // free text is the gate's to withhold; no pattern finds prose
		}
		if strings.Contains(js, secret) {
			t.Errorf("with everything allowed, the event carries the %s:\n%s", name, js)
		}
	}
}

func TestInitSentry(t *testing.T) {
	sentry.CurrentHub().BindClient(nil)
	if err := InitSentry("", nil, "test", 0, nil); err != nil {
		t.Fatalf("empty DSN: %v", err)
	}
	if sentry.CurrentHub().Client() != nil {
		t.Fatal("an empty DSN initialised Sentry")
	}
	if err := InitSentry(sentryTestDSN, nil, "test", 0, &sentryTestTransport{}); err == nil {
		t.Fatal("InitSentry without a gate succeeded")
	}
	if sentry.CurrentHub().Client() != nil {
		t.Fatal("Sentry was initialised without a gate")
	}

	// Without Sentry the middleware still recovers panics.
	gin.SetMode(gin.TestMode)
	r := gin.New()
	r.Use(SentryGin())
	r.GET("/boom", func(*gin.Context) { panic("boom") })
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/boom", nil))
	if w.Code != http.StatusInternalServerError {
		t.Errorf("status %d", w.Code)
	}
	CaptureWorkerError(context.Background(), errors.New("x"), "W") // no client: nothing happens
}
