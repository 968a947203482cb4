package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/convot/convot/internal/devstack"
	"github.com/convot/convot/internal/testenv"

	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
)

func freePort(t *testing.T) int {
	t.Helper()
	p, err := devstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// devRun is one `convot dev` process.
type devRun struct {
	cmd    *exec.Cmd
	lines  chan string
	output strings.Builder
}

func startDev(t *testing.T, bin string, env []string) *devRun {
	t.Helper()
	cmd := exec.Command(bin, "dev")
	cmd.Env = env
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &devRun{cmd: cmd, lines: make(chan string, 1000)}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			r.lines <- sc.Text()
		}
		close(r.lines)
	}()
	t.Cleanup(func() {
		// A run the test did not stop: its exit status is of no interest.
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		_ = pw.Close() // ends the reader goroutine; an io.Pipe's Close never fails
	})
	return r
}

// waitFor reads output until a line matches, and returns all lines read.
func (r *devRun) waitFor(t *testing.T, pattern string, timeout time.Duration) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case line, ok := <-r.lines:
			if !ok {
				t.Fatalf("convot dev exited before %q:\n%s", pattern, r.output.String())
			}
			r.output.WriteString(line + "\n")
			if strings.Contains(line, pattern) {
				return r.output.String()
			}
		case <-deadline:
			t.Fatalf("no %q within %s:\n%s", pattern, timeout, r.output.String())
		}
	}
}

// drain keeps reading output so the process never blocks on its pipe.
func (r *devRun) drain() {
	go func() {
		for line := range r.lines {
			r.output.WriteString(line + "\n")
		}
	}()
}

// children lists the processes whose parent is pid.
func children(pid int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// Fields after the command name, which is in parentheses.
		rest := string(stat[strings.LastIndexByte(string(stat), ')')+2:])
		fields := strings.Fields(rest)
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	if err != nil {
		return !errors.Is(err, syscall.ESRCH)
	}
	// A zombie is gone for our purpose.
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	rest := string(stat[strings.LastIndexByte(string(stat), ')')+2:])
	return !strings.HasPrefix(rest, "Z")
}

var ownerLine = regexp.MustCompile(`Owner login:\s+(\S+) / (\S+)`)

