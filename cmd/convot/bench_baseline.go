package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/convot/convot/store"
)

// The baseline of `convot bench messages`: what PostgreSQL itself does on
// this machine and disk, measured by pgbench in the same run: one durable
// single-row insert (a 200-byte row) per transaction, synchronous commit
// on, with 16 and 64 clients. Convot's messages are compared with it, and
// the CPU time of every process serving the run is divided by what it did.

// baselineScript is pgbench's transaction: one insert of a 200-byte row.
const baselineScript = `\set n random(1, 1000000000)
INSERT INTO %s.baseline_rows (n, body) VALUES (:n, rpad(:n::text, 200, '.'));
`

// parseClients reads -pgbench: client counts separated by commas; "" or
// "0" is none.
func parseClients(s string) ([]int, error) {
	if s == "" || s == "0" {
		return nil, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 1000 {
			return nil, fmt.Errorf("-pgbench %q: want client counts from 1 to 1000, separated by commas", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// findPgbench returns the pgbench binary: on PATH, else in PostgreSQL's
// bin directories (Debian puts it in /usr/lib/postgresql/<version>/bin).
func findPgbench() (string, error) {
	if p, err := exec.LookPath("pgbench"); err == nil {
		return p, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pgbench")
	if len(matches) > 0 {
		slices.Sort(matches)
		return matches[len(matches)-1], nil
	}
	return "", errors.New("pgbench not found (it comes with PostgreSQL's client tools): put it on PATH, or pass -pgbench '' to run without the baseline")
}

// pgbenchEnv is the libpq environment for pgbench from a PostgreSQL URL.
func pgbenchEnv(databaseURL, appName string) ([]string, error) {
	u, err := url.Parse(databaseURL)
	if err != nil {
		return nil, err
	}
	env := []string{"PGAPPNAME=" + appName, "PGOPTIONS=-c synchronous_commit=on"}
	if h := u.Hostname(); h != "" {
		env = append(env, "PGHOST="+h)
	}
	if p := u.Port(); p != "" {
		env = append(env, "PGPORT="+p)
	}
	if u.User != nil {
		env = append(env, "PGUSER="+u.User.Username())
		if pw, ok := u.User.Password(); ok {
			env = append(env, "PGPASSWORD="+pw)
		}
	}
	if db := strings.TrimPrefix(u.Path, "/"); db != "" {
		env = append(env, "PGDATABASE="+db)
	}
	if m := u.Query().Get("sslmode"); m != "" {
		env = append(env, "PGSSLMODE="+m)
	}
	return env, nil
}

type baselineResult struct {
	clients int
	tps     float64
	txns    int64
	// client is pgbench's own CPU time, backends that of the PostgreSQL
	// backends serving it.
	client, backends time.Duration
}

var (
	tpsLine   = regexp.MustCompile(`(?m)^tps = ([0-9.]+) \(without initial connection time\)`)
	txnsLine  = regexp.MustCompile(`(?m)^number of transactions actually processed: ([0-9]+)`)
	appSuffix = strings.NewReplacer("_", "-")
)

// runBaseline runs pgbench once with clients for d, inserting into the
// bench schema.
func runBaseline(ctx context.Context, pgbench string, st *store.Store, databaseURL, schema string, clients int, d time.Duration) (baselineResult, error) {
	res := baselineResult{clients: clients}
	appName := "convot-pgbench-" + appSuffix.Replace(schema)
	env, err := pgbenchEnv(databaseURL, appName)
	if err != nil {
		return res, err
	}
	script := filepath.Join(os.TempDir(), "convot-pgbench-"+schema+".sql")
	if err := os.WriteFile(script, fmt.Appendf(nil, baselineScript, `"`+schema+`"`), 0o600); err != nil {
		return res, err
	}
	defer func() { _ = os.Remove(script) }()
	threads := min(clients, runtime.NumCPU())
	secs := max(1, int(d.Round(time.Second)/time.Second))
	cmd := exec.CommandContext(ctx, pgbench, "-n", "-f", script, "-c", strconv.Itoa(clients), "-j", strconv.Itoa(threads), "-T", strconv.Itoa(secs))
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	backends := newBackendCPU(st, appName)
	if err := cmd.Start(); err != nil {
		return res, fmt.Errorf("pgbench: %w", err)
	}
	stop := backends.sample(ctx)
	err = cmd.Wait()
	stop()
	if err != nil {
		return res, fmt.Errorf("pgbench: %w\n%s", err, lastLines(out.String(), 5))
	}
	m := tpsLine.FindStringSubmatch(out.String())
	if m == nil {
		return res, fmt.Errorf("pgbench printed no TPS:\n%s", lastLines(out.String(), 5))
	}
	res.tps, _ = strconv.ParseFloat(m[1], 64)
	if m := txnsLine.FindStringSubmatch(out.String()); m != nil {
		res.txns, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.client = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	res.backends = backends.total()
	return res, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// clockTick is the unit of the CPU times in /proc/<pid>/stat (USER_HZ,
// 100 on Linux).
const clockTick = 10 * time.Millisecond

// procCPU is the user and system CPU time a process has used so far, read
// from /proc (Linux); false when it cannot be read (no such process, or no
// /proc).
func procCPU(pid int) (time.Duration, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	fields := strings.Fields(string(b[i+1:]))
	// fields[0] is field 3 (state): utime is field 14, stime field 15.
	if len(fields) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * clockTick, true
}

// selfCPU is this process's user and system CPU time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// backendCPU follows the CPU time of the PostgreSQL backends of the
// connections named appName, from when sampling starts: backends already
// open count from then, new ones from their start. A backend that ends
// between two samples loses at most a sample period (250 ms) of its time.
// PostgreSQL must run on this machine (its /proc); else the total is 0.
type backendCPU struct {
	st      *store.Store
	appName string
	mu      sync.Mutex
	first   map[int]time.Duration
	last    map[int]time.Duration
}

func newBackendCPU(st *store.Store, appName string) *backendCPU {
	return &backendCPU{st: st, appName: appName, first: map[int]time.Duration{}, last: map[int]time.Duration{}}
}

func (b *backendCPU) poll(ctx context.Context, initial bool) {
	pids, err := b.st.BackendPIDs(ctx, b.appName)
	if err != nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, pid := range pids {
		cpu, ok := procCPU(pid)
		if !ok {
			continue
		}
		if _, seen := b.first[pid]; !seen {
			if initial {
				b.first[pid] = cpu
			} else {
				b.first[pid] = 0
			}
		}
		b.last[pid] = cpu
	}
}

// sample polls now and every 250 ms until the returned function is called,
// which polls a last time.
func (b *backendCPU) sample(ctx context.Context) (stop func()) {
	b.poll(ctx, true)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				b.poll(ctx, false)
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		b.poll(ctx, false)
	}
}

func (b *backendCPU) total() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	var t time.Duration
	for pid, last := range b.last {
		t += last - b.first[pid]
	}
	return t
}

// perUnit is d divided by n, as microseconds.
func perUnit(d time.Duration, n int64) string {
	if n <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0fµs", float64(d.Microseconds())/float64(n))
}

// printBaseline writes the pgbench figures.
func printBaseline(w io.Writer, results []baselineResult, d time.Duration) {
	_, _ = fmt.Fprintf(w, "baseline: pgbench, one 200-byte row inserted per transaction, synchronous_commit on, %s per run\n", d.Round(time.Second))
	for _, r := range results {
		_, _ = fmt.Fprintf(w, "  %3d clients: %7.0f TPS; CPU per insert: PostgreSQL backends %s, pgbench %s\n",
			r.clients, r.tps, perUnit(r.backends, r.txns), perUnit(r.client, r.txns))
	}
}
