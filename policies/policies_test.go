package policies

import (
	"context"
	"encoding/json"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/util"
)

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func astValueFromJSON(b []byte) (ast.Value, error) {
	var x any
	if err := util.UnmarshalJSON(b, &x); err != nil {
		return nil, err
	}
	return ast.InterfaceToValue(x)
}

// The Rego tests beside the policy, run through OPA's tester.
func TestRegoTests(t *testing.T) {
	results, err := RunTests(context.Background())
	if err != nil {
		t.Fatalf("RunTests: %v", err)
	}
	if len(results) == 0 {
		t.Fatal("no Rego test ran")
	}
	for _, r := range results {
		if !r.Pass {
			t.Errorf("%s at %s", r, r.Location)
		}
	}
	t.Logf("%d Rego tests", len(results))
}

// Every deny rule of egress.rego has a Rego test that expects its reason:
// the longest constant piece of the reason appears in egress_test.rego. A
// deny rule may instead take the reasons of a family (a set named
// *_denials) under a guard, its first expression; then every rule of the
// family begins with that same guard, so that the family can fire only when
// deny takes its reasons, and each of them needs its Rego test likewise.
func TestEveryDenyRuleHasARegoTest(t *testing.T) {
	src := Sources()
	tests := src["egress_test.rego"]
	m, err := ast.ParseModuleWithOpts("egress.rego", src["egress.rego"], ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		t.Fatal(err)
	}
	verb := regexp.MustCompile(`%[sv]`)
	guards := map[string]string{} // family -> the guard deny takes it under
	for _, r := range m.Rules {
		if r.Head.Ref().String() != "deny" {
			continue
		}
		if _, ok := r.Head.Key.Value.(ast.Var); !ok {
			continue
		}
		// deny contains reason if { guard; some reason in family }
		if len(r.Body) != 2 {
			t.Fatalf("deny rule at %v: a family's reasons are taken under one guard: %v", r.Location, r.Body)
		}
		var family string
		ast.WalkTerms(r.Body[1], func(x *ast.Term) bool {
			if s := x.String(); strings.HasSuffix(s, "_denials") {
				family = s
			}
			return false
		})
		if family == "" {
			t.Fatalf("deny rule at %v: reason is a variable, but no family of denials is named", r.Location)
		}
		guards[family] = r.Body[0].String()
	}
	n := 0
	members := map[string]int{}
	for _, r := range m.Rules {
		name := r.Head.Ref().String()
		if name != "deny" && !strings.HasSuffix(name, "_denials") {
			continue
		}
		if name != "deny" {
			guard, ok := guards[name]
			if !ok {
				t.Errorf("rule at %v: family %s is not taken by deny", r.Location, name)
			} else if len(r.Body) == 0 || r.Body[0].String() != guard {
				t.Errorf("rule at %v: a rule of %s begins with %q, not its guard %q", r.Location, name, r.Body[0], guard)
			}
			members[name]++
		}
		var format string
		switch v := r.Head.Key.Value.(type) {
		case ast.String:
			format = string(v)
		case ast.Call: // sprintf(format, [...])
			format = string(v[1].Value.(ast.String))
		case ast.Var:
			if name == "deny" {
				continue // a family, checked above
			}
			t.Fatalf("%s rule at %v: reason is a variable", name, r.Location)
		default:
			t.Fatalf("%s rule at %v: reason is a %T", name, r.Location, v)
		}
		n++
		longest := ""
		for _, piece := range verb.Split(format, -1) {
			if len(piece) > len(longest) {
				longest = piece
			}
		}
		if !strings.Contains(tests, longest) {
			t.Errorf("%s rule at %v (%q) has no Rego test expecting it", name, r.Location, format)
		}
	}
	for family := range guards {
		if members[family] == 0 {
			t.Errorf("deny takes the family %s, which has no rule", family)
		}
	}
	if n < 20 {
		t.Errorf("found %d deny rules, expected at least 20", n)
	}
}

func TestSources(t *testing.T) {
	src := Sources()
	for _, name := range []string{"egress.rego", "egress_test.rego"} {
		if !strings.Contains(src[name], "package convot.egress") {
			t.Errorf("Sources()[%q] is not the policy", name)
		}
	}
	for name := range src {
		if !strings.HasSuffix(name, ".rego") {
			t.Errorf("Sources returned %q", name)
		}
		if !isTestModule(name) {
			if _, ok := src[strings.TrimSuffix(name, ".rego")+"_test.rego"]; !ok {
				t.Errorf("policy %s has no test file beside it", name)
			}
		}
	}
	if got := slices.Sorted(maps.Keys(policyModules())); !slices.Equal(got, []string{"egress.rego"}) {
		t.Errorf("policy modules %v", got)
	}
	// the revision covers policy and registry, and nothing else
	if Revision() != revision(policyModules(), RegistryDocument()) {
		t.Error("revision not stable")
	}
	changed := maps.Clone(policyModules())
	changed["egress.rego"] += "\n"
	if revision(changed, RegistryDocument()) == Revision() {
		t.Error("revision ignores the policy")
	}
	if revision(policyModules(), append(RegistryDocument(), ' ')) == Revision() {
		t.Error("revision ignores the registry")
	}
}

