package policies

import (
	"context"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/util"
)

// The gate evaluates the registry's index once (gate.go) and gives its value
// to every decision: that is sound only if no rule the index depends on, up
// to the registry, reads the input.
func TestRegistryIndexReadsNoInput(t *testing.T) {
	m, err := ast.ParseModuleWithOpts("egress.rego", Sources()["egress.rego"], ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		t.Fatal(err)
	}
	c := ast.NewCompiler().WithDefaultRegoVersion(ast.RegoV1)
	if c.Compile(map[string]*ast.Module{"egress.rego": m}); c.Failed() {
		t.Fatal(c.Errors)
	}
	index := c.GetRulesWithPrefix(indexRef)
	if len(index) < 3 {
		t.Fatalf("%d index rules, want recipients, country_regions and personal_categories", len(index))
	}
	seen := map[*ast.Rule]bool{}
	queue := index
	for len(queue) > 0 {
		r := queue[0]
		queue = queue[1:]
		if seen[r] {
			continue
		}
		seen[r] = true
		ast.WalkRefs(r, func(ref ast.Ref) bool {
			if ref.HasPrefix(ast.InputRootRef) {
				t.Errorf("rule at %v, which the index depends on, reads the input: %v", r.Location, ref)
			}
			return false
		})
		for dep := range c.Graph.Dependencies(r) {
			queue = append(queue, dep.(*ast.Rule))
		}
	}
	if len(seen) < 20 {
		t.Errorf("the index depends on %d rules: the walk missed some", len(seen))
	}
	// and the walk finds an input read where there is one
	var found bool
	for _, r := range c.GetRules(ast.MustParseRef("data.convot.egress.clean_entry")) {
		ast.WalkRefs(r, func(ref ast.Ref) bool { found = found || ref.HasPrefix(ast.InputRootRef); return false })
	}
	if !found {
		t.Error("clean_entry reads the input, and the walk did not see it")
	}
}

// The gate built over the embedded policy evaluates the index, and compiles
// the policy with its rules replaced by that value: decisions do not
// evaluate the index again.
func TestGatePolicyReadsTheEvaluatedIndex(t *testing.T) {
	var data map[string]any
	if err := util.UnmarshalJSON(RegistryDocument(), &data); err != nil {
		t.Fatal(err)
	}
	modules, err := parseModules(policyModules())
	if err != nil {
		t.Fatal(err)
	}
	index, err := evalIndex(context.Background(), modules, inmem.NewFromObject(data))
	if err != nil {
		t.Fatal(err)
	}
	obj, ok := index.Value.(ast.Object)
	if !ok {
		t.Fatalf("index %v", index)
	}
	recipients, ok := obj.Get(ast.StringTerm("recipients")).Value.(ast.Object)
	if !ok || recipients.Get(ast.StringTerm("anthropic")) == nil || recipients.Get(ast.StringTerm("customer_endpoint")) != nil {
		t.Errorf("index recipients %v", recipients)
	}
	m := withIndexValue(modules["egress.rego"], index)
	var rules []*ast.Rule
	for _, r := range m.Rules {
		if r.Ref().HasPrefix(indexRef) {
			rules = append(rules, r)
		}
	}
	if len(rules) != 1 || !rules[0].Ref().Equal(indexRef) || rules[0].Head.Value != index || len(m.Rules) >= len(modules["egress.rego"].Rules) {
		t.Errorf("index rules of the gate's module: %v", rules)
	}
	// the previous policy has no index: its query is left as it is
	prev, err := ast.ParseModuleWithOpts("egress.rego", previousPolicy(t)["egress.rego"], ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		t.Fatal(err)
	}
	none, err := evalIndex(context.Background(), map[string]*ast.Module{"egress.rego": prev}, inmem.NewFromObject(data))
	if err != nil || none != nil {
		t.Errorf("previous policy index %v, %v", none, err)
	}
}
