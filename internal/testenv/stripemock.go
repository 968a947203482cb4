package testenv

import (
	"bufio"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// StripeMock starts stripe-mock ($STRIPE_MOCK, installed by .ci/run) on
// free loopback ports for the test and returns its HTTP base URL. It is
// stopped when the test ends. Without STRIPE_MOCK the test is skipped, or
// fails under CI.
func StripeMock(t testing.TB) string {
	t.Helper()
	path := Require(t, "STRIPE_MOCK")
	ctx, cancel := context.WithCancel(context.Background())
	// Empty ports: the system chooses; stripe-mock prints what it chose.
	cmd := exec.CommandContext(ctx, path, "-http-addr", "127.0.0.1:", "-https-addr", "127.0.0.1:")
	out, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start stripe-mock %s: %v", path, err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait() // cancelled, so it exits with an error
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			const prefix = "Listening for HTTP at address: "
			if addr, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), prefix); ok {
				found <- "http://" + addr
			}
		}
	}()
	select {
	case url := <-found:
		return url
	case <-time.After(30 * time.Second):
		t.Fatal("stripe-mock did not say where it listens within 30 s")
		return ""
	}
}
