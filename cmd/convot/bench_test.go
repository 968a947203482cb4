package main

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/convot/convot/internal/testenv"
)

// A tiny run of `convot bench messages` on PostgreSQL, with the pgbench
// baseline, the lifecycle signals drained to a Temporal dev server and a
// worker running the lifecycles: every figure of the report is there.
// Nothing is timed (the outbox's drain waits out the 30 s a signal may).
func TestBenchMessagesReportsBaselineCPUAndLifecycles(t *testing.T) {
	testenv.Require(t, "DATABASE_URL")
	testenv.Require(t, "TEMPORAL_CLI")
	if _, err := findPgbench(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	t.Setenv("TEMPORAL_ADDRESS", "") // the bench starts its own dev server
	t.Setenv("CONVOT_DATA_DIR", t.TempDir())
	var out bytes.Buffer
	err := benchMessages(context.Background(), benchOptions{messages: 20, words: 8, visitors: 2, workers: 2, nodes: 1,
		lifecycles: true, worker: true, pgbench: "2", pgbenchFor: time.Second}, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{
		"messages of 8 words",
		"through the outbox to Temporal",
		"a Temporal worker in this process runs the lifecycle workflows",
		"lifecycle workflows of 2 conversations started",
		"lifecycle signals: 20 in ",
		"deliveries to Temporal",
		"longest wait in the outbox",
		" 0 left",
		"group commit since the nodes started: 22 messages in ",
		"CPU per message over", // twice: the run, and the run with the drain
		"(the run and the outbox's drain",
		"sent 20 in",
		"CPU per message over",
		"PostgreSQL backends",
		"Temporal dev server",
		"baseline: pgbench, one 200-byte row inserted per transaction, synchronous_commit on",
		"  2 clients:",
		"side by side: convot",
		"× pgbench",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestBenchFlags(t *testing.T) {
	for in, want := range map[string][]int{"": nil, "0": nil, "16,64": {16, 64}, "4, 8": {4, 8}} {
		got, err := parseClients(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("parseClients(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"x", "-1", "16,", "2000"} {
		if _, err := parseClients(bad); err == nil {
			t.Errorf("parseClients(%q) accepted", bad)
		}
	}
	var out bytes.Buffer
	if err := runBench(context.Background(), []string{"messages", "-pgbench", "many"}, &out); err == nil || !strings.Contains(err.Error(), "-pgbench") {
		t.Errorf("bad -pgbench: %v", err)
	}
}

func TestBenchReadsCPU(t *testing.T) {
	// burn a little CPU so that the counters move
	deadline := time.Now().Add(50 * time.Millisecond)
	for n := 0; time.Now().Before(deadline); n++ {
		_ = strings.Repeat("x", n%64)
	}
	if cpu, ok := procCPU(os.Getpid()); ok && cpu <= 0 {
		t.Errorf("procCPU of this process: %v", cpu)
	} else if !ok && fileExists("/proc/self/stat") {
		t.Error("procCPU cannot read /proc")
	}
	if _, ok := procCPU(-1); ok {
		t.Error("procCPU of no process")
	}
	if selfCPU() <= 0 {
		t.Error("selfCPU is zero")
	}
	env, err := pgbenchEnv("postgres://u:p%40ss@db.example:6543/app?sslmode=require&search_path=x", "convot-x")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"PGHOST=db.example", "PGPORT=6543", "PGUSER=u", "PGPASSWORD=p@ss", "PGDATABASE=app", "PGSSLMODE=require", "PGAPPNAME=convot-x", "PGOPTIONS=-c synchronous_commit=on"} {
		if !slices.Contains(env, want) {
			t.Errorf("pgbench environment %v lacks %s", env, want)
		}
	}
}

func fileExists(path string) bool { _, err := os.Stat(path); return err == nil }

// A bench message has the words asked for, distinct, and messages differ
// in the words they index.
func TestBenchMessageBodyWords(t *testing.T) {
	for _, n := range []int{3, 12, 40} {
		words := strings.Fields(benchMessageBody(7, n))
		if len(words) != n || strings.Join(words[:3], " ") != "bench message 7" {
			t.Fatalf("%d words: %q", n, words)
		}
		if distinct := len(slices.Compact(slices.Sorted(slices.Values(words)))); distinct != n {
			t.Fatalf("%d words, %d distinct: %q", n, distinct, words)
		}
	}
	if a, b := benchMessageBody(1, 12)[len("bench message 1"):], benchMessageBody(2, 12)[len("bench message 2"):]; a == b {
		t.Fatalf("messages 1 and 2 index the same words: %q", a)
	}
	for _, n := range []string{"2", "48"} {
		var out bytes.Buffer
		if err := runBench(context.Background(), []string{"messages", "-words", n}, &out); err == nil || !strings.Contains(err.Error(), "words") {
			t.Fatalf("-words %s: %v, want an error naming words", n, err)
		}
	}
	if words := strings.Fields(benchMessageBody(3, 3+len(benchWords))); len(slices.Compact(slices.Sorted(slices.Values(words)))) != len(words) {
		t.Fatalf("the longest message repeats words: %q", words)
	}
}
