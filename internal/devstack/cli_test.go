//go:build unix

package devstack

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeCLI writes an executable shell script called temporal into dir that
// prints a version line (or fails when ok is false) and returns its path.
func fakeCLI(t *testing.T, dir, tag string, ok bool) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	body := "#!/bin/sh\necho \"temporal version 1.5.1 (Server 1.29.1, UI 2.42.1) " + tag + "\"\n"
	if !ok {
		body = "#!/bin/sh\necho \"broken " + tag + "\" >&2\nexit 3\n"
	}
	p := filepath.Join(dir, "temporal")
	if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestFindTemporalCLIPrecedence(t *testing.T) {
	root := t.TempDir()
	emptyDir := filepath.Join(root, "empty") // on PATH: neither temporal nor go
	if err := os.MkdirAll(emptyDir, 0o755); err != nil {
		t.Fatal(err)
	}
	envCLI := fakeCLI(t, filepath.Join(root, "env"), "env", true)
	pathDir := filepath.Join(root, "path")
	pathCLI := fakeCLI(t, pathDir, "path", true)
	brokenDir := filepath.Join(root, "broken")
	fakeCLI(t, brokenDir, "broken", false)
	cacheHome := filepath.Join(root, "cache")
	cacheDir, err := CLICacheDir(envOf(map[string]string{"XDG_CACHE_HOME": cacheHome}))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(cacheHome, "convot", "temporal-cli-v1.5.1"); cacheDir != want {
		t.Fatalf("cache dir = %s, want %s", cacheDir, want)
	}
	// The cached binary is trusted: it is not even run, so a failing one
	// proves it was not executed.
	cacheCLI := fakeCLI(t, cacheDir, "cache", false)

	ctx := context.Background()
	cases := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"env wins over PATH and cache", map[string]string{
			"TEMPORAL_CLI": envCLI, "PATH": pathDir, "XDG_CACHE_HOME": cacheHome}, envCLI},
		{"PATH wins over cache", map[string]string{
			"PATH": emptyDir + string(os.PathListSeparator) + pathDir, "XDG_CACHE_HOME": cacheHome}, pathCLI},
		{"cache when PATH has none", map[string]string{
			"PATH": emptyDir, "XDG_CACHE_HOME": cacheHome}, cacheCLI},
		{"cache when the PATH one does not run", map[string]string{
			"PATH": brokenDir, "XDG_CACHE_HOME": cacheHome}, cacheCLI},
		{"relative PATH entries are ignored", map[string]string{
			"PATH": ".", "XDG_CACHE_HOME": cacheHome}, cacheCLI},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var progress bytes.Buffer
			got, err := FindTemporalCLI(ctx, envOf(tc.env), &progress)
			if err != nil {
				t.Fatalf("FindTemporalCLI: %v\nprogress: %s", err, progress.String())
			}
			if got != tc.want {
				t.Fatalf("got %s, want %s\nprogress: %s", got, tc.want, progress.String())
			}
		})
	}

	t.Run("bad TEMPORAL_CLI is an error", func(t *testing.T) {
		for _, p := range []string{filepath.Join(root, "missing"), filepath.Join(brokenDir, "temporal")} {
			_, err := FindTemporalCLI(ctx, envOf(map[string]string{
				"TEMPORAL_CLI": p, "PATH": pathDir, "XDG_CACHE_HOME": cacheHome}), nil)
			if err == nil || !strings.Contains(err.Error(), "TEMPORAL_CLI") {
				t.Fatalf("TEMPORAL_CLI=%s: err = %v, want an error naming TEMPORAL_CLI", p, err)
			}
		}
	})

	t.Run("nothing found and no go is a clear error", func(t *testing.T) {
		var progress bytes.Buffer
		_, err := FindTemporalCLI(ctx, envOf(map[string]string{
			"PATH": emptyDir, "XDG_CACHE_HOME": filepath.Join(root, "emptycache")}), &progress)
		if err == nil {
			t.Fatal("want an error")
		}
		for _, want := range []string{"install the Temporal CLI", "TEMPORAL_CLI", "`go` is not on PATH"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not mention %q", err, want)
			}
		}
		if progress.Len() != 0 {
			t.Errorf("nothing should be built; progress: %s", progress.String())
		}
	})
}

