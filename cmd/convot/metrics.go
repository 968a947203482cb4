package main

import (
	"context"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"

	"github.com/convot/convot/internal/metrics"
	"github.com/convot/convot/store"
	"github.com/convot/convot/subprocessors"
)

// stateCollector reads, at each scrape, the state the metrics report from
// the database: open privacy requests by status and days left before
// their deadline, and the age of the newest completed backup.
type stateCollector struct {
	store *atomic.Pointer[store.Store]
	now   func() time.Time
}

var (
	privacyRequestsDesc = prometheus.NewDesc("convot_privacy_requests_open",
		"Open data-subject requests, by status and days left before the deadline (overdue, 0-7, 8-14, 15-30, 31+).",
		[]string{"status", "days_left"}, nil)
	backupAgeDesc = prometheus.NewDesc("convot_backup_age_seconds",
		"Seconds since the newest completed backup (absent when there is none).", nil, nil)
	stateUpDesc = prometheus.NewDesc("convot_metrics_state_up",
		"1 when the last scrape could read the database state, else 0.", nil, nil)
)

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- privacyRequestsDesc
	ch <- backupAgeDesc
	ch <- stateUpDesc
}

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st := c.store.Load()
	if st == nil {
		return
	}
	now := c.now()
	up := 1.0
	open, err := st.OpenPrivacyRequests(ctx)
	if err != nil {
		slog.Warn("metrics: open privacy requests", "err", err)
		up = 0
	}
	counts := map[[2]string]int{}
	for _, r := range open {
		counts[[2]string{r.Status, daysLeftBucket(r.Deadline.Sub(now))}]++
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(privacyRequestsDesc, prometheus.GaugeValue, float64(n), k[0], k[1])
	}
	backups, err := st.CompletedBackups(ctx)
	if err != nil {
		slog.Warn("metrics: backups", "err", err)
		up = 0
	}
	var newest time.Time
	for _, b := range backups {
		at := b.TakenAt
		if b.CompletedAt != nil {
			at = *b.CompletedAt
		}
		if at.After(newest) {
			newest = at
		}
	}
	if !newest.IsZero() {
		ch <- prometheus.MustNewConstMetric(backupAgeDesc, prometheus.GaugeValue, now.Sub(newest).Seconds())
	}
	ch <- prometheus.MustNewConstMetric(stateUpDesc, prometheus.GaugeValue, up)
}

// daysLeftBucket names the band of time left before a deadline.
func daysLeftBucket(left time.Duration) string {
	days := int(left.Hours() / 24)
	switch {
	case left < 0:
		return "overdue"
	case days <= 7:
		return "0-7"
	case days <= 14:
		return "8-14"
	case days <= 30:
		return "15-30"
	}
	return "31+"
}

// stateStore is the database the state metrics read: the app's, set by
// openApp (one app per process; tests open one after another).
var stateStore atomic.Pointer[store.Store]

func init() {
	metrics.Registry.MustRegister(stateCollector{store: &stateStore, now: time.Now},
		// Sentry events and transactions the egress gate denied (most often:
		// no organization known) or could not decide on, hence dropped.
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "convot_sentry_dropped_events_total",
			Help: "Sentry events and transactions dropped because the egress gate denied them or could not decide."},
			func() float64 { return float64(subprocessors.SentryDroppedEvents()) }))
}

// temporalMetrics is the Temporal SDK's metrics handler over the
// Prometheus registry: counters, gauges and timers (histograms in
// seconds) under the SDK's own names (temporal_...), with its tags as
// labels.
type temporalMetrics struct {
	reg  *temporalRegistry
	tags map[string]string
}

// temporalRegistry keeps one vector per metric name. Prometheus wants the
// same label names on every series of a name: a name's labels are the tag
// keys of its first use; later uses lack none (missing ones are empty)
// and extra tags are dropped.
type temporalRegistry struct {
	mu       sync.Mutex
	reg      prometheus.Registerer
	counters map[string]*prometheus.CounterVec
	gauges   map[string]*prometheus.GaugeVec
	timers   map[string]*prometheus.HistogramVec
	labels   map[string][]string
}

var sdkMetrics = newTemporalMetrics(metrics.Registry)

