// Package policies is the egress gate: every byte that leaves Convot for a
// subprocessor is first authorized here (DESIGN.md invariant 2).
//
// The rules are Rego (egress.rego, package convot.egress) evaluated in-process
// with OPA; the subprocessors, their purposes, data categories, locations,
// DPAs and SCCs are one data document (registry.json, data.convot.registry)
// that the policy reads and that Go reads through LoadRegistry. Both, and the
// Rego tests beside the policy, are embedded in the binary.
package policies

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"sort"
	"strings"
)

//go:embed *.rego registry.json
var embedded embed.FS

// registryFile is the data document read by the policy as data.convot.registry.
const registryFile = "registry.json"

// sourceFiles returns the embedded files, name to content.
func sourceFiles() map[string]string {
	out := map[string]string{}
	entries, err := fs.ReadDir(embedded, ".")
	if err != nil {
		panic("policies: embedded sources unreadable: " + err.Error())
	}
	for _, e := range entries {
		b, err := fs.ReadFile(embedded, e.Name())
		if err != nil {
			panic("policies: embedded source unreadable: " + err.Error())
		}
		out[e.Name()] = string(b)
	}
	return out
}

// isTestModule tells a Rego test file from a policy.
func isTestModule(name string) bool { return strings.HasSuffix(name, "_test.rego") }

// Sources returns the Rego source files, policies and their tests, by file
// name (for `convot policy` and the auditors' pages).
func Sources() map[string]string {
	out := map[string]string{}
	for name, src := range sourceFiles() {
		if strings.HasSuffix(name, ".rego") {
			out[name] = src
		}
	}
	return out
}

// RegistryDocument returns the registry data document as embedded
// (registry.json): the subprocessors of policy §6 with their purposes,
// categories, locations, DPAs and SCCs.
func RegistryDocument() []byte {
	b, err := fs.ReadFile(embedded, registryFile)
	if err != nil {
		panic("policies: embedded registry unreadable: " + err.Error())
	}
	return b
}

// policyModules returns the policy modules (not the tests).
func policyModules() map[string]string {
	out := map[string]string{}
	for name, src := range Sources() {
		if !isTestModule(name) {
			out[name] = src
		}
	}
	return out
}

// Revision identifies the policy that takes decisions: the hex SHA-256 of the
// policy modules and the registry document, each as its file name, a NUL, its
// content and a NUL, in file-name order. Tests do not change it.
func Revision() string { return revision(policyModules(), RegistryDocument()) }

func revision(modules map[string]string, data []byte) string {
	files := map[string]string{registryFile: string(data)}
	for name, src := range modules {
		files[name] = src
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, name := range names {
		h.Write([]byte(name))
		h.Write([]byte{0})
		h.Write([]byte(files[name]))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}