func TestSearchAttributeArgs(t *testing.T) {
	o, args, err := normalize(TemporalOptions{CLIPath: "temporal", DataDir: t.TempDir(),
		SearchAttributes: map[string]string{"B": "datetime", "A": "Keyword"}})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(args, " ")
	for _, want := range []string{"--ip 127.0.0.1", "--port 7233", "--ui-port 8233", "--namespace default",
		"--log-level warn", "--search-attribute A=Keyword --search-attribute B=Datetime",
		"--db-filename " + filepath.Join(o.DataDir, "temporal.db")} {
		if !strings.Contains(got, want) {
			t.Errorf("args %q lack %q", got, want)
		}
	}
	for _, bad := range []map[string]string{{"A": "Nope"}, {"1A": "Keyword"}, {"A-B": "Keyword"}} {
		if _, _, err := normalize(TemporalOptions{CLIPath: "temporal", DataDir: t.TempDir(), SearchAttributes: bad}); err == nil {
			t.Errorf("%v: want an error", bad)
		}
	}
}

// A fake `go` stands in for the toolchain: it checks the arguments and
// GOBIN, then "installs" a fake CLI there.
func TestFindTemporalCLIBuildsIntoCache(t *testing.T) {
	root := t.TempDir()
	goDir := filepath.Join(root, "gobin")
	if err := os.MkdirAll(goDir, 0o755); err != nil {
		t.Fatal(err)
	}
	script := `#!/bin/sh
[ "$1" = install ] && [ "$2" = "github.com/temporalio/cli/cmd/temporal@v1.5.1" ] || { echo "bad args: $*" >&2; exit 2; }
[ -n "$GOBIN" ] || { echo "GOBIN unset" >&2; exit 2; }
echo "go: downloading github.com/temporalio/cli v1.5.1" >&2
printf '#!/bin/sh\necho "temporal version 0.0.0-DEV (Server 1.29.1, UI 2.42.1)"\n' > "$GOBIN/temporal"
chmod 755 "$GOBIN/temporal"
`
	if err := os.WriteFile(filepath.Join(goDir, "go"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	env := envOf(map[string]string{"PATH": goDir, "XDG_CACHE_HOME": filepath.Join(root, "cache")})
	var progress bytes.Buffer
	got, err := FindTemporalCLI(context.Background(), env, &progress)
	if err != nil {
		t.Fatalf("FindTemporalCLI: %v\nprogress: %s", err, progress.String())
	}
	dir, _ := CLICacheDir(env)
	if want := filepath.Join(dir, "temporal"); got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	if !strings.Contains(progress.String(), "several minutes") {
		t.Errorf("the user is not warned the build takes long; progress: %s", progress.String())
	}
	// No build leftovers next to the cache directory.
	entries, _ := os.ReadDir(filepath.Dir(dir))
	if len(entries) != 1 {
		t.Errorf("cache parent holds %d entries, want only %s", len(entries), filepath.Base(dir))
	}
	// Second call reuses the cached binary without building again.
	if err := os.Remove(filepath.Join(goDir, "go")); err != nil {
		t.Fatal(err)
	}
	progress.Reset()
	if again, err := FindTemporalCLI(context.Background(), env, &progress); err != nil || again != got {
		t.Fatalf("second call: %s, %v", again, err)
	}
	if progress.Len() != 0 {
		t.Errorf("second call printed %q", progress.String())
	}
}

// The web UI under a public path (behind Convot's reverse proxy), with a
// same-origin codec endpoint.
func TestUIPublicPathArgs(t *testing.T) {
	_, args, err := normalize(TemporalOptions{CLIPath: "temporal", DataDir: t.TempDir(), UIPublicPath: "/temporal", UICodecEndpoint: "/codec"})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(args, " ")
	for _, want := range []string{"--ui-public-path /temporal", "--ui-codec-endpoint /codec"} {
		if !strings.Contains(got, want) {
			t.Errorf("args %q lack %q", got, want)
		}
	}
	for _, bad := range []string{"temporal", "/temporal/"} {
		if _, _, err := normalize(TemporalOptions{CLIPath: "temporal", DataDir: t.TempDir(), UIPublicPath: bad}); err == nil {
			t.Errorf("public path %q: want an error", bad)
		}
	}
}
