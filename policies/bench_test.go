package policies

import (
	"context"
	"slices"
	"testing"
	"time"
)

// benchGate: a gate over the embedded policy with a counting decision log.
func benchGate(b *testing.B, cached bool) *Gate {
	size := DefaultDecisionCacheSize
	if !cached {
		size = 0
	}
	g, err := NewGate(context.Background(), &countLog{}, WithDecisionCache(size))
	if err != nil {
		b.Fatal(err)
	}
	return g
}

var cacheModes = []struct {
	name   string
	cached bool
}{{"cached", true}, {"uncached", false}}

// BenchmarkAuthorize: one decision per op over the eight realistic flows
// (one per subprocessor), decision log included. "cached" is the gate as
// NewGate builds it (the flows repeat, as they do in production);
// "uncached" evaluates the policy every time.
func BenchmarkAuthorize(b *testing.B) {
	for _, mode := range cacheModes {
		b.Run(mode.name, func(b *testing.B) {
			g := benchGate(b, mode.cached)
			flows := realisticFlows()
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				d, err := g.Authorize(ctx, flows[i%len(flows)])
				if err != nil || !d.Allow {
					b.Fatalf("allow=%v err=%v", d.Allow, err)
				}
				i++
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
		})
	}
}

// BenchmarkAuthorizeDenied: flows the policy refuses, with several reasons.
func BenchmarkAuthorizeDenied(b *testing.B) {
	g := benchGate(b, false)
	flows := []Flow{
		with(summaryFlow(), func(f *Flow) { f.Subject.Restricted = true }),
		with(invoiceFlow(), func(f *Flow) { f.Categories = []string{"user.content.message"}; f.Subject = endUser() }),
		with(realtimeFlow(), func(f *Flow) { f.DestinationRegion = "us" }),
		{Subprocessor: "mailchimp", Purpose: "advertising", Categories: []string{"user.biometric"}},
	}
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if d, err := g.Authorize(ctx, flows[i%len(flows)]); err != nil || d.Allow {
			b.Fatalf("allow=%v err=%v", d.Allow, err)
		}
		i++
	}
}

// BenchmarkAuthorizeP99 times every call and reports the latency
// percentiles of Authorize (target: p99 ≤ 50µs, ≥ 20,000 decisions/s on one
// core: go test -bench AuthorizeP99 -cpu 1 ./policies).
func BenchmarkAuthorizeP99(b *testing.B) {
	for _, mode := range cacheModes {
		b.Run(mode.name, func(b *testing.B) {
			g := benchGate(b, mode.cached)
			flows := realisticFlows()
			ctx := context.Background()
			durations := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				d, err := g.Authorize(ctx, flows[i%len(flows)])
				durations = append(durations, time.Since(start))
				if err != nil || !d.Allow {
					b.Fatalf("allow=%v err=%v", d.Allow, err)
				}
			}
			b.StopTimer()
			slices.Sort(durations)
			pct := func(p float64) float64 {
				return float64(durations[int(float64(len(durations)-1)*p)].Nanoseconds())
			}
			b.ReportMetric(pct(0.50), "p50-ns")
			b.ReportMetric(pct(0.99), "p99-ns")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
		})
	}
}
