package subprocessors

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/convot/convot/policies"
)

// mustEgressGate is the real egress gate over an in-memory decision log.
func mustEgressGate(t *testing.T) (*policies.Gate, *policies.MemoryLog) {
	t.Helper()
	log := policies.NewMemoryLog()
	g, err := policies.NewGate(context.Background(), log)
	if err != nil {
		t.Fatalf("NewGate: %v", err)
	}
	return g, log
}

// upstreamRecorder wraps a fake upstream's handler and keeps every request
// it received, body included.
type upstreamRecorder struct {
	mu       sync.Mutex
	requests []recordedRequest
	next     http.Handler
}

type recordedRequest struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   string
}

func (u *upstreamRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body strings.Builder
	if r.Body != nil {
		buf := make([]byte, 32<<10)
		for {
			n, err := r.Body.Read(buf)
			body.Write(buf[:n])
			if err != nil {
				break
			}
		}
	}
	u.mu.Lock()
	u.requests = append(u.requests, recordedRequest{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: body.String()})
	u.mu.Unlock()
	r.Body = readCloserOf(body.String())
	u.next.ServeHTTP(w, r)
}

func (u *upstreamRecorder) Requests() []recordedRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]recordedRequest(nil), u.requests...)
}

// newRecordedUpstream serves next behind a recorder.
func newRecordedUpstream(t *testing.T, next http.Handler) (*httptest.Server, *upstreamRecorder) {
	t.Helper()
	rec := &upstreamRecorder{next: next}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	return srv, rec
}

type stringReadCloser struct{ *strings.Reader }

func (stringReadCloser) Close() error { return nil }

func readCloserOf(s string) stringReadCloser { return stringReadCloser{strings.NewReader(s)} }

// requireDeniedWithReason checks err is a denial with the gate's reason.
func requireDeniedWithReason(t *testing.T, err error, reasonPart string) {
	t.Helper()
	if err == nil {
		t.Fatal("want a denial, got no error")
	}
	if !errors.Is(err, ErrDenied) {
		t.Fatalf("error does not wrap ErrDenied: %v", err)
	}
	msg := strings.TrimSpace(strings.TrimPrefix(err.Error(), ErrDenied.Error()))
	if msg == "" || !strings.Contains(err.Error(), reasonPart) {
		t.Fatalf("denial %q does not carry the reason %q", err, reasonPart)
	}
}

// onlyRequest returns the one request an upstream fake got, failing the
// test when it got another number.
func onlyRequest[R any](t *testing.T, reqs []R) R {
	t.Helper()
	if len(reqs) != 1 {
		t.Fatalf("upstream got %d requests, want 1", len(reqs))
	}
	return reqs[0]
}

// stubDecisionGate answers every flow the same way.
type stubDecisionGate struct {
	d   policies.Decision
	err error
}

func (g stubDecisionGate) Authorize(context.Context, policies.Flow) (policies.Decision, error) {
	return g.d, g.err
}

func TestAuthorize(t *testing.T) {
	ctx := context.Background()
	flow := policies.Flow{Subprocessor: "postmark", Purpose: "essential.service"}

	d, err := authorize(ctx, stubDecisionGate{d: policies.Decision{Allow: true, Reason: "ok"}}, flow)
	if err != nil || !d.Allow {
		t.Fatalf("allowed: %v %+v", err, d)
	}

	_, err = authorize(ctx, stubDecisionGate{d: policies.Decision{Reason: "postmark may not receive user.payment"}}, flow)
	requireDeniedWithReason(t, err, "postmark may not receive user.payment")

	gateErr := errors.New("decision log down")
	_, err = authorize(ctx, stubDecisionGate{d: policies.Decision{Reason: "egress gate failed closed"}, err: gateErr}, flow)
	requireDeniedWithReason(t, err, "egress gate failed closed")
	if !errors.Is(err, gateErr) {
		t.Fatalf("the gate's error is not wrapped: %v", err)
	}

	// A gate error with Allow=true (it never says so, but) is still a denial.
	_, err = authorize(ctx, stubDecisionGate{d: policies.Decision{Allow: true}, err: gateErr}, flow)
	requireDeniedWithReason(t, err, "decision log down")

	_, err = authorize(ctx, nil, flow)
	requireDeniedWithReason(t, err, "no egress gate")

	// The real gate: an unknown subprocessor is denied with its reason.
	g, log := mustEgressGate(t)
	_, err = authorize(ctx, g, policies.Flow{Subprocessor: "acme", Purpose: "essential.service", Categories: []string{"system.operations"}})
	requireDeniedWithReason(t, err, "unknown subprocessor acme")
	if n := len(log.Records()); n != 1 {
		t.Fatalf("decision log holds %d records, want 1", n)
	}
}
