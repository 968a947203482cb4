package policies

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The policies also pass the real opa CLI: `opa check --strict` and
// `opa test`. OPA_CLI names the binary (else opa on PATH); CI installs it.
func TestPoliciesPassTheOPACLI(t *testing.T) {
	opa := os.Getenv("OPA_CLI")
	if opa == "" {
		opa, _ = exec.LookPath("opa")
	}
	if opa == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("the opa CLI is required in CI (set OPA_CLI or put opa on PATH)")
		}
		t.Skip("no opa CLI; set OPA_CLI")
	}
	for _, args := range [][]string{{"check", "--strict", "."}, {"test", "."}} {
		cmd := exec.Command(opa, args...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("opa %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if args[0] == "test" && !strings.Contains(string(out), "PASS") {
			t.Fatalf("opa test ran no test:\n%s", out)
		}
	}
}
