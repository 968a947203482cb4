// Package testenv holds the one rule for tests that need an outside
// service or tool (PostgreSQL, Redis, the Temporal or opa CLI): they run
// when its variable is set, are skipped on a developer's machine without
// it, and fail in CI (CI=true), where a skip would hide a missing install.
package testenv

import (
	"os"
	"testing"
)

// Require returns the value of the environment variable naming the service,
// skipping the test without it, or failing it under CI=true.
func Require(t testing.TB, variable string) string {
	t.Helper()
	v := os.Getenv(variable)
	if v == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required in CI", variable)
		}
		t.Skipf("%s is not set", variable)
	}
	return v
}
