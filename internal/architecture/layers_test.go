package architecture

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/convot/convot"

// Layers, lowest first. A package may import packages of its own layer or
// below, never above. Every package of the module must be listed here, so
// a new package is placed on purpose.
var layers = []struct {
	name     string
	packages []string // import paths below the module; "x/..." matches x and below
}{
	{"leaves", []string{
		"policies", "workflows", "internal/obligations", "internal/crypto", "internal/config",
		"internal/mail", "internal/payloads", "internal/geoip/...",
		"internal/devstack", "internal/ratelimit", "internal/architecture",
		"internal/testenv", "internal/shopifytest", "internal/metrics", "internal/tracing", "web",
	}},
	{"subprocessors", []string{"subprocessors", "internal/realtime", "internal/blob"}},
	{"schema", []string{"models", "internal/testdb"}},
	{"storage", []string{"store", "internal/backup"}},
	{"domain", []string{"conversation", "contacts", "plans", "dsr", "retention", "closure", "subscriptions", "assist", "outgoing", "shopify", "security", "disclosures", "reports", "alerts"}},
	{"transports", []string{"handlers/...", "activities", "cmd/..."}},
}

// queryBuilders are the packages only the storage layer and the schema may
// import: a transport or domain package that imports one builds queries.
var queryBuilders = []string{"gorm.io/gorm", "gorm.io/gorm/clause", "gorm.io/driver/postgres", "github.com/glebarez/sqlite"}

// httpFrameworks are for transports only: a domain package that imports
// one answers requests itself, and no other surface could call it.
var httpFrameworks = []string{"github.com/gin-gonic/gin"}

type pkg struct {
	path    string
	imports []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []pkg
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		pkgs = append(pkgs, pkg{path: strings.TrimPrefix(strings.TrimPrefix(f[0], module), "/"), imports: f[1:]})
	}
	return pkgs
}

// layerOf returns the index of rel's layer, or -1.
func layerOf(rel string) int {
	for i, l := range layers {
		for _, p := range l.packages {
			if rel == p || (strings.HasSuffix(p, "/...") && (rel == strings.TrimSuffix(p, "/...") || strings.HasPrefix(rel, strings.TrimSuffix(p, "...")))) {
				return i
			}
		}
	}
	return -1
}

func TestEveryPackageHasALayer(t *testing.T) {
	for _, p := range listPackages(t) {
		if layerOf(p.path) < 0 {
			t.Errorf("package %s is in no layer: add it to layers in internal/architecture/layers_test.go", p.path)
		}
	}
}

func TestImportsGoDownTheLayers(t *testing.T) {
	for _, p := range listPackages(t) {
		from := layerOf(p.path)
		for _, imp := range p.imports {
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			rel := strings.TrimPrefix(imp, module+"/")
			to := layerOf(rel)
			if err := allowed(p.path, from, rel, to); err != nil {
				t.Error(err)
			}
		}
	}
}

// allowed says whether the package at layer from may import the package at
// layer to. Transports are side by side: an HTTP surface never imports
// another surface or the activities, except the composition root
// (handlers) and the commands that wire everything.
func allowed(src string, from int, dst string, to int) error {
	if from < 0 || to < 0 {
		return nil // reported by TestEveryPackageHasALayer
	}
	if to > from {
		return fmt.Errorf("%s (%s) imports %s (%s): a layer may only import its own or lower ones", src, layers[from].name, dst, layers[to].name)
	}
	if layers[from].name != "transports" || to != from {
		return nil
	}
	switch {
	case strings.HasPrefix(src, "cmd/"):
		return nil
	case src == "handlers" && strings.HasPrefix(dst, "handlers/"):
		return nil // the composition root mounts every surface
	case strings.HasPrefix(src, "handlers/") && dst == "handlers/site":
		return nil // the shared rendering, sessions and CSRF
	}
	return fmt.Errorf("%s imports %s: transports do not import each other (shared code belongs in a domain package or handlers/site)", src, dst)
}

func TestTransportsAndDomainsBuildNoQueries(t *testing.T) {
	storage := layerIndex(t, "storage")
	bad := importsOf(t, func(layer int) bool { return layer > storage }, queryBuilders)
	if len(bad) > 0 {
		t.Fatalf("above the storage layer nothing builds a query; call a store method instead:\n  %s", strings.Join(bad, "\n  "))
	}
}

func TestDomainsSpeakNoHTTP(t *testing.T) {
	domain := layerIndex(t, "domain")
	bad := importsOf(t, func(layer int) bool { return layer == domain }, httpFrameworks)
	if len(bad) > 0 {
		t.Fatalf("a domain package takes contexts and domain values, not requests; the transport translates:\n  %s", strings.Join(bad, "\n  "))
	}
}

// layerIndex is the index in layers of the layer called name.
func layerIndex(t *testing.T, name string) int {
	t.Helper()
	for i, l := range layers {
		if l.name == name {
			return i
		}
	}
	t.Fatalf("no layer %q", name)
	return -1
}

// importsOf lists, sorted, "p imports m" for every package p of a layer in
// in and every import m that is one of modules or a package below one.
func importsOf(t *testing.T, in func(layer int) bool, modules []string) []string {
	t.Helper()
	var out []string
	for _, p := range listPackages(t) {
		if !in(layerOf(p.path)) {
			continue
		}
		for _, imp := range p.imports {
			for _, m := range modules {
				if imp == m || strings.HasPrefix(imp, m+"/") {
					out = append(out, p.path+" imports "+imp)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}
