// Package devstack runs the local infrastructure `convot dev` needs on one
// machine. Today that is the Temporal dev server (from the Temporal CLI,
// `temporal server start-dev`), run as a supervised child process.
package devstack

import (
	"bufio"
	"bytes"
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

const (
	// TemporalCLIModule is the package `go install` builds the CLI from.
	TemporalCLIModule = "github.com/temporalio/cli/cmd/temporal"
	// TemporalCLIVersion is the pinned Temporal CLI version (DESIGN.md, Runtime).
	TemporalCLIVersion = "v1.5.1"

	// versionTimeout bounds `temporal --version`; the binary is large and
	// its first start from a cold disk can take a few seconds.
	versionTimeout = 30 * time.Second
	// buildTickEvery is how often the user is told the build is still running.
	buildTickEvery = 30 * time.Second
)

// exeSuffix is the file name suffix of executables on this OS.
var exeSuffix = func() string {
	if runtime.GOOS == "windows" {
		return ".exe"
	}
	return ""
}()

// FindTemporalCLI returns the path of a Temporal CLI binary, in this order:
//
//  1. the TEMPORAL_CLI environment variable (it must run `--version`; a bad
//     value is an error, not a reason to look elsewhere);
//  2. `temporal` on PATH, if it runs `--version` (otherwise it is skipped
//     with a note on progress);
//  3. the binary in the convot cache directory
//     ($XDG_CACHE_HOME/convot/temporal-cli-v1.5.1, else under
//     os.UserCacheDir()), trusted as is;
//  4. otherwise the CLI is built once into that cache directory with
//     `go install github.com/temporalio/cli/cmd/temporal@v1.5.1`, which
//     downloads and compiles the Temporal server and may take several
//     minutes. The build is installed atomically, so an interrupted build
//     never leaves a half-written binary in the cache.
//
// env looks up environment variables (nil means os.Getenv); PATH is taken
// from it too. What is happening is reported on progress (nil discards).
func FindTemporalCLI(ctx context.Context, env func(string) string, progress io.Writer) (path string, err error) {
	if env == nil {
		env = os.Getenv
	}
	if progress == nil {
		progress = io.Discard
	}

	if p := env("TEMPORAL_CLI"); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			return "", fmt.Errorf("TEMPORAL_CLI=%s: %w", p, err)
		}
		if err := checkExecutable(abs); err != nil {
			return "", fmt.Errorf("TEMPORAL_CLI=%s: %w", p, err)
		}
		v, err := cliVersion(ctx, abs)
		if err != nil {
			return "", fmt.Errorf("TEMPORAL_CLI=%s is not a usable Temporal CLI: %w", p, err)
		}
		noteVersion(progress, abs, v)
		return abs, nil
	}

	if p := lookPath("temporal", env("PATH")); p != "" {
		v, err := cliVersion(ctx, p)
		if err == nil {
			noteVersion(progress, p, v)
			return p, nil
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		_, _ = fmt.Fprintf(progress, "ignoring %s on PATH: it is not a usable Temporal CLI (%v)\n", p, err)
	}

	dir, err := CLICacheDir(env)
	if err != nil {
		return "", err
	}
	cached := filepath.Join(dir, "temporal"+exeSuffix)
	if checkExecutable(cached) == nil {
		return cached, nil
	}

	goTool := lookPath("go", env("PATH"))
	if goTool == "" {
		return "", fmt.Errorf("the Temporal CLI was not found: install the Temporal CLI %s "+
			"(https://docs.temporal.io/cli) so that `temporal` is on PATH, or set TEMPORAL_CLI "+
			"to the path of its binary (convot can build it itself, but `go` is not on PATH either)",
			TemporalCLIVersion)
	}
	if err := buildCLI(ctx, goTool, dir, progress); err != nil {
		return "", err
	}
	return cached, nil
}

// CLICacheDir is the directory the Temporal CLI is built into and reused
// from: $XDG_CACHE_HOME/convot/temporal-cli-<version>, or the same under
// os.UserCacheDir() when XDG_CACHE_HOME is unset. env nil means os.Getenv.
func CLICacheDir(env func(string) string) (string, error) {
	if env == nil {
		env = os.Getenv
	}
	root := env("XDG_CACHE_HOME")
	if root == "" || !filepath.IsAbs(root) {
		var err error
		root, err = os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("no cache directory for the Temporal CLI (set XDG_CACHE_HOME, or TEMPORAL_CLI): %w", err)
		}
	}
	return filepath.Join(root, "convot", "temporal-cli-"+TemporalCLIVersion), nil
}

