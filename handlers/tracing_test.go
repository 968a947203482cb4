package handlers

import (
	"context"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/convot/convot/internal/tracing"
)

// With tracing on, the server makes each request a span named by its
// route template, with the method, route and status only: the raw path
// and its query are in neither the name nor the attributes.
func TestRequestsAreTracedByRouteTemplate(t *testing.T) {
	ts := newTestServer(t)
	rec := tracetest.NewSpanRecorder()
	shutdown := tracing.Install(rec, "convot-test")
	defer func() { _ = shutdown(context.Background()) }()
	b := ts.browser(t)
	const secret = "s3cr3t-token-42"
	b.get("/privacy-downloads/" + secret + "?code=" + secret)
	b.get("/login?email=ana.lima@example.com")
	found := map[string]bool{}
	for _, s := range rec.Ended() {
		text := s.Name()
		for _, kv := range s.Attributes() {
			text += " " + string(kv.Key) + "=" + kv.Value.String()
		}
		if strings.Contains(text, secret) || strings.Contains(text, "ana.lima") {
			t.Errorf("a span carries the request's path or query: %s", text)
		}
		found[s.Name()] = true
	}
	if !found["GET /privacy-downloads/:token"] || !found["GET /login"] {
		t.Fatalf("spans %v, want GET /privacy-downloads/:token and GET /login", found)
	}
}
