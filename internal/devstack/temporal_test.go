//go:build unix

package devstack

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"github.com/convot/convot/internal/testenv"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
)

func freePort(t *testing.T) int {
	t.Helper()
	p, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func dial(t *testing.T, addr string) client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.DialContext(ctx, client.Options{HostPort: addr,
		Logger: tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	return c
}

// eventually retries f until it succeeds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %s: %v", what, timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestTemporalDevServer(t *testing.T) {
	cli := testenv.Require(t, "TEMPORAL_CLI")
	dir := t.TempDir()
	port, uiPort := freePort(t), freePort(t)
	for uiPort == port {
		uiPort = freePort(t)
	}

	start := time.Now()
	srv, err := StartTemporal(context.Background(), TemporalOptions{
		CLIPath: cli, DataDir: dir, Port: port, UIPort: uiPort,
		SearchAttributes: map[string]string{"ConvotTestStatus": "Keyword", "ConvotTestDue": "Datetime"},
		Logger:           testLogger(t),
	})
	if err != nil {
		t.Fatalf("StartTemporal: %v", err)
	}
	t.Logf("ready in %s (pid %d)", time.Since(start).Round(time.Millisecond), srv.Pid())
	t.Cleanup(func() { _ = srv.Stop(5 * time.Second) })

	if want := "127.0.0.1:" + itoa(port); srv.Address() != want {
		t.Errorf("Address() = %s, want %s", srv.Address(), want)
	}
	if want := "http://127.0.0.1:" + itoa(uiPort); srv.UIURL() != want {
		t.Errorf("UIURL() = %s, want %s", srv.UIURL(), want)
	}

	c := dial(t, srv.Address())
	defer c.Close()
	ctx := context.Background()
	if _, err := c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		t.Fatalf("CheckHealth: %v", err)
	}
	resp, err := http.Get(srv.UIURL())
	if err != nil {
		t.Fatalf("web UI: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("web UI answered %s", resp.Status)
	}
	sa, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: "default"})
	if err != nil {
		t.Fatalf("ListSearchAttributes: %v", err)
	}
	if got := sa.GetCustomAttributes()["ConvotTestStatus"]; got != enumspb.INDEXED_VALUE_TYPE_KEYWORD {
		t.Errorf("ConvotTestStatus has type %v, want Keyword", got)
	}
	if got := sa.GetCustomAttributes()["ConvotTestDue"]; got != enumspb.INDEXED_VALUE_TYPE_DATETIME {
		t.Errorf("ConvotTestDue has type %v, want Datetime", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "temporal.db")); err != nil {
		t.Errorf("no database file: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "temporal.log")); err != nil || !strings.Contains(string(b), "start-dev") {
		t.Errorf("temporal.log: %v, %q", err, b)
	}

	// A second server on the same ports is refused rather than mistaken for
	// the first one.
	if _, err := StartTemporal(ctx, TemporalOptions{CLIPath: cli, DataDir: t.TempDir(), Port: port, UIPort: freePort(t)}); err == nil ||
		!strings.Contains(err.Error(), "not available") {
		t.Errorf("second server on port %d: err = %v, want port not available", port, err)
	}

	// The supervisor restarts a child killed hard.
	oldPid := srv.Pid()
	restartStart := time.Now()
	if err := syscall.Kill(oldPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "new pid", func() error {
		if p := srv.Pid(); p == oldPid || p == 0 {
			return errors.New("not restarted yet")
		}
		return nil
	})
	eventually(t, 60*time.Second, "health after restart", func() error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err := c.CheckHealth(ctx, &client.CheckHealthRequest{})
		return err
	})
	t.Logf("restarted and healthy in %s (pid %d -> %d)", time.Since(restartStart).Round(time.Millisecond), oldPid, srv.Pid())
	if srv.Restarts() != 1 {
		t.Errorf("Restarts() = %d, want 1", srv.Restarts())
	}
	sa, err = c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: "default"})
	if err != nil || sa.GetCustomAttributes()["ConvotTestStatus"] != enumspb.INDEXED_VALUE_TYPE_KEYWORD {
		t.Errorf("search attribute after restart: %v, %v", err, sa.GetCustomAttributes())
	}

	// Stop leaves no process in the group, and nothing is restarted.
	pgid := srv.Pid()
	stopStart := time.Now()
	if err := srv.Stop(10 * time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	t.Logf("stopped in %s", time.Since(stopStart).Round(time.Millisecond))
	if err := syscall.Kill(-pgid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("kill(-%d, 0) = %v, want ESRCH", pgid, err)
	}
	select {
	case <-srv.Done():
	default:
		t.Error("Done() is not closed after Stop")
	}
	if err := srv.Err(); err != nil {
		t.Errorf("Err() = %v after a clean stop", err)
	}
	if err := srv.Stop(time.Second); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	time.Sleep(time.Second) // a restart would happen within the first backoff
	if p := srv.Pid(); p != pgid || syscall.Kill(-pgid, 0) == nil {
		t.Errorf("a process was started after Stop (pid %d)", p)
	}
	if err := checkPortsFree("127.0.0.1", port, uiPort); err != nil {
		t.Errorf("ports still taken after Stop: %v", err)
	}
}

