package policies

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
)

// testdata/egress_previous.rego.txt (not .rego: `opa test policies/` would
// load it beside the policy) is the policy as it was before it was
// restructured for speed (issue 16): the deny rules of a family evaluated
// only under the family's guard, the checks of an allowed flow in one rule,
// one read of the registry. The restructured policy must take the same
// decision, and hold the same deny reasons, as the previous one for every
// input, well formed or not, and on edited registries too; and so must the
// gate, whose policy reads the registry's index evaluated once (gate.go).

const previousPolicyFile = "testdata/egress_previous.rego.txt"

func previousPolicy(t testing.TB) map[string]string {
	t.Helper()
	b, err := os.ReadFile(previousPolicyFile)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"egress.rego": string(b)}
}

// policyQuery prepares the decision, deny and allow of modules over data.
func policyQuery(t testing.TB, modules map[string]string, data []byte) rego.PreparedEvalQuery {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	opts := []func(*rego.Rego){
		rego.Query(`decision := data.convot.egress.decision; deny := data.convot.egress.deny; allow := data.convot.egress.allow; unregistered := data.convot.egress.unregistered`),
		rego.Store(inmem.NewFromObjectWithOpts(doc, inmem.OptReturnASTValuesOnRead(true))),
		rego.StrictBuiltinErrors(true),
	}
	for name, src := range modules {
		m, err := ast.ParseModuleWithOpts(name, src, ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			t.Fatal(err)
		}
		opts = append(opts, rego.ParsedModule(m))
	}
	pq, err := rego.New(opts...).PrepareForEval(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return pq
}

// evalOutcome is what a query gave for one input: its bindings, or its error.
func evalOutcome(pq rego.PreparedEvalQuery, input ast.Value) string {
	rs, err := pq.Eval(context.Background(), rego.EvalParsedInput(input))
	if err != nil {
		return "error: " + err.Error()
	}
	b, _ := json.Marshal(rs)
	return string(b)
}

// decisionOutcome is the decision a policyQuery gave for one input, or its
// error; gateOutcome the same of the gate's query.
func decisionOutcome(pq rego.PreparedEvalQuery, input ast.Value) string {
	rs, err := pq.Eval(context.Background(), rego.EvalParsedInput(input))
	if err != nil {
		return "error"
	}
	if len(rs) != 1 {
		return fmt.Sprintf("%d results", len(rs))
	}
	b, _ := json.Marshal(rs[0].Bindings["decision"])
	return string(b)
}

func gateOutcome(p *compiledPolicy, input ast.Value) string {
	results, err := p.eval(context.Background(), input)
	if err != nil {
		return "error"
	}
	if len(results) != 1 {
		return fmt.Sprintf("%d results", len(results))
	}
	v, err := ast.JSON(results[0].Value)
	if err != nil {
		return "unconvertible: " + err.Error()
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// generatedFlows: n flows drawn (with a fixed seed) from every value the
// policy tells apart, and some it must refuse; then, for each realistic flow
// (most allowed), m copies with one field drawn the same way.
func generatedFlows(n, m int) []Flow {
	reg, err := LoadRegistry()
	if err != nil {
		panic(err)
	}
	r := rand.New(rand.NewPCG(16, 3))
	pick := func(xs []string) string { return xs[r.IntN(len(xs))] }
	some := func(xs []string, max int) []string {
		switch r.IntN(6) {
		case 0:
			return nil
		case 1:
			return []string{}
		}
		out := make([]string, 1+r.IntN(max))
		for i := range out {
			out[i] = pick(xs)
		}
		return out
	}
	subs := append(reg.SubprocessorNames(), "self_hosted", "customer_endpoint", "disclosure_recipient", "unknown", "")
	var purposes, categories []string
	for p := range reg.Purposes {
		purposes = append(purposes, p)
	}
	for c := range reg.Categories {
		categories = append(categories, c)
	}
	purposes = append(purposes, "advertising", "")
	categories = append(categories, "user.biometric", "user.contactless", "", "user.", "system.operations.x")
	regions := []string{"eu", "us", "uk", "ch", "mars", ""}
	kinds := []string{"customer", "end_user", "none", "robot", ""}
	objections := []string{"legitimate_interests", "direct_marketing", "automated_decisions", "everything"}
	consents := []string{"marketing_email", "other"}
	countries := []string{"", "DE", "de", "US", "GB", "CH", "JP", "xx1", "D"}
	features := []string{"", "summary", "translation", "embeddings", "reply_suggestions"}
	scopes := []string{"read_customers", "read_orders", "write_orders"}
	aiFeatures := []string{"summary", "suggested_reply", "automated_answer", "translation", "language_detection", "embeddings"}
	kindsOfDisclosure := []string{"legal_demand", "enforcement", "merger", "consent", "gossip", ""}
	flows := make([]Flow, n, n+m*len(realisticFlows()))
	for _, base := range realisticFlows() {
		for range m {
			f := base
			f.Categories = slices.Clone(base.Categories)
			switch r.IntN(12) {
			case 0:
				f.Subprocessor = pick(subs)
			case 1:
				f.Purpose = pick(purposes)
			case 2:
				f.Categories = append(f.Categories, pick(categories))
			case 3:
				f.Categories = some(categories, 3)
			case 4:
				f.DestinationRegion = pick(regions)
			case 5:
				f.Feature = pick(features)
			case 6:
				f.Subject.Kind = pick(kinds)
			case 7:
				f.Subject.Restricted = true
			case 8:
				f.Subject.Objections, f.Subject.Consents = some(objections, 2), some(consents, 1)
			case 9:
				f.Subject.Country = pick(countries)
			case 10:
				f.Organization.Region = pick(regions)
				f.Organization.AIFeatures = some(aiFeatures, 4)
				f.Organization.ShopifyScopes = some(scopes, 2)
			case 11:
				f.RecipientOrganization = f.Organization.ID
			}
			flows = append(flows, f)
		}
	}
	for i := range n {
		f := Flow{
			Subprocessor: pick(subs), Purpose: pick(purposes), Categories: some(categories, 5),
			DestinationRegion: pick(regions), Feature: pick(features),
			Subject: SubjectContext{Kind: pick(kinds), Restricted: r.IntN(5) == 0, Objections: some(objections, 2),
				Consents: some(consents, 1), Country: pick(countries)},
		}
		switch r.IntN(6) {
		case 0: // missing
		case 1: // the deployment itself
			f.Organization = OrgContext{Region: pick(regions), Deployment: r.IntN(2) == 0}
		default:
			f.Organization = OrgContext{ID: uint64(1 + r.IntN(3)), Region: pick(regions),
				AIFeatures: some(aiFeatures, 4), ShopifyScopes: some(scopes, 2)}
		}
		if r.IntN(3) == 0 {
			f.RecipientOrganization = uint64(r.IntN(3))
		}
		if r.IntN(4) == 0 {
			f.Disclosure = &DisclosureContext{Kind: pick(kindsOfDisclosure), Approved: r.IntN(3) > 0,
				RecipientRecorded: r.IntN(3) > 0, LegalBasisRecorded: r.IntN(3) > 0, Requested: some(categories, 4)}
		}
		flows[i] = f
	}
	return flows
}

// malformedInputs: documents no Flow produces, as `opa eval` or a caller's
// bug may hand the policy.
func malformedInputs(t testing.TB) []ast.Value {
	t.Helper()
	docs := []string{
		`{}`, `"anthropic"`, `[]`, `null`, `42`,
		`{"subprocessor": 7, "purpose": true, "categories": "user.name"}`,
		`{"subprocessor": "aws", "purpose": "essential.service.storage", "categories": ["user.name", 42, null], "organization": {"id": 7, "region": "eu"}, "subject": {"kind": "end_user"}, "destination_region": "eu"}`,
		`{"subprocessor": "aws", "purpose": "essential.service.storage", "categories": ["user.name", "user.name"], "organization": {"id": 7, "region": "eu"}, "subject": {"kind": "end_user"}, "destination_region": "eu"}`,
		`{"subprocessor": "aws", "purpose": "essential.service.storage", "categories": {"a": "user.name"}, "organization": {"id": 7, "region": "eu"}, "subject": {"kind": "end_user"}, "destination_region": "eu"}`,
		`{"subprocessor": "postmark", "purpose": "essential.service.notifications.email", "categories": ["user.name"], "organization": {"id": "7", "region": "eu"}, "subject": {"kind": 3, "country": false, "objections": "all"}}`,
		`{"subprocessor": "postmark", "purpose": "essential.service.notifications.email", "categories": ["user.name"], "organization": {"id": 7, "region": "eu"}, "subject": {"kind": "customer", "country": 49}, "destination_region": false, "feature": 1}`,
		`{"subprocessor": "disclosure_recipient", "purpose": "essential.legal_obligation", "categories": ["user.name"], "organization": {"id": 7, "region": "eu"}, "subject": {"kind": "customer"}, "destination_region": "eu", "disclosure": "yes"}`,
		`{"subprocessor": "customer_endpoint", "purpose": "essential.service.webhooks", "categories": ["user.name"], "organization": {"id": 7, "region": "eu"}, "subject": {"kind": "customer"}, "destination_region": "eu", "recipient_organization": "7"}`,
		`{"subprocessor": "shopify", "purpose": "essential.service.operations.support", "categories": ["user.contact.email", "user.behavior.purchase_history"], "organization": {"id": 7, "region": "eu", "shopify_scopes": [1, "read_orders"]}, "subject": {"kind": "end_user"}}`,
		`{"subprocessor": "anthropic", "purpose": "functional.ai.summary", "categories": ["user.content.message"], "organization": {"id": 7, "region": "eu", "ai_features": "summary"}, "subject": {"kind": "end_user", "objections": ["automated_decisions"]}}`,
	}
	out := make([]ast.Value, len(docs))
	for i, d := range docs {
		v, err := astValueFromJSON([]byte(d))
		if err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		out[i] = v
	}
	return out
}

// registryEdits: registries a mistake could produce, each a change of the
// embedded one.
var registryEdits = map[string]func(reg map[string]any){
	"as embedded":              func(map[string]any) {},
	"aws without DPA":          func(reg map[string]any) { subprocessorEntry(reg, "aws")["dpa_signed"] = false },
	"aws categories null":      func(reg map[string]any) { subprocessorEntry(reg, "aws")["categories"] = nil },
	"aws categories empty":     func(reg map[string]any) { subprocessorEntry(reg, "aws")["categories"] = []any{} },
	"aws purposes missing":     func(reg map[string]any) { delete(subprocessorEntry(reg, "aws"), "purposes") },
	"aws locations missing":    func(reg map[string]any) { delete(subprocessorEntry(reg, "aws"), "locations") },
	"postmark transfers empty": func(reg map[string]any) { subprocessorEntry(reg, "postmark")["transfers"] = []any{} },
	"stripe category with a bar": func(reg map[string]any) {
		subprocessorEntry(reg, "stripe")["categories"] = []any{"user.name", "user|contact", "system.operations"}
	},
	"summary needs the external id": func(reg map[string]any) {
		reg["purposes"].(map[string]any)["functional.ai.summary"].(map[string]any)["needs_identifiers"] = []any{"user.unique_id"}
	},
	"a vocabulary entry false": func(reg map[string]any) { reg["categories"].(map[string]any)["user.name"] = false },
	"redis not pinned, sentry not scrubbing": func(reg map[string]any) {
		subprocessorEntry(reg, "redis")["region_pinned"] = false
		subprocessorEntry(reg, "sentry")["scrub_personal_data"] = false
	},
}

func TestPolicyDecidesAsThePreviousPolicy(t *testing.T) {
	flows := append(realisticFlows(), generatedFlows(300, 60)...)
	inputs := make([]ast.Value, 0, len(flows)+32)
	for _, f := range flows {
		inputs = append(inputs, f.input())
	}
	inputs = append(inputs, malformedInputs(t)...)
	// the fuzzer's corpus too
	seeds, _ := filepath.Glob("testdata/fuzz/FuzzGateInput/*")
	for _, path := range seeds {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var lit string
		if _, err := fmt.Sscanf(string(b), "go test fuzz v1\n[]byte(%q)", &lit); err != nil {
			continue
		}
		if v, err := astValueFromJSON([]byte(lit)); err == nil {
			inputs = append(inputs, v)
		}
	}
	for name, edit := range registryEdits {
		var doc map[string]any
		if err := json.Unmarshal(RegistryDocument(), &doc); err != nil {
			t.Fatal(err)
		}
		edit(doc["convot"].(map[string]any)["registry"].(map[string]any))
		data, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		previous := policyQuery(t, previousPolicy(t), data)
		current := policyQuery(t, policyModules(), data)
		// the gate's query: the same policy, its index evaluated once
		gate, err := newGate(context.Background(), &countLog{}, gateConfig{query: DecisionQuery, modules: policyModules(), registry: data})
		if err != nil {
			t.Fatalf("registry %s: %v", name, err)
		}
		allowed, errs := 0, 0
		for _, in := range inputs {
			want, got := evalOutcome(previous, in), evalOutcome(current, in)
			if got != want {
				t.Fatalf("registry %s, input %v:\nprevious policy: %s\n     this policy: %s", name, in, want, got)
			}
			if gateWant, gateGot := decisionOutcome(previous, in), gateOutcome(gate.policy, in); gateGot != gateWant {
				t.Fatalf("registry %s, input %v:\nprevious policy: %s\n            gate: %s", name, in, gateWant, gateGot)
			}
			var rs rego.ResultSet
			if json.Unmarshal([]byte(got), &rs) == nil && len(rs) == 1 && reflect.DeepEqual(rs[0].Bindings["allow"], true) {
				allowed++
			}
			if len(got) > 6 && got[:6] == "error:" {
				errs++
			}
		}
		if name == "as embedded" && (allowed < len(inputs)/5 || allowed == len(inputs)) {
			t.Errorf("%d of %d inputs allowed: not a useful corpus", allowed, len(inputs))
		}
		t.Logf("registry %s: %d inputs, %d allowed, %d errors, same decisions", name, len(inputs), allowed, errs)
	}
}
