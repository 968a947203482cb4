// Package metrics holds Convot's Prometheus metrics: one registry, served
// only on the admin listener (CONVOT_ADMIN_ADDR), never on the public
// port. Labels are route templates, subprocessor names, statuses and
// results: never a raw path, an address or anything about a person.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Registry is the registry /metrics serves: Convot's series, the Go
// runtime's and the process's.
var Registry = prometheus.NewRegistry()

var (
	// HTTPRequests counts answered requests by method, route template
	// (e.g. /conversations/:id; "unmatched" when no route matched) and
	// status code.
	HTTPRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "convot_http_requests_total",
		Help: "HTTP requests answered, by method, route template and status code.",
	}, []string{"method", "route", "code"})
	// HTTPDuration is the time to answer a request, by method and route
	// template.
	HTTPDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "convot_http_request_duration_seconds",
		Help:    "Time to answer an HTTP request, by method and route template.",
		Buckets: prometheus.DefBuckets,
	}, []string{"method", "route"})
	// WebSockets is the number of open live sockets, by audience
	// (operator or visitor).
	WebSockets = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "convot_websocket_connections",
		Help: "Open WebSocket connections, by audience (operator, visitor).",
	}, []string{"audience"})
	// MessageDelivery is the end-to-end latency of a message: from its
	// creation (accepted from its author) to its write on a reader's socket.
	MessageDelivery = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "convot_message_delivery_seconds",
		Help:    "End-to-end latency of a message, from its creation to its write on a reader's socket, by audience.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"audience"})
	// GateDecisions counts the egress gate's decisions by subprocessor
	// and result (allow, deny, error).
	GateDecisions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "convot_gate_decisions_total",
		Help: "Egress gate decisions, by subprocessor and result (allow, deny, error).",
	}, []string{"subprocessor", "result"})
	// SecurityAlerts counts the unusual-activity alerts raised, by rule
	// (package alerts).
	SecurityAlerts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "convot_security_alerts_total",
		Help: "Unusual-activity security alerts raised, by rule.",
	}, []string{"rule"})
)

func init() {
	Registry.MustRegister(HTTPRequests, HTTPDuration, WebSockets, MessageDelivery, GateDecisions, SecurityAlerts,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}

// Handler serves the registry in the Prometheus exposition format.
func Handler() http.Handler {
	return promhttp.HandlerFor(Registry, promhttp.HandlerOpts{Registry: Registry})
}

// ObserveRequest records one answered request.
func ObserveRequest(method, route string, code int, took time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	HTTPRequests.WithLabelValues(method, route, statusText(code)).Inc()
	HTTPDuration.WithLabelValues(method, route).Observe(took.Seconds())
}

// GateDecision records one decision of the egress gate.
func GateDecision(subprocessor string, allow bool, err error) {
	result := "deny"
	switch {
	case err != nil:
		result = "error"
	case allow:
		result = "allow"
	}
	GateDecisions.WithLabelValues(subprocessor, result).Inc()
}

func statusText(code int) string {
	const digits = "0123456789"
	if code < 100 || code > 999 {
		return "other"
	}
	return string([]byte{digits[code/100], digits[code/10%10], digits[code%10]})
}
