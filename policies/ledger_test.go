package policies

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	goTest   = regexp.MustCompile(`(?m)^func (Test[A-Za-z0-9_]*)\(`)
	regoTest = regexp.MustCompile(`(?m)^(test_[a-z0-9_]+)\b`)
	section  = regexp.MustCompile(`^(\d+(?:\.\d+)?)\.? `)
)

// existingTests lists every Go test of the module as dir.TestName and every
// Rego test as rego:test_name.
func existingTests(t *testing.T, root string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "data" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		switch {
		case strings.HasSuffix(path, "_test.go"):
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			dir, _ := filepath.Rel(root, filepath.Dir(path))
			for _, m := range goTest.FindAllSubmatch(b, -1) {
				out[filepath.ToSlash(dir)+"."+string(m[1])] = true
			}
		case strings.HasSuffix(path, "_test.rego"):
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, m := range regoTest.FindAllSubmatch(b, -1) {
				out["rego:"+string(m[1])] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Every test the ledger names exists, every kept promise names one, and
// every numbered section of the published policy has a row.
func TestLedgerNamesRealTestsAndCoversThePolicy(t *testing.T) {
	l, err := LoadLedger()
	if err != nil {
		t.Fatal(err)
	}
	tests := existingTests(t, "..")
	if len(tests) < 50 {
		t.Fatalf("found only %d tests; is the walk rooted at the module?", len(tests))
	}
	covered := map[string]bool{}
	for _, p := range l.Promises {
		covered[p.Section] = true
		if _, ok := l.States[p.State]; !ok {
			t.Errorf("%s %q: unknown state %q", p.Section, p.Promise, p.State)
		}
		if (p.State == "kept" || p.State == "partial") && (len(p.Tests) == 0 || p.Mechanism == "") {
			t.Errorf("%s %q is %s but names no mechanism or test", p.Section, p.Promise, p.State)
		}
		if p.State != "kept" && p.Note == "" {
			t.Errorf("%s %q is %s without a note saying what is missing", p.Section, p.Promise, p.State)
		}
		for _, name := range p.Tests {
			if !tests[name] {
				t.Errorf("%s %q names test %s, which does not exist", p.Section, p.Promise, name)
			}
		}
		for _, file := range p.Code {
			if _, err := os.Stat(filepath.Join("..", file)); err != nil {
				t.Errorf("%s names code %s: %v", p.Section, file, err)
			}
		}
	}
	f, err := os.Open(filepath.Join("..", l.Policy))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }() // opened for reading only
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		if m := section.FindStringSubmatch(sc.Text()); m != nil {
			n++
			if !covered["§"+m[1]] && !coveredBySubsection(covered, "§"+m[1]+".") {
				t.Errorf("policy section %s has no row in the ledger", m[1])
			}
		}
	}
	if n < 14 {
		t.Fatalf("found %d numbered sections in the policy, want at least 14", n)
	}
}

// The check above fails for a ledger that names a missing test.
func TestLedgerCheckCatchesAMissingTest(t *testing.T) {
	tests := existingTests(t, "..")
	if tests["policies.TestThatDoesNotExist"] || !tests["policies.TestLedgerNamesRealTestsAndCoversThePolicy"] || !tests["rego:test_dpa_required"] {
		t.Fatal("the test index is wrong")
	}
}

func coveredBySubsection(covered map[string]bool, prefix string) bool {
	for s := range covered {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}