// Stop during the restart backoff prevents the restart; a supervisor out of
// restarts reports it through Done and Err.
func TestTemporalSupervisionEdges(t *testing.T) {
	cli := testenv.Require(t, "TEMPORAL_CLI")
	start := func(maxRestarts int) *TemporalServer {
		srv, err := StartTemporal(context.Background(), TemporalOptions{
			CLIPath: cli, DataDir: t.TempDir(), Port: freePort(t), UIPort: freePort(t),
			MaxRestarts: maxRestarts, Logger: testLogger(t),
		})
		if err != nil {
			t.Fatalf("StartTemporal: %v", err)
		}
		t.Cleanup(func() { _ = srv.Stop(5 * time.Second) })
		return srv
	}

	t.Run("stop during backoff", func(t *testing.T) {
		srv := start(0)
		pid := srv.Pid()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond) // exited, restart pending (500ms backoff)
		if err := srv.Stop(5 * time.Second); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		time.Sleep(time.Second)
		if p := srv.Pid(); p != pid {
			t.Errorf("restarted after Stop: pid %d -> %d", pid, p)
		}
		if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("kill(-%d, 0) = %v, want ESRCH", pid, err)
		}
	})

	t.Run("gives up", func(t *testing.T) {
		srv := start(-1) // no restarts
		if err := syscall.Kill(srv.Pid(), syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		select {
		case <-srv.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("Done() not closed after the child died with restarts disabled")
		}
		if err := srv.Err(); err == nil || !strings.Contains(err.Error(), "signal: killed") {
			t.Errorf("Err() = %v", err)
		}
		if err := srv.Stop(time.Second); err != nil {
			t.Errorf("Stop after giving up: %v", err)
		}
	})
}

// A CLI that fails at start makes StartTemporal fail with its output and
// the log's location, without any restart.
func TestTemporalStartFailureReportsOutput(t *testing.T) {
	dir := t.TempDir()
	cli := filepath.Join(dir, "temporal")
	if err := os.WriteFile(cli, []byte("#!/bin/sh\necho \"boom: cannot open the database\" >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := StartTemporal(context.Background(), TemporalOptions{
		CLIPath: cli, DataDir: dir, Port: freePort(t), UIPort: freePort(t),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{"exited during start", "boom: cannot open the database", filepath.Join(dir, "temporal.log")} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

// When convot is killed hard (no Stop), the kernel sends the child SIGTERM
// (Linux Pdeathsig). The test binary re-runs itself as "convot".
func TestTemporalDiesWithParent(t *testing.T) {
	if os.Getenv("DEVSTACK_HELPER_DIR") != "" {
		helperStartAndBlock()
		return
	}
	if runtime.GOOS != "linux" {
		t.Skip("Pdeathsig is Linux only")
	}
	cli := testenv.Require(t, "TEMPORAL_CLI")
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestTemporalDiesWithParent$")
	cmd.Env = append(os.Environ(), "DEVSTACK_HELPER_DIR="+dir, "TEMPORAL_CLI="+cli,
		"DEVSTACK_HELPER_PORTS="+itoa(freePort(t))+","+itoa(freePort(t)))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = testWriter{t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }() // a no-op once the test has killed it
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "PID ") {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("helper: %q, %v", line, err)
	}
	pgid, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "PID ")))
	if err := syscall.Kill(-pgid, 0); err != nil {
		t.Fatalf("the helper's Temporal (pgid %d) is not running: %v", pgid, err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait() // killed: it exits with an error
	eventually(t, 15*time.Second, "the child to die with its parent", func() error {
		if err := syscall.Kill(-pgid, 0); !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("kill(-%d, 0) = %w", pgid, err)
		}
		return nil
	})
}

func helperStartAndBlock() {
	ports := strings.Split(os.Getenv("DEVSTACK_HELPER_PORTS"), ",")
	port, _ := strconv.Atoi(ports[0])
	uiPort, _ := strconv.Atoi(ports[1])
	srv, err := StartTemporal(context.Background(), TemporalOptions{
		CLIPath: os.Getenv("TEMPORAL_CLI"), DataDir: os.Getenv("DEVSTACK_HELPER_DIR"),
		Port: port, UIPort: uiPort, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(1)
	}
	fmt.Printf("PID %d\n", srv.Pid())
	select {} // until killed
}

// testWriter logs to t until the test ends (the supervisor's goroutines
// must not log to a finished test).
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	logMu.Lock()
	defer logMu.Unlock()
	if !ended[w.t] {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

var (
	logMu sync.Mutex
	ended = map[*testing.T]bool{}
)

func testLogger(t *testing.T) *slog.Logger {
	t.Cleanup(func() {
		logMu.Lock()
		ended[t] = true
		logMu.Unlock()
	})
	return slog.New(slog.NewTextHandler(testWriter{t}, nil))
}

func itoa(i int) string { return strconv.Itoa(i) }
