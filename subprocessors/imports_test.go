package subprocessors

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// subprocessorsImportPath is the one package allowed to import an SDK.
const subprocessorsImportPath = "github.com/convot/convot/subprocessors"

// subprocessorSDKs are the module paths of the subprocessors' SDKs; a
// package under any of them is an SDK package.
var subprocessorSDKs = []string{
	"github.com/stripe/stripe-go",
	"github.com/aws/aws-sdk-go-v2",
	"github.com/getsentry/sentry-go",
	"github.com/redis/go-redis",
	"github.com/anthropics/anthropic-sdk-go",
	"github.com/openai/openai-go",
}

// goListPackage is the part of `go list -json` the import check reads.
type goListPackage struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
}

// isSubprocessorSDK reports whether importPath is an SDK package (the
// module itself, a major version of it, or a package inside it).
func isSubprocessorSDK(importPath string) bool {
	for _, sdk := range subprocessorSDKs {
		if importPath == sdk || strings.HasPrefix(importPath, sdk+"/") {
			return true
		}
	}
	return false
}

// sdkImportViolations lists "package imports sdk" for every package other
// than package subprocessors that imports an SDK package directly, in its
// own files, its tests or its external tests.
func sdkImportViolations(pkgs []goListPackage) []string {
	var out []string
	for _, p := range pkgs {
		if p.ImportPath == subprocessorsImportPath {
			continue
		}
		for _, set := range []struct {
			what    string
			imports []string
		}{{"", p.Imports}, {" (test)", p.TestImports}, {" (external test)", p.XTestImports}} {
			for _, imp := range set.imports {
				if isSubprocessorSDK(imp) {
					out = append(out, fmt.Sprintf("%s%s imports %s", p.ImportPath, set.what, imp))
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// importCheckModuleRoot is the directory of the go.mod of the module under test.
func importCheckModuleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		t.Fatal("not inside a module")
	}
	return filepath.Dir(gomod)
}

// TestOnlySubprocessorsImportsSDKs: design invariant 2, only package
// subprocessors imports a subprocessor's SDK.
func TestOnlySubprocessorsImportsSDKs(t *testing.T) {
	root := importCheckModuleRoot(t)
	cmd := exec.CommandContext(t.Context(), "go", "list", "-e", "-json=ImportPath,Imports,TestImports,XTestImports", "./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []goListPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p goListPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decoding go list: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	var sawSelf bool
	for _, p := range pkgs {
		sawSelf = sawSelf || p.ImportPath == subprocessorsImportPath
	}
	if len(pkgs) < 2 || !sawSelf {
		t.Fatalf("go list found %d packages, without %s: the check would check nothing", len(pkgs), subprocessorsImportPath)
	}
	for _, v := range sdkImportViolations(pkgs) {
		t.Errorf("%s: only package subprocessors may import a subprocessor's SDK", v)
	}
}

// TestNoSDKImportBehindBuildTags reads the import clause of every Go file
// of the module, whatever its build constraints (which go list honours),
// so a file behind a build tag cannot import an SDK outside package
// subprocessors either.
func TestNoSDKImportBehindBuildTags(t *testing.T) {
	root := importCheckModuleRoot(t)
	const module = "github.com/convot/convot"
	byPackage := map[string]*goListPackage{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "vendor" || name == "node_modules") {
				return filepath.SkipDir
			}
			if p != root {
				if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
					return filepath.SkipDir // another module
				}
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.ImportsOnly)
		if err != nil {
			return nil // a file being written; go list and the compiler judge it
		}
		rel, err := filepath.Rel(root, filepath.Dir(p))
		if err != nil {
			return err
		}
		importPath := path.Join(module, filepath.ToSlash(rel))
		pkg := byPackage[importPath]
		if pkg == nil {
			pkg = &goListPackage{ImportPath: importPath}
			byPackage[importPath] = pkg
		}
		for _, spec := range f.Imports {
			imp, err := strconv.Unquote(spec.Path.Value)
			if err != nil {
				continue
			}
			if strings.HasSuffix(name, "_test.go") {
				pkg.TestImports = append(pkg.TestImports, imp)
			} else {
				pkg.Imports = append(pkg.Imports, imp)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if byPackage[subprocessorsImportPath] == nil {
		t.Fatalf("package subprocessors not found under %s", root)
	}
	pkgs := make([]goListPackage, 0, len(byPackage))
	for _, p := range byPackage {
		pkgs = append(pkgs, *p)
	}
	for _, v := range sdkImportViolations(pkgs) {
		t.Errorf("%s: only package subprocessors may import a subprocessor's SDK", v)
	}
}

// TestSDKImportViolationsCatches proves the checker fails on a fabricated
// import graph.
func TestSDKImportViolationsCatches(t *testing.T) {
	pkgs := []goListPackage{
		{ImportPath: subprocessorsImportPath, Imports: []string{"github.com/stripe/stripe-go/v76", "github.com/aws/aws-sdk-go-v2/service/s3"},
			XTestImports: []string{"github.com/redis/go-redis/v9"}},
		{ImportPath: "github.com/convot/convot/handlers", Imports: []string{"net/http", "github.com/stripe/stripe-go/v76/customer"}},
		{ImportPath: "github.com/convot/convot/activities", TestImports: []string{"github.com/redis/go-redis/v9"}},
		{ImportPath: "github.com/convot/convot/internal/config", XTestImports: []string{"github.com/getsentry/sentry-go"}},
		{ImportPath: "github.com/convot/convot/subprocessors/fake", Imports: []string{"github.com/anthropics/anthropic-sdk-go/v2"}},
		{ImportPath: "github.com/convot/convot/subprocessorsx", Imports: []string{"github.com/openai/openai-go/v3/option"}},
		{ImportPath: "github.com/convot/convot/cmd/convot", Imports: []string{"github.com/aws/aws-sdk-go-v2"}},
		// Not SDKs: a lookalike module path, the repo's own packages, gofakes3.
		{ImportPath: "github.com/convot/convot/models", Imports: []string{"github.com/stripe/stripe-go-lookalike", "github.com/convot/convot/subprocessors", "github.com/johannesboyne/gofakes3"}},
	}
	got := sdkImportViolations(pkgs)
	want := []string{
		"github.com/convot/convot/activities (test) imports github.com/redis/go-redis/v9",
		"github.com/convot/convot/cmd/convot imports github.com/aws/aws-sdk-go-v2",
		"github.com/convot/convot/handlers imports github.com/stripe/stripe-go/v76/customer",
		"github.com/convot/convot/internal/config (external test) imports github.com/getsentry/sentry-go",
		"github.com/convot/convot/subprocessors/fake imports github.com/anthropics/anthropic-sdk-go/v2",
		"github.com/convot/convot/subprocessorsx imports github.com/openai/openai-go/v3/option",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("violations\n got %q\nwant %q", got, want)
	}
	if v := sdkImportViolations(pkgs[:1]); len(v) != 0 {
		t.Fatalf("package subprocessors itself flagged: %q", v)
	}
}
