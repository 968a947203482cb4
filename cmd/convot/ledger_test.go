package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/internal/testdb"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
)

// `go test -json ./... | convot audit record-tests` records, per top-level
// test and under the name the ledger cites, the latest result with the
// run's own time; a failure keeps the last pass; subtests and package
// lines are not tests; input that is not go test -json is refused.
func TestRecordTestsKeepsWhenEachTestLastPassed(t *testing.T) {
	ctx := context.Background()
	db := testdb.New(t)
	st := store.New(db.DB, db.Keys)
	run1 := `{"Time":"2026-12-01T10:00:00Z","Action":"run","Package":"github.com/convot/convot/models","Test":"TestA"}
{"Time":"2026-12-01T10:00:01Z","Action":"pass","Package":"github.com/convot/convot/models","Test":"TestA","Elapsed":1}
{"Time":"2026-12-01T10:00:02Z","Action":"pass","Package":"github.com/convot/convot/cmd/convot","Test":"TestB"}
{"Time":"2026-12-01T10:00:02Z","Action":"pass","Package":"github.com/convot/convot/cmd/convot","Test":"TestB/sub"}
{"Time":"2026-12-01T10:00:03Z","Action":"skip","Package":"github.com/convot/convot/cmd/convot","Test":"TestC"}
{"Time":"2026-12-01T10:00:04Z","Action":"pass","Package":"github.com/convot/convot/models"}
`
	if n, err := recordTestResults(ctx, st, strings.NewReader(run1), "rev1"); err != nil || n != 3 {
		t.Fatalf("first run: %d %v, want 3 results", n, err)
	}
	run2 := `ok  	github.com/convot/convot/models	0.1s
{"Time":"2026-12-02T10:00:01Z","Action":"fail","Package":"github.com/convot/convot/models","Test":"TestA"}
{"Time":"2026-12-02T10:00:02Z","Action":"pass","Package":"github.com/convot/convot/cmd/convot","Test":"TestB"}
`
	if n, err := recordTestResults(ctx, st, strings.NewReader(run2), "rev2"); err != nil || n != 2 {
		t.Fatalf("second run: %d %v", n, err)
	}
	got, err := st.TestResults(ctx)
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	a, b, c := got["models.TestA"], got["cmd/convot.TestB"], got["cmd/convot.TestC"]
	if a.LastResult != "fail" || a.LastPassedAt == nil || !a.LastPassedAt.Equal(at("2026-12-01T10:00:01Z")) || a.Revision != "rev1" {
		t.Errorf("TestA after a failure: %+v", a)
	}
	if b.LastResult != "pass" || b.LastPassedAt == nil || !b.LastPassedAt.Equal(at("2026-12-02T10:00:02Z")) || b.Revision != "rev2" {
		t.Errorf("TestB passing again: %+v", b)
	}
	if c.LastResult != "skip" || c.LastPassedAt != nil {
		t.Errorf("a skipped test counts as passed: %+v", c)
	}
	if _, ok := got["cmd/convot.TestB/sub"]; ok || len(got) != 3 {
		t.Errorf("recorded %v", got)
	}
	if _, err := recordTestResults(ctx, st, strings.NewReader("{not json\n"), ""); err == nil {
		t.Error("malformed input accepted")
	}
	if _, err := recordTestResults(ctx, st, strings.NewReader("PASS\nok x 0.1s\n"), ""); err == nil {
		t.Error("input without test results accepted")
	}
}

// `convot keys rotate` leaves a record auditors see: the master key
// version and how many keys it re-wrapped.
func TestKeysRotateIsRecordedForAuditors(t *testing.T) {
	ctx := context.Background()
	k1, k2 := crypto.GenerateMasterKey(1), crypto.GenerateMasterKey(2)
	master, err := crypto.ParseMasterKeys(k1)
	if err != nil {
		t.Fatal(err)
	}
	db := testdb.NewWithMaster(t, master)
	if _, err := db.Keys.NewKey(db.DB, "test"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CONVOT_DATA_DIR", db.DataDir)
	t.Setenv("CONVOT_MASTER_KEY", k2+","+k1)
	t.Setenv("DATABASE_URL", db.URL)
	var out bytes.Buffer
	if err := runKeys(ctx, []string{"rotate"}, &out); err != nil {
		t.Fatal(err)
	}
	var ev models.AuditEvent
	if err := db.Where("organization_id = 0 AND action = ?", "keys.rotated").First(&ev).Error; err != nil {
		t.Fatalf("no rotation recorded: %v (%s)", err, out.String())
	}
	if ev.Target != "master:v2" || !strings.Contains(ev.Detail, "keys re-wrapped") {
		t.Fatalf("rotation recorded as %+v", ev)
	}
}
