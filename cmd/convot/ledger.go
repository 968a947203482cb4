package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/convot/convot/store"
)

// modulePath is stripped from go test's package paths: the ledger cites
// tests as "models.TestX", "cmd/convot.TestY".
const modulePath = "github.com/convot/convot/"

// testEvent is one line of `go test -json` (cmd/test2json) that matters
// here.
type testEvent struct {
	Time    time.Time
	Action  string
	Package string
	Test    string
}

// recordTestResults reads `go test -json` output and records the result of
// every top-level test that passed, failed or was skipped, under the name
// the promise ledger cites it by, with the event's own time: only what a
// run reported is recorded, never a time of ours. It returns how many it
// recorded.
func recordTestResults(ctx context.Context, st *store.Store, in io.Reader, revision string) (int, error) {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	n, line := 0, 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] != '{' {
			continue // go test's own lines (build failures) outside JSON
		}
		var ev testEvent
		if err := json.Unmarshal([]byte(text), &ev); err != nil {
			return n, fmt.Errorf("line %d: not a go test -json event: %w", line, err)
		}
		if ev.Test == "" || strings.Contains(ev.Test, "/") || ev.Time.IsZero() {
			continue // package results, subtests, events without a time
		}
		switch ev.Action {
		case "pass", "fail", "skip":
		default:
			continue
		}
		name := strings.TrimPrefix(ev.Package, modulePath) + "." + ev.Test
		if err := st.RecordTestResult(ctx, name, ev.Action, revision, ev.Time); err != nil {
			return n, err
		}
		n++
	}
	if err := sc.Err(); err != nil {
		return n, err
	}
	if n == 0 {
		return 0, errors.New("no test results in the input: feed it `go test -json` output")
	}
	return n, nil
}
