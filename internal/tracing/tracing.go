// Package tracing is Convot's OpenTelemetry tracing: HTTP requests (named
// by route template), Temporal workflows and activities (Temporal's
// tracing interceptor on the client, hence on its workers too), exported
// over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT. Without that setting
// nothing is set up: the global tracer provider stays OpenTelemetry's
// no-op, the HTTP middleware starts non-recording spans, and Temporal gets
// no interceptor.
//
// Attributes hold no personal data: a request's span carries its method,
// route template and status code, never its URL, query string, client
// address, user agent or headers; workflow and activity spans carry
// Temporal's workflow, run and activity IDs (identifiers by invariant 3).
// Baggage is not propagated.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
)

// Name is the instrumentation scope of Convot's spans.
const Name = "github.com/convot/convot"

// enabled is set once a tracer provider is installed.
var enabled atomic.Bool

// Enabled reports whether traces are exported (Setup or Install ran).
func Enabled() bool { return enabled.Load() }

// Setup exports traces over OTLP/HTTP when endpoint (the value of
// OTEL_EXPORTER_OTLP_ENDPOINT) is set; the exporter reads that variable and
// the other OTEL_EXPORTER_OTLP_* itself. service names the process
// (convot-serve, convot-worker). The returned function flushes and stops
// the exporter; with no endpoint it does nothing.
func Setup(ctx context.Context, endpoint, service string) (func(context.Context) error, error) {
	if endpoint == "" {
		return func(context.Context) error { return nil }, nil
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT: %w", err)
	}
	return Install(sdktrace.NewBatchSpanProcessor(exp), service), nil
}

// Install makes a tracer provider with the span processor the global one
// (Setup's exporter, or a test's recorder) and returns its shutdown.
func Install(sp sdktrace.SpanProcessor, service string) func(context.Context) error {
	res := resource.NewSchemaless(attribute.String("service.name", service))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	// W3C trace context only: baggage from a caller could carry anything.
	otel.SetTextMapPropagator(propagation.TraceContext{})
	enabled.Store(true)
	return func(ctx context.Context) error {
		enabled.Store(false)
		return tp.Shutdown(ctx)
	}
}

// Tracer is Convot's tracer on the global provider (a no-op without Setup).
func Tracer() trace.Tracer { return otel.Tracer(Name) }

// TemporalInterceptors are the client interceptors that trace workflows
// and activities (and, on a worker made from the client, their
// executions): none when tracing is off.
func TemporalInterceptors() ([]interceptor.ClientInterceptor, error) {
	if !Enabled() {
		return nil, nil
	}
	i, err := temporalotel.NewTracingInterceptor(temporalotel.TracerOptions{
		Tracer:            Tracer(),
		DisableBaggage:    true,
		TextMapPropagator: propagation.TraceContext{},
	})
	if err != nil {
		return nil, errors.Join(errors.New("temporal tracing"), err)
	}
	return []interceptor.ClientInterceptor{i}, nil
}

// HTTP span attributes (OpenTelemetry's semantic conventions): the only
// ones a request's span carries.
const (
	AttrMethod = attribute.Key("http.request.method")
	AttrRoute  = attribute.Key("http.route")
	AttrStatus = attribute.Key("http.response.status_code")
)

// StartRequest starts the span of an HTTP request matched to route (its
// template, "" when none matched), continuing a W3C trace context the
// caller sent. The returned context carries the span; end records the
// status code and ends it. With tracing off it returns r's context and a
// no-op: nothing is allocated.
func StartRequest(r *http.Request, route string) (context.Context, func(status int)) {
	if !Enabled() {
		return r.Context(), func(int) {}
	}
	if route == "" {
		route = "unmatched"
	}
	ctx := otel.GetTextMapPropagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	ctx, span := Tracer().Start(ctx, r.Method+" "+route, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(AttrMethod.String(r.Method), AttrRoute.String(route)))
	return ctx, func(status int) {
		span.SetAttributes(AttrStatus.Int(status))
		if status >= http.StatusInternalServerError {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
		span.End()
	}
}
