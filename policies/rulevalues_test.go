package policies

import (
	"context"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// ruleValues answers as topdown's own virtual cache does, for the same
// calls: a reference not cached, cached with a value, cached as undefined,
// a frame pushed and popped, a reference whose buffer is written again.
func TestRuleValuesAnswersAsTopdownsCache(t *testing.T) {
	ours, theirs := getRuleValues(), topdown.NewVirtualCache()
	defer putRuleValues(ours)
	both := func(f func(c topdown.VirtualCache)) { f(ours); f(theirs) }
	same := func(ref string) {
		t.Helper()
		r := ast.MustParseRef(ref)
		v1, u1 := ours.Get(r)
		v2, u2 := theirs.Get(r)
		if !v1.Equal(v2) || u1 != u2 {
			t.Fatalf("Get(%s): ours %v %v, topdown's %v %v", ref, v1, u1, v2, u2)
		}
	}
	one, two := ast.IntNumberTerm(1), ast.IntNumberTerm(2)
	same("data.p.a")
	both(func(c topdown.VirtualCache) { c.Put(ast.MustParseRef("data.p.a"), one) })
	same("data.p.a")
	same("data.p")     // a prefix is not cached
	same("data.p.a.b") // nor an extension
	both(func(c topdown.VirtualCache) { c.Put(ast.MustParseRef("data.p.b"), nil) })
	same("data.p.b")
	both(func(c topdown.VirtualCache) { c.Put(ast.MustParseRef("data.p.b"), two) }) // stays undefined
	same("data.p.b")
	both(func(c topdown.VirtualCache) { c.Put(ast.MustParseRef("data.p.a"), two) }) // replaced
	same("data.p.a")

	// under a `with`: a frame of its own
	both(func(c topdown.VirtualCache) { c.Push() })
	same("data.p.a")
	both(func(c topdown.VirtualCache) { c.Put(ast.MustParseRef("data.p.a"), one) })
	both(func(c topdown.VirtualCache) { c.Put(ast.MustParseRef(`data.p.c["x"]`), two) })
	same("data.p.a")
	same(`data.p.c["x"]`)
	if got, want := len(ours.Keys()), len(theirs.Keys()); got != want || got != 2 {
		t.Fatalf("%d keys in the frame, topdown's %d, want 2", got, want)
	}
	both(func(c topdown.VirtualCache) { c.Pop() })
	same("data.p.a")
	same(`data.p.c["x"]`)
	same("data.p.b")
	if got, want := len(ours.Keys()), len(theirs.Keys()); got != want {
		t.Fatalf("%d keys, topdown's %d", got, want)
	}

	// topdown passes slices of a buffer it writes again
	buf := ast.MustParseRef("data.p.d")
	ours.Put(buf[:3], one)
	buf[2] = ast.StringTerm("e")
	if v, _ := ours.Get(ast.MustParseRef("data.p.d")); !v.Equal(one) {
		t.Fatalf("data.p.d = %v after its buffer was written, want 1", v)
	}
	if v, u := ours.Get(ast.MustParseRef("data.p.e")); v != nil || u {
		t.Fatalf("data.p.e = %v %v, want not cached", v, u)
	}
}

// A cache returned to the pool comes back empty.
func TestRuleValuesPoolReturnsAnEmptyCache(t *testing.T) {
	c := getRuleValues()
	c.Push()
	c.Put(ast.MustParseRef("data.p.a"), ast.IntNumberTerm(1))
	putRuleValues(c)
	for range 4 { // the pool may hand out another: each must be empty
		c := getRuleValues()
		if v, u := c.Get(ast.MustParseRef("data.p.a")); v != nil || u || len(c.frames) != 1 || len(c.Keys()) != 0 {
			t.Fatalf("a cache from the pool holds %v %v, %d frames", v, u, len(c.frames))
		}
		defer putRuleValues(c)
	}
}

// The gate's evaluation with ruleValues decides every flow of the
// corpus as topdown's own cache does (the previous-policy test compares
// with the policy before issue 16; this one isolates the cache).
func TestGateDecidesAsWithTopdownsCache(t *testing.T) {
	ctx := context.Background()
	policy, err := compilePolicy(ctx, gateConfig{query: DecisionQuery, modules: policyModules(), registry: RegistryDocument()})
	if err != nil {
		t.Fatal(err)
	}
	inputs := []ast.Value{}
	for _, f := range append(realisticFlows(), generatedFlows(300, 61)...) {
		inputs = append(inputs, f.input())
	}
	inputs = append(inputs, malformedInputs(t)...)
	for _, in := range inputs {
		var want []*ast.Term
		wantErr := topdown.NewQuery(policy.query).WithCompiler(policy.compiler).WithStore(policy.store).
			WithTransaction(policy.txn).WithInput(ast.NewTerm(in)).WithStrictBuiltinErrors(true).
			Iter(ctx, func(qr topdown.QueryResult) error { want = append(want, qr[resultVar]); return nil })
		got, gotErr := policy.eval(ctx, in)
		if (wantErr == nil) != (gotErr == nil) || !ast.NewArray(want...).Equal(ast.NewArray(got...)) {
			t.Fatalf("input %v:\ntopdown's cache: %v %v\n     ruleValues: %v %v", in, want, wantErr, got, gotErr)
		}
	}
}