// TestDevRunsEverythingAndStopsCleanly builds the binary, runs `convot dev`
// against a temporary data directory and checks what a user relies on.
func TestDevRunsEverythingAndStopsCleanly(t *testing.T) {
	cli := testenv.Require(t, "TEMPORAL_CLI")
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := filepath.Join(t.TempDir(), "convot")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	dataDir := t.TempDir()
	httpPort, temporalPort, uiPort, adminPort := freePort(t), freePort(t), freePort(t), freePort(t)
	env := append(os.Environ(),
		"CONVOT_ADMIN_ADDR=127.0.0.1:"+strconv.Itoa(adminPort),
		"CONVOT_DATA_DIR="+dataDir,
		"CONVOT_HTTP_ADDR=127.0.0.1:"+strconv.Itoa(httpPort),
		"CONVOT_BASE_URL=http://127.0.0.1:"+strconv.Itoa(httpPort),
		"CONVOT_TEMPORAL_PORT="+strconv.Itoa(temporalPort),
		"CONVOT_TEMPORAL_UI_PORT="+strconv.Itoa(uiPort),
		"TEMPORAL_CLI="+cli,
		"TEMPORAL_ADDRESS=", "DATABASE_URL=", "CONVOT_MASTER_KEY=",
	)
	run := startDev(t, bin, env)
	out := run.waitFor(t, "Press Ctrl-C to stop.", 3*time.Minute)
	run.drain()
	m := ownerLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no owner login printed:\n%s", out)
	}
	email, password := m[1], m[2]
	base := "http://127.0.0.1:" + strconv.Itoa(httpPort)

	if resp, err := http.Get(base + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/healthz: %v %v", resp, err)
	}
	// The Temporal UI runs under /temporal, served to signed-in officers
	// under the dashboard's origin: the banner says so, and without a
	// session the UI's API is refused.
	if !strings.Contains(out, "Temporal UI:  "+base+"/temporal/\n") {
		t.Fatalf("the banner does not give the UI under the dashboard's origin:\n%s", out)
	}
	if resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(uiPort) + "/temporal/"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("Temporal UI: %v %v", resp, err)
	}
	if resp, err := http.Get(base + "/temporal/api/v1/settings"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the proxied Temporal UI without a session: %v %v, want 401", resp, err)
	}
	if info, err := os.Stat(filepath.Join(dataDir, "master.key")); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("dev master key: %v %v", info, err)
	}
	// The custom search attributes exist on the namespace.
	c, err := client.Dial(client.Options{HostPort: "127.0.0.1:" + strconv.Itoa(temporalPort)})
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := c.OperatorService().ListSearchAttributes(context.Background(), &operatorservice.ListSearchAttributesRequest{Namespace: "default"})
	c.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ConvotOrgId", "DsrType", "DsrStatus", "DsrDeadline"} {
		if _, ok := attrs.CustomAttributes[name]; !ok {
			t.Errorf("search attribute %s missing", name)
		}
	}
	// The seeded owner can sign in.
	assertLogin(t, base, email, password)
	// dev serves /metrics on its admin listener: the sign-in by route
	// template, and the worker's Temporal SDK metrics.
	metrics := scrape(t, "http://127.0.0.1:"+strconv.Itoa(adminPort))
	if n, _ := sum(metrics, "convot_http_requests_total", `route="/login"`, `method="POST"`); n < 1 {
		t.Errorf("dev /metrics: no POST /login counted")
	}
	if _, ok := sum(metrics, "temporal_request"); !ok {
		t.Errorf("dev /metrics: no Temporal SDK metrics")
	}

	kids := children(run.cmd.Process.Pid)
	if len(kids) == 0 {
		t.Fatal("no child process: the Temporal dev server should be one")
	}
	if err := run.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- run.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("convot dev exited with %v:\n%s", err, run.output.String())
		}
	case <-time.After(45 * time.Second):
		t.Fatal("convot dev did not stop within 45s of SIGINT")
	}
	for _, pid := range kids {
		if alive(pid) {
			t.Errorf("child %d still running after SIGINT", pid)
		}
	}

	// A second run reuses the data: no new owner, the old login works.
	run2 := startDev(t, bin, env)
	out2 := run2.waitFor(t, "Press Ctrl-C to stop.", 2*time.Minute)
	run2.drain()
	if ownerLine.MatchString(out2) {
		t.Fatal("second run seeded another owner")
	}
	assertLogin(t, base, email, password)
	if err := run2.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := run2.cmd.Wait(); err != nil {
		t.Fatalf("second convot dev exited with %v:\n%s", err, run2.output.String())
	}
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func assertLogin(t *testing.T, base, email, password string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	m := csrfField.FindSubmatch(body)
	if m == nil {
		t.Fatal("login page has no CSRF token")
	}
	resp, err = hc.PostForm(base+"/login", url.Values{"csrf_token": {string(m[1])}, "email": {email}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close() // only the status and the redirect are wanted
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("owner login: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// `convot dev` serves the dev mailbox and a seeded owner: by default only
// this machine reaches it; CONVOT_HTTP_ADDR or --addr opens it wider.
func TestDevListensOnLoopbackByDefault(t *testing.T) {
	for _, c := range []struct{ flag, env, want string }{
		{"", "", "127.0.0.1:8080"},
		{"", ":9000", ":9000"},
		{"0.0.0.0:8081", ":9000", "0.0.0.0:8081"},
	} {
		if got := devHTTPAddr(c.flag, c.env); got != c.want {
			t.Errorf("--addr %q, CONVOT_HTTP_ADDR %q: %q, want %q", c.flag, c.env, got, c.want)
		}
	}
}
