package policies

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
)

// benchGate: a gate over the embedded policy with a counting decision log.
func benchGate(b *testing.B, cached bool) *Gate {
	return benchGateOf(b, cached, policyModules())
}

// benchGateOf: the same over other policy modules (the previous policy).
func benchGateOf(b *testing.B, cached bool, modules map[string]string) *Gate {
	size := DefaultDecisionCacheSize
	if !cached {
		size = 0
	}
	g, err := newGate(context.Background(), &countLog{}, gateConfig{query: DecisionQuery, modules: modules, registry: RegistryDocument(), cacheSize: size})
	if err != nil {
		b.Fatal(err)
	}
	return g
}

// cacheModes: the gate as NewGate builds it, without its cache, and
// without its cache over the previous policy (testdata, before issue 16),
// so that one run compares them in the same minutes.
var cacheModes = []benchMode{{"cached", true, false}, {"uncached", false, false}, {"uncached-previous-policy", false, true}}

type benchMode struct {
	name     string
	cached   bool
	previous bool
}

func (m benchMode) gate(b *testing.B) *Gate {
	if m.previous {
		return benchGateOf(b, m.cached, previousPolicy(b))
	}
	return benchGate(b, m.cached)
}

// BenchmarkAuthorize: one decision per op over the eight realistic flows
// (one per subprocessor), decision log included. "cached" is the gate as
// NewGate builds it (the flows repeat, as they do in production);
// "uncached" evaluates the policy every time.
func BenchmarkAuthorize(b *testing.B) {
	for _, mode := range cacheModes {
		b.Run(mode.name, func(b *testing.B) {
			g := mode.gate(b)
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

// BenchmarkAuthorizeDenied: flows the policy refuses, with several reasons,
// uncached: decided by the deny rules (no clean flow among them), by this
// policy and by the previous one.
func BenchmarkAuthorizeDenied(b *testing.B) {
	for _, mode := range cacheModes[1:] {
		b.Run(mode.name, func(b *testing.B) {
			g := mode.gate(b)
			flows := []Flow{
				with(summaryFlow(), func(f *Flow) { f.Subject.Restricted = true }),
				with(invoiceFlow(), func(f *Flow) { f.Categories = []string{"user.content.message"}; f.Subject = endUser() }),
				with(realtimeFlow(), func(f *Flow) { f.DestinationRegion = "us" }),
				{Subprocessor: "mailchimp", Purpose: "advertising", Categories: []string{"user.biometric"}},
			}
			ctx := context.Background()
			b.ReportAllocs()
			timeDecisions(b, func(i int) {
				if d, err := g.Authorize(ctx, flows[i%len(flows)]); err != nil || d.Allow {
					b.Fatalf("allow=%v err=%v", d.Allow, err)
				}
			})
		})
	}
}

// BenchmarkAuthorizeP99 times every call and reports the latency
// percentiles of Authorize and the CPU time a decision takes (the process's
// user and system time over the run, over b.N: on a shared machine the wall
// time also holds the waits for a core). Target (issue 16), uncached: p99 ≤
// 100µs, ≥ 10,000 decisions/s on one core:
// go test -p 1 -run x -bench AuthorizeP99 -cpu 1 ./policies
func BenchmarkAuthorizeP99(b *testing.B) {
	for _, mode := range cacheModes {
		b.Run(mode.name, func(b *testing.B) {
			g := mode.gate(b)
			flows := realisticFlows()
			ctx := context.Background()
			b.ReportAllocs()
			timeDecisions(b, func(i int) {
				d, err := g.Authorize(ctx, flows[i%len(flows)])
				if err != nil || !d.Allow {
					b.Fatalf("allow=%v err=%v", d.Allow, err)
				}
			})
		})
	}
}

// BenchmarkBareRegoP99: the same flows through the same policy without the
// gate (no decision log, no parsing of the result), for the Authorize /
// bare rego ratio of issue 16. "prepared-query" is a rego prepared query of
// the policy the gate compiles (its index evaluated once), through
// rego.Eval's defaults; "topdown" is the gate's own compiled query
// (compiledPolicy.eval), the evaluation Authorize wraps.
func BenchmarkBareRegoP99(b *testing.B) {
	ctx := context.Background()
	inputs := make([]ast.Value, 0, 9)
	for _, f := range realisticFlows() {
		inputs = append(inputs, f.input())
	}
	pq := gatePreparedQuery(b)
	policy, err := compilePolicy(ctx, gateConfig{query: DecisionQuery, modules: policyModules(), registry: RegistryDocument()})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("prepared-query", func(b *testing.B) {
		b.ReportAllocs()
		timeDecisions(b, func(i int) {
			rs, err := pq.Eval(ctx, rego.EvalParsedInput(inputs[i%len(inputs)]))
			if err != nil || len(rs) != 1 {
				b.Fatalf("%v %v", rs, err)
			}
		})
	})
	b.Run("topdown", func(b *testing.B) {
		b.ReportAllocs()
		timeDecisions(b, func(i int) {
			results, err := policy.eval(ctx, inputs[i%len(inputs)])
			if err != nil || len(results) != 1 {
				b.Fatalf("%v %v", results, err)
			}
		})
	})
}

// gatePreparedQuery is the decision query of the embedded policy prepared
// by rego, over the same modules as the gate's (the registry's index
// evaluated once).
func gatePreparedQuery(b *testing.B) rego.PreparedEvalQuery {
	ctx := context.Background()
	var data map[string]any
	if err := json.Unmarshal(RegistryDocument(), &data); err != nil {
		b.Fatal(err)
	}
	store := inmem.NewFromObjectWithOpts(data, inmem.OptReturnASTValuesOnRead(true))
	opts := []func(*rego.Rego){rego.Query(DecisionQuery), rego.Store(store), rego.StrictBuiltinErrors(true)}
	modules, err := parseModules(policyModules())
	if err != nil {
		b.Fatal(err)
	}
	index, err := evalIndex(ctx, modules, store)
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range slices.Sorted(maps.Keys(modules)) {
		opts = append(opts, rego.ParsedModule(withIndexValue(modules[name], index)))
	}
	pq, err := rego.New(opts...).PrepareForEval(ctx)
	if err != nil {
		b.Fatal(err)
	}
	return pq
}

// timeDecisions runs decide b.N times, timing each call, and reports p50,
// p99, decisions/s, CPU time per decision and decisions per CPU second.
func timeDecisions(b *testing.B, decide func(i int)) {
	durations := make([]time.Duration, 0, b.N)
	var before, after syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		decide(i)
		durations = append(durations, time.Since(start))
	}
	b.StopTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano()
	slices.Sort(durations)
	pct := func(p float64) float64 {
		return float64(durations[int(float64(len(durations)-1)*p)].Nanoseconds())
	}
	b.ReportMetric(pct(0.50), "p50-ns")
	b.ReportMetric(pct(0.99), "p99-ns")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
	b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
	// decisions per second of CPU time: the rate one core sustains (target
	// ≥ 10,000), however many other processes share the machine
	b.ReportMetric(float64(b.N)/(float64(cpu)/1e9), "decisions/cpu-s")
}
