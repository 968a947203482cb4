package policies

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/tester"
)

// TestResult is the outcome of one Rego test.
type TestResult struct {
	Package  string        `json:"package"` // e.g. data.convot.egress_test
	Name     string        `json:"name"`    // e.g. test_ai_feature_off
	Location string        `json:"location"`
	Pass     bool          `json:"pass"`
	Skip     bool          `json:"skip,omitempty"`
	Error    string        `json:"error,omitempty"`
	Duration time.Duration `json:"duration"`
}

// String is the test as `opa test` prints it.
func (r TestResult) String() string {
	outcome := "PASS"
	switch {
	case r.Skip:
		outcome = "SKIPPED"
	case r.Error != "":
		outcome = "ERROR: " + r.Error
	case !r.Pass:
		outcome = "FAIL"
	}
	return fmt.Sprintf("%s.%s: %s (%s)", r.Package, r.Name, outcome, r.Duration)
}

// RunTests runs the embedded Rego tests with OPA's tester against the
// embedded policy and registry, as `opa test policies/` would. The results
// are sorted by location. An error means the tests could not run.
func RunTests(ctx context.Context) ([]TestResult, error) {
	modules := map[string]*ast.Module{}
	for name, src := range Sources() {
		m, err := ast.ParseModuleWithOpts(name, src, ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return nil, fmt.Errorf("policies: %w", err)
		}
		modules[name] = m
	}
	var data map[string]any
	if err := json.Unmarshal(RegistryDocument(), &data); err != nil {
		return nil, fmt.Errorf("policies: registry: %w", err)
	}
	store := inmem.NewFromObject(data)
	txn, err := store.NewTransaction(ctx)
	if err != nil {
		return nil, fmt.Errorf("policies: %w", err)
	}
	defer store.Abort(ctx, txn)

	ch, err := tester.NewRunner().
		SetStore(store).
		SetModules(modules).
		SetDefaultRegoVersion(ast.RegoV1).
		RaiseBuiltinErrors(true).
		RunTests(ctx, txn)
	if err != nil {
		return nil, fmt.Errorf("policies: rego tests: %w", err)
	}
	var results []TestResult
	for r := range ch {
		tr := TestResult{
			Package:  r.Package,
			Name:     r.Name,
			Pass:     r.Pass(),
			Skip:     r.Skip,
			Duration: r.Duration,
		}
		if r.Location != nil {
			tr.Location = r.Location.String()
		}
		if r.Error != nil {
			tr.Error = r.Error.Error()
		}
		results = append(results, tr)
	}
	sort.Slice(results, func(i, j int) bool {
		if results[i].Package != results[j].Package {
			return results[i].Package < results[j].Package
		}
		return results[i].Name < results[j].Name
	})
	return results, ctx.Err()
}
