package policies

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
)

// corpus is a wide set of flows: every subprocessor with every purpose and
// several category sets, subjects and organizations.
func corpus() []Flow {
	reg, err := LoadRegistry()
	if err != nil {
		panic(err)
	}
	purposes := make([]string, 0, len(reg.Purposes))
	for p := range reg.Purposes {
		purposes = append(purposes, p)
	}
	categorySets := [][]string{
		{"user.content.message", "user.contact.email"},
		{"system.operations"},
		{"user.contact.email", "user.device.ip_address", "system.operations"},
		{"user.name", "user.financial", "user.unique_id"},
		nil,
	}
	subjects := []SubjectContext{
		endUser(), customer(), {Kind: "none"},
		{Kind: "end_user", Restricted: true},
		{Kind: "customer", Objections: []string{"automated_decisions", "legitimate_interests"}, Consents: []string{"marketing_email"}},
		{Kind: "end_user", Country: "DE"}, {Kind: "end_user", Country: "US"}, {Kind: "customer", Country: "GB"}, {Kind: "end_user", Country: "xx1"},
	}
	orgs := []OrgContext{euOrg(), usOrg(), {}, {ID: 44, Region: "uk"}, {ID: 45, Region: "ch"}}
	var flows []Flow
	for _, sp := range append(reg.SubprocessorNames(), "unknown") {
		for _, p := range purposes {
			for _, cs := range categorySets {
				for i, s := range subjects {
					o := orgs[i%len(orgs)]
					flows = append(flows, Flow{Subprocessor: sp, Purpose: p, Categories: cs, Subject: s, Organization: o, DestinationRegion: []string{"", "eu", "us", "uk", "ch"}[len(flows)%5]})
				}
			}
		}
	}
	return append(flows, realisticFlows()...)
}

// A remembered decision is the decision the policy takes.
func TestDecisionCacheAgreesWithPolicy(t *testing.T) {
	ctx := context.Background()
	cached, err := NewGate(ctx, NewMemoryLog())
	if err != nil {
		t.Fatal(err)
	}
	plain, err := NewGate(ctx, NewMemoryLog(), WithDecisionCache(0))
	if err != nil {
		t.Fatal(err)
	}
	flows := corpus()
	allowed := 0
	for _, f := range flows {
		want, err := plain.Authorize(ctx, f)
		if err != nil {
			t.Fatalf("%+v: %v", f, err)
		}
		if want.Reason == "" {
			t.Fatalf("%+v: no reason", f)
		}
		for range 2 { // miss, then hit
			got, err := cached.Authorize(ctx, f)
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("cached gate: %+v (%v), policy: %+v", got, err, want)
			}
		}
		if want.Allow {
			allowed++
		}
	}
	if allowed == 0 || allowed == len(flows) {
		t.Errorf("corpus of %d flows has %d allowed: not a useful corpus", len(flows), allowed)
	}
	t.Logf("%d flows, %d allowed", len(flows), allowed)
}

func TestDecisionCacheKeyCoversEveryField(t *testing.T) {
	base := summaryFlow()
	edits := map[string]func(*Flow){
		"subprocessor":      func(f *Flow) { f.Subprocessor = "openai" },
		"purpose":           func(f *Flow) { f.Purpose = "functional.ai.translation" },
		"categories":        func(f *Flow) { f.Categories = f.Categories[:1] },
		"category order":    func(f *Flow) { f.Categories = []string{f.Categories[1], f.Categories[0], f.Categories[2]} },
		"nil categories":    func(f *Flow) { f.Categories = nil },
		"empty categories":  func(f *Flow) { f.Categories = []string{} },
		"destination":       func(f *Flow) { f.DestinationRegion = "us" },
		"feature":           func(f *Flow) { f.Feature = "" },
		"org id":            func(f *Flow) { f.Organization.ID++ },
		"org region":        func(f *Flow) { f.Organization.Region = "us" },
		"ai features":       func(f *Flow) { f.Organization.AIFeatures = []string{"translation"} },
		"shopify scopes":    func(f *Flow) { f.Organization.ShopifyScopes = nil },
		"no organization":   func(f *Flow) { f.Organization = OrgContext{} },
		"subject kind":      func(f *Flow) { f.Subject.Kind = "customer" },
		"restricted":        func(f *Flow) { f.Subject.Restricted = true },
		"objections":        func(f *Flow) { f.Subject.Objections = []string{"automated_decisions"} },
		"consents":          func(f *Flow) { f.Subject.Consents = []string{"marketing_email"} },
		"subject country":   func(f *Flow) { f.Subject.Country = "CH" },
		"string boundaries": func(f *Flow) { f.Subprocessor, f.Purpose = "anthropicf", "unctional.ai.summary" },
	}
	seen := map[string]string{base.cacheKey(): "base"}
	for name, edit := range edits {
		k := with(base, edit).cacheKey()
		if prev, dup := seen[k]; dup {
			t.Errorf("%s and %s share a cache key", name, prev)
		}
		seen[k] = name
	}
}

func TestDecisionCacheBoundedAndCopied(t *testing.T) {
	ctx := context.Background()
	log := NewMemoryLog()
	g, err := NewGate(ctx, log, WithDecisionCache(3))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range realisticFlows() {
		if _, err := g.Authorize(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	if n := g.cache.len(); n != 3 {
		t.Errorf("cache holds %d decisions, bound is 3", n)
	}
	// callers may change what they get back
	f := errorEventFlow()
	d1, _ := g.Authorize(ctx, f)
	d1.Drop[0] = "changed"
	d1.Reasons[0] = "changed"
	d2, _ := g.Authorize(ctx, f)
	if d2.Drop[0] == "changed" || d2.Reasons[0] == "changed" {
		t.Error("a caller changed a remembered decision")
	}
	if n := len(log.Records()); n != len(realisticFlows())+2 {
		t.Errorf("%d records: remembered decisions must be recorded too", n)
	}
	if _, err := NewGate(ctx, log, WithDecisionCache(-1)); err == nil {
		t.Error("negative cache size accepted")
	}
}

// Over the whole corpus, the policy allows exactly the flows no deny rule
// names a reason against, and a denial always carries the deny reasons.
func TestAllowIffNoDenyReason(t *testing.T) {
	ctx := context.Background()
	var data map[string]any
	if err := json.Unmarshal(RegistryDocument(), &data); err != nil {
		t.Fatal(err)
	}
	m, err := ast.ParseModuleWithOpts("egress.rego", Sources()["egress.rego"], ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		t.Fatal(err)
	}
	pq, err := rego.New(
		rego.Query(`allow := data.convot.egress.allow; deny := data.convot.egress.deny; reasons := data.convot.egress.decision.reasons`),
		rego.ParsedModule(m), rego.Store(inmem.NewFromObject(data)), rego.StrictBuiltinErrors(true),
	).PrepareForEval(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range corpus() {
		rs, err := pq.Eval(ctx, rego.EvalParsedInput(f.input()))
		if err != nil || len(rs) != 1 {
			t.Fatalf("%+v: %v %v", f, rs, err)
		}
		allow := rs[0].Bindings["allow"].(bool)
		deny := rs[0].Bindings["deny"].([]any)
		reasons := rs[0].Bindings["reasons"].([]any)
		if allow != (len(deny) == 0) {
			t.Fatalf("%+v: allow=%v with deny reasons %v", f, allow, deny)
		}
		if !allow && !reflect.DeepEqual(reasons, deny) {
			t.Fatalf("%+v: reasons %v, deny %v", f, reasons, deny)
		}
	}
}
