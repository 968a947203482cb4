package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// Chromium returns the browser for browser tests: $CHROMIUM, else a
// chromium on PATH. Without one the test is skipped, or fails under CI.
func Chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	return Require(t, "CHROMIUM")
}

// ChromiumFlags are the flags Chromium needs here: headless, as root, and
// quiet on a closed network (without the background-networking flags it
// stalls trying to reach Google's hosts).
var ChromiumFlags = []string{
	"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
	"--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
}