func newTemporalMetrics(reg prometheus.Registerer) client.MetricsHandler {
	return temporalMetrics{reg: &temporalRegistry{reg: reg, counters: map[string]*prometheus.CounterVec{},
		gauges: map[string]*prometheus.GaugeVec{}, timers: map[string]*prometheus.HistogramVec{}, labels: map[string][]string{}}}
}

func (h temporalMetrics) WithTags(tags map[string]string) client.MetricsHandler {
	merged := make(map[string]string, len(h.tags)+len(tags))
	for k, v := range h.tags {
		merged[k] = v
	}
	for k, v := range tags {
		merged[sanitizeLabel(k)] = v
	}
	return temporalMetrics{reg: h.reg, tags: merged}
}

func (h temporalMetrics) Counter(name string) client.MetricsCounter {
	r := h.reg
	r.mu.Lock()
	defer r.mu.Unlock()
	name = sanitizeLabel(name)
	v, ok := r.counters[name]
	if !ok {
		labels := h.labelNames(name)
		v = prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: "Temporal SDK counter " + name + "."}, labels)
		if !r.register(name, v) {
			return nopMetric{}
		}
		r.counters[name] = v
	}
	c := v.WithLabelValues(h.labelValues(name)...)
	return counterFunc(func(d int64) { c.Add(float64(d)) })
}

func (h temporalMetrics) Gauge(name string) client.MetricsGauge {
	r := h.reg
	r.mu.Lock()
	defer r.mu.Unlock()
	name = sanitizeLabel(name)
	v, ok := r.gauges[name]
	if !ok {
		v = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: "Temporal SDK gauge " + name + "."}, h.labelNames(name))
		if !r.register(name, v) {
			return nopMetric{}
		}
		r.gauges[name] = v
	}
	g := v.WithLabelValues(h.labelValues(name)...)
	return gaugeFunc(g.Set)
}

func (h temporalMetrics) Timer(name string) client.MetricsTimer {
	r := h.reg
	r.mu.Lock()
	defer r.mu.Unlock()
	name = sanitizeLabel(name)
	v, ok := r.timers[name]
	if !ok {
		v = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: "Temporal SDK timer " + name + " (seconds).",
			Buckets: prometheus.DefBuckets}, h.labelNames(name))
		if !r.register(name, v) {
			return nopMetric{}
		}
		r.timers[name] = v
	}
	o := v.WithLabelValues(h.labelValues(name)...)
	return timerFunc(func(d time.Duration) { o.Observe(d.Seconds()) })
}

// register adds a new vector; a name already taken (by another kind)
// gets none, and its uses are dropped rather than failing the SDK.
func (r *temporalRegistry) register(name string, c prometheus.Collector) bool {
	if err := r.reg.Register(c); err != nil {
		slog.Debug("temporal metric not exported", "name", name, "err", err)
		return false
	}
	return true
}

// labelNames fixes a name's labels at its first use (caller holds mu).
func (h temporalMetrics) labelNames(name string) []string {
	if l, ok := h.reg.labels[name]; ok {
		return l
	}
	l := make([]string, 0, len(h.tags))
	for k := range h.tags {
		l = append(l, k)
	}
	sort.Strings(l)
	h.reg.labels[name] = l
	return l
}

func (h temporalMetrics) labelValues(name string) []string {
	names := h.labelNames(name)
	vals := make([]string, len(names))
	for i, k := range names {
		vals[i] = h.tags[k]
	}
	return vals
}

// sanitizeLabel makes a name fit Prometheus's [a-zA-Z_][a-zA-Z0-9_]*.
func sanitizeLabel(s string) string {
	var b strings.Builder
	for i, r := range s {
		ok := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9')
		if ok {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

type nopMetric struct{}

func (nopMetric) Inc(int64)            {}
func (nopMetric) Update(float64)       {}
func (nopMetric) Record(time.Duration) {}

type (
	counterFunc func(int64)
	gaugeFunc   func(float64)
	timerFunc   func(time.Duration)
)

func (f counterFunc) Inc(d int64)          { f(d) }
func (f gaugeFunc) Update(v float64)       { f(v) }
func (f timerFunc) Record(d time.Duration) { f(d) }