// The registry as Go reads it, checked against policy §6 and §7.
func TestRegistry(t *testing.T) {
	reg, err := LoadRegistry()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"anthropic", "aws", "openai", "postmark", "redis", "sentry", "shopify", "stripe"}
	if got := reg.SubprocessorNames(); !slices.Equal(got, want) {
		t.Fatalf("subprocessors %v, want the eight of policy §6 %v", got, want)
	}
	legal := map[string]string{
		"aws": "Amazon Web Services, Inc.", "stripe": "Stripe, Inc.", "postmark": "Wildbit, LLC (Postmark)",
		"sentry": "Functional Software, Inc. (Sentry)", "redis": "Redis Ltd.", "shopify": "Shopify, Inc.",
		"anthropic": "Anthropic, PBC", "openai": "OpenAI, L.L.C.",
	}
	for name, s := range reg.Subprocessors {
		if s.LegalName != legal[name] {
			t.Errorf("%s: legal name %q, want %q", name, s.LegalName, legal[name])
		}
		if !s.DPASigned {
			t.Errorf("%s: no DPA (policy §6: each subprocessor has signed one)", name)
		}
		if len(s.Purposes) == 0 || len(s.Categories) == 0 || len(s.Locations) == 0 || len(s.Subjects) == 0 {
			t.Errorf("%s: incomplete entry %+v", name, s)
		}
		for _, p := range s.Purposes {
			if _, ok := reg.Purposes[p]; !ok {
				t.Errorf("%s: unknown purpose %s", name, p)
			}
		}
		for _, c := range append(slices.Clone(s.Categories), s.RedactIdentifiers...) {
			if _, ok := reg.Categories[c]; !ok {
				t.Errorf("%s: unknown category %s", name, c)
			}
		}
		for _, l := range s.Locations {
			_, ok := reg.Regions[l]
			if !ok {
				t.Errorf("%s: unknown location %s", name, l)
			}
			// every protected region's data may reach every location
			// only under a complete recorded mechanism (policy §7)
			for from, fr := range reg.Regions {
				if !fr.TransferSafeguards || from == l || !ok {
					continue
				}
				i := slices.IndexFunc(s.Transfers, func(tr Transfer) bool { return tr.From == from && tr.To == l })
				if i < 0 {
					t.Errorf("%s: no transfer mechanism recorded for %s→%s (policy §7)", name, from, l)
					continue
				}
				tr := s.Transfers[i]
				switch {
				case tr.Mechanism == "scc" && tr.Module != "" && tr.Version != "" && tr.Date != "" && tr.Instrument != "":
				case tr.Mechanism == "adequacy" && tr.Decision != "" && tr.Date != "":
				default:
					t.Errorf("%s: incomplete transfer record %+v", name, tr)
				}
			}
		}
		for _, k := range s.Subjects {
			if _, ok := reg.SubjectKinds[k]; !ok {
				t.Errorf("%s: unknown subject kind %s", name, k)
			}
		}
	}
	if s := reg.Subprocessors["sentry"]; !s.ScrubPersonalData {
		t.Error("sentry must have personal data scrubbed")
	}
	if s := reg.Subprocessors["redis"]; !s.RegionPinned {
		t.Error("redis must stay in the customer's region")
	}
	for _, name := range []string{"anthropic", "openai"} {
		s := reg.Subprocessors[name]
		if !s.AI || !slices.Equal(s.RedactIdentifiers, []string{"user.contact.email", "user.contact.phone_number", "user.unique_id"}) {
			t.Errorf("%s: AI flags %+v", name, s)
		}
		for _, p := range s.Purposes {
			if reg.Purposes[p].AIFeature == "" || reg.Purposes[p].Objection != "automated_decisions" {
				t.Errorf("%s: purpose %s is not an AI feature", name, p)
			}
		}
	}
	if p := reg.Purposes["marketing.communications.email"]; p.Consent != "marketing_email" || p.Objection != "direct_marketing" {
		t.Errorf("marketing purpose %+v", p)
	}
	storage := 0
	for name, p := range reg.Purposes {
		if p.Storage {
			storage++
			if name != "essential.service.storage" {
				t.Errorf("%s marked storage", name)
			}
		}
	}
	if storage != 1 || !slices.Contains(reg.Subprocessors["aws"].Purposes, "essential.service.storage") {
		t.Error("aws storage is the only purpose a restricted subject allows")
	}
}
