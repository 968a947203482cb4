package tracing

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/proto"
)

// What a request or a workflow could carry, none of which may be in a span.
var personal = []string{"ana.lima@example.com", "ana.lima%40example.com", "s3cr3t-token", "203.0.113.77",
	"sess_Vb71Kq0Zp2Lm9Xw4Rt8Yu3Io", "Mozilla/5.0 (Ana's laptop)"}

// assertNoPersonalData fails when a span's name, attributes, events or
// resource carry one of the personal values.
func assertNoPersonalData(t *testing.T, spans []sdktrace.ReadOnlySpan) {
	t.Helper()
	for _, s := range spans {
		texts := []string{s.Name(), s.Status().Description}
		for _, kv := range s.Attributes() {
			texts = append(texts, string(kv.Key)+"="+kv.Value.String())
		}
		for _, e := range s.Events() {
			texts = append(texts, e.Name)
			for _, kv := range e.Attributes {
				texts = append(texts, string(kv.Key)+"="+kv.Value.String())
			}
		}
		for _, kv := range s.Resource().Attributes() {
			texts = append(texts, kv.Value.String())
		}
		joined := strings.Join(texts, " | ")
		for _, p := range personal {
			if strings.Contains(joined, p) {
				t.Errorf("span %q carries %q: %s", s.Name(), p, joined)
			}
		}
	}
}

func spanNamed(spans []sdktrace.ReadOnlySpan, name string) sdktrace.ReadOnlySpan {
	for _, s := range spans {
		if s.Name() == name {
			return s
		}
	}
	return nil
}

// TracedWorkflow runs TracedActivity with what it was given.
func TracedWorkflow(ctx workflow.Context, who string) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
	var out string
	err := workflow.ExecuteActivity(ctx, TracedActivity, who).Get(ctx, &out)
	return out, err
}

func TracedActivity(ctx context.Context, who string) (string, error) {
	activity.GetLogger(ctx).Debug("traced activity")
	return "done", nil
}

// With tracing on, a request becomes a span named by its route template,
// and a workflow and its activity become spans; none carries personal
// data (the URL, query, address, cookie, user agent, the workflow's
// input).
func TestRequestsWorkflowsAndActivitiesAreTraced(t *testing.T) {
	if Enabled() {
		t.Fatal("tracing is on before Install")
	}
	if got, err := TemporalInterceptors(); err != nil || got != nil {
		t.Fatalf("tracing off: interceptors %v, %v; want none", got, err)
	}
	req := httptest.NewRequest(http.MethodGet, "/contacts/ana.lima@example.com?token=s3cr3t-token", nil)
	if ctx, end := StartRequest(req, "/contacts/:email"); ctx != req.Context() {
		t.Fatal("tracing off: StartRequest changed the context")
	} else {
		end(200)
	}

	rec := tracetest.NewSpanRecorder()
	shutdown := Install(rec, "convot-test")
	t.Cleanup(func() { _ = shutdown(context.Background()) })

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, end := StartRequest(r, "/contacts/:email")
		defer end(http.StatusNotFound)
		w.WriteHeader(http.StatusNotFound)
	}))
	defer srv.Close()
	r, _ := http.NewRequest(http.MethodGet, srv.URL+"/contacts/ana.lima%40example.com?token=s3cr3t-token", nil)
	r.Header.Set("X-Forwarded-For", "203.0.113.77")
	r.Header.Set("User-Agent", "Mozilla/5.0 (Ana's laptop)")
	r.Header.Set("Cookie", "convot_session=sess_Vb71Kq0Zp2Lm9Xw4Rt8Yu3Io")
	r.Header.Set("Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()

	ints, err := TemporalInterceptors()
	if err != nil || len(ints) != 1 {
		t.Fatalf("tracing on: interceptors %v, %v", ints, err)
	}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{ints[0].(interceptor.Interceptor)}})
	env.RegisterWorkflow(TracedWorkflow)
	env.RegisterActivity(TracedActivity)
	env.ExecuteWorkflow(TracedWorkflow, "ana.lima@example.com")
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}

	spans := rec.Ended()
	httpSpan := spanNamed(spans, "GET /contacts/:email")
	if httpSpan == nil {
		t.Fatalf("no span for the request among %d", len(spans))
	}
	attrs := map[string]string{}
	for _, kv := range httpSpan.Attributes() {
		attrs[string(kv.Key)] = kv.Value.String()
	}
	want := map[string]string{"http.request.method": "GET", "http.route": "/contacts/:email", "http.response.status_code": "404"}
	if len(attrs) != len(want) {
		t.Errorf("request span attributes %v, want only %v", attrs, want)
	}
	for k, v := range want {
		if attrs[k] != v {
			t.Errorf("request span %s = %q, want %q", k, attrs[k], v)
		}
	}
	if got := httpSpan.Parent().TraceID().String(); got != "0af7651916cd43dd8448eb211c80319c" {
		t.Errorf("the caller's trace context was not continued: parent trace %s", got)
	}
	wf, act := spanNamed(spans, "RunWorkflow:TracedWorkflow"), spanNamed(spans, "RunActivity:TracedActivity")
	if wf == nil || act == nil {
		names := []string{}
		for _, s := range spans {
			names = append(names, s.Name())
		}
		t.Fatalf("no workflow or activity span among %v", names)
	}
	if act.SpanContext().TraceID() != wf.SpanContext().TraceID() {
		t.Error("the activity's span is not in its workflow's trace")
	}
	assertNoPersonalData(t, spans)
}

// Setup exports over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT: an
// in-process receiver decodes the export request and finds the span; with
// no endpoint, Setup turns nothing on.
func TestSetupExportsOverOTLP(t *testing.T) {
	stop, err := Setup(context.Background(), "", "convot-test")
	if err != nil || Enabled() {
		t.Fatalf("no endpoint: err %v, enabled %v", err, Enabled())
	}
	_ = stop(context.Background())

	var mu sync.Mutex
	var names []string
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req collectortrace.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		mu.Lock()
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					names = append(names, s.Name)
				}
			}
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		b, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
		_, _ = w.Write(b)
	}))
	defer receiver.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.URL)
	stop, err = Setup(context.Background(), receiver.URL, "convot-test")
	if err != nil {
		t.Fatal(err)
	}
	_, end := StartRequest(httptest.NewRequest(http.MethodPost, "/login", nil), "/login")
	end(http.StatusOK)
	if err := stop(context.Background()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(names) != 1 || names[0] != "POST /login" {
		t.Fatalf("the receiver got spans %v, want [POST /login]", names)
	}
}