// buildCLI runs `go install` with GOBIN pointing at a fresh temporary
// directory next to dir, then renames the binary into dir.
func buildCLI(ctx context.Context, goTool, dir string, progress io.Writer) error {
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("create the Temporal CLI cache directory: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, ".temporal-cli-build-")
	if err != nil {
		return fmt.Errorf("create the Temporal CLI build directory: %w", err)
	}
	defer func() { _ = os.RemoveAll(tmp) }() // a leftover build directory harms nothing

	pkg := TemporalCLIModule + "@" + TemporalCLIVersion
	_, _ = fmt.Fprintf(progress, "The Temporal CLI was not found (set TEMPORAL_CLI or put `temporal` on PATH to use your own).\n"+
		"Building %s into %s with `go install`.\n"+
		"This happens once and may take several minutes: it downloads and compiles the Temporal server.\n",
		pkg, dir)

	cmd := exec.CommandContext(ctx, goTool, "install", pkg)
	cmd.Dir = parent // outside any module or workspace
	cmd.Env = append(withoutEnv(os.Environ(), "GOBIN", "GOWORK"), "GOBIN="+tmp, "GOWORK=off")
	out := &tailBuffer{max: 8 << 10}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("go install %s: %w", pkg, err)
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait() }()
	tick := time.NewTicker(buildTickEvery)
	defer tick.Stop()
wait:
	for {
		select {
		case <-tick.C:
			_, _ = fmt.Fprintf(progress, "still building the Temporal CLI (%s so far)...\n", time.Since(start).Round(time.Second))
		case err = <-waitErr:
			break wait
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("building the Temporal CLI was interrupted: %w", ctx.Err())
		}
		return fmt.Errorf("go install %s failed: %w\n%s\n(install the Temporal CLI yourself and set TEMPORAL_CLI to skip this build)",
			pkg, err, strings.TrimSpace(out.String()))
	}

	built := filepath.Join(tmp, "temporal"+exeSuffix)
	if err := checkExecutable(built); err != nil {
		return fmt.Errorf("go install %s produced no binary: %w", pkg, err)
	}
	if _, err := cliVersion(ctx, built); err != nil {
		return fmt.Errorf("the freshly built Temporal CLI does not run: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create the Temporal CLI cache directory: %w", err)
	}
	final := filepath.Join(dir, "temporal"+exeSuffix)
	if err := os.Rename(built, final); err != nil {
		return fmt.Errorf("install the Temporal CLI into the cache: %w", err)
	}
	_, _ = fmt.Fprintf(progress, "built the Temporal CLI in %s: %s\n", time.Since(start).Round(time.Second), final)
	return nil
}

// cliVersion runs `path --version` and returns its first line, which must
// look like "temporal version ...".
func cliVersion(ctx context.Context, path string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, versionTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "--version")
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	first = strings.TrimSpace(first)
	if err != nil {
		if first != "" {
			return "", fmt.Errorf("`--version`: %w: %s", err, first)
		}
		return "", fmt.Errorf("`--version`: %w", err)
	}
	if !strings.HasPrefix(first, "temporal version ") {
		return "", fmt.Errorf("`--version` printed %q, not \"temporal version ...\"", first)
	}
	return first, nil
}

// noteVersion tells the user which CLI is used, and warns when it is not the
// pinned version. A CLI installed with `go install` reports 0.0.0-DEV; its
// module version is then read from the binary's build information.
func noteVersion(progress io.Writer, path, version string) {
	v := strings.TrimPrefix(version, "temporal version ")
	v, _, _ = strings.Cut(v, " ")
	if v == "0.0.0-DEV" {
		if bi, err := buildinfo.ReadFile(path); err == nil && bi.Main.Path == "github.com/temporalio/cli" && bi.Main.Version != "" {
			v = bi.Main.Version
		}
	}
	_, _ = fmt.Fprintf(progress, "using the Temporal CLI at %s (%s)\n", path, version)
	if strings.TrimPrefix(v, "v") != strings.TrimPrefix(TemporalCLIVersion, "v") && v != "0.0.0-DEV" && v != "(devel)" {
		_, _ = fmt.Fprintf(progress, "note: convot is tested with Temporal CLI %s; this one is %s\n", TemporalCLIVersion, v)
	}
}

// lookPath finds an executable called name in the absolute directories of
// pathList (relative entries such as "." are ignored). "" if none.
func lookPath(name, pathList string) string {
	for _, dir := range filepath.SplitList(pathList) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue
		}
		p := filepath.Join(dir, name+exeSuffix)
		if checkExecutable(p) == nil {
			return p
		}
	}
	return ""
}

// checkExecutable reports whether path is a regular, executable file.
func checkExecutable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return errors.New("not a regular file")
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o111 == 0 {
		return errors.New("not executable")
	}
	return nil
}

// withoutEnv drops the given variables from an environment list.
func withoutEnv(environ []string, names ...string) []string {
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, n := range names {
			if k == n {
				drop = true
				break
			}
		}
		if !drop {
			out = append(out, kv)
		}
	}
	return out
}

// tailBuffer keeps the last max bytes written to it. It is safe for one
// writer at a time (exec serialises writes when Stdout == Stderr).
type tailBuffer struct {
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

// String returns the kept bytes, starting at a line boundary when the
// buffer was truncated.
func (t *tailBuffer) String() string {
	b := t.buf
	if len(b) >= t.max {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b)
}

// lastLines returns up to n final lines of s.
func lastLines(s string, n int) string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}
