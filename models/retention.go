package models

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/convot/convot/internal/obligations"
	"gorm.io/gorm"
	"gorm.io/gorm/schema"
)

// Retention sweeps (policy §8) are derived from the data inventory: every
// table with a field of a swept retention class is swept, never a
// hand-kept list. A table whose classified fields all have the class loses
// whole rows; a table that mixes classes has those columns cleared (an IP
// address on a contact goes after twelve months, the contact stays).

// RetentionClock says from when a row's retention period runs.
type RetentionClock struct {
	// Column is a time column of the table, or of ParentTable.
	Column string
	// Expr, when set, is an SQL expression over the table's columns used
	// instead of Column, e.g. COALESCE(last_seen_at, created_at).
	Expr string
	// ParentTable and ForeignKey put the clock on a parent row: the row
	// expires with the ParentTable row its ForeignKey names.
	ParentTable string
	ForeignKey  string
}

// retentionClocked is implemented by models that name their own clock.
type retentionClocked interface{ RetentionClock() RetentionClock }

// retentionClocks names the clock of tables whose models are not in this
// file's care; a model's own RetentionClock method wins. Tables that are in
// neither use occurred_at, else created_at.
var retentionClocks = map[string]RetentionClock{
	// The IP is the one of the contact's latest visit.
	"contacts": {Expr: "COALESCE(last_seen_at, created_at)"},
	// Billing records run from the invoice's date and the payment attempt.
	"invoices": {Column: "issued_at"},
	"payments": {Column: "attempted_at"},
}

// SweepTarget is one table a class's sweep works on.
type SweepTarget struct {
	Class string
	Model string
	Table string
	// Clear lists the columns to empty; when it is empty whole rows are
	// deleted.
	Clear []string
	Clock RetentionClock
}

// Name is how the audit event counts the target: the table, or
// table.column,column for cleared columns.
func (t SweepTarget) Name() string {
	if len(t.Clear) == 0 {
		return t.Table
	}
	return t.Table + "." + strings.Join(t.Clear, ",")
}

// SweepTargets derives the targets of a class from the inventory, children
// (whose clock is on a parent row) before their parents, so a parent is
// never deleted while rows whose expiry depends on it remain.
func SweepTargets(class string) ([]SweepTarget, error) {
	if _, err := obligations.RetentionCutoff(class, time.Now()); err != nil {
		return nil, err
	}
	byTable := map[string][]Field{}
	models := map[string]any{}
	for _, m := range All() {
		s, err := schema.Parse(m, &sync.Map{}, schema.NamingStrategy{})
		if err != nil {
			return nil, err
		}
		models[s.Table] = m
	}
	for _, f := range Inventory() {
		byTable[f.Table] = append(byTable[f.Table], f)
	}
	var out []SweepTarget
	for table, fields := range byTable {
		var clear []string
		for _, f := range fields {
			if f.Retention == class {
				clear = append(clear, f.Column)
			}
		}
		if len(clear) == 0 {
			continue
		}
		sort.Strings(clear)
		t := SweepTarget{Class: class, Model: fields[0].Model, Table: table}
		if len(clear) < len(fields) {
			t.Clear = clear
		}
		clock, err := clockOf(models[table], table)
		if err != nil {
			return nil, err
		}
		t.Clock = clock
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool {
		ci, cj := out[i].Clock.ParentTable != "", out[j].Clock.ParentTable != ""
		if ci != cj {
			return ci
		}
		return out[i].Table < out[j].Table
	})
	return out, nil
}

func clockOf(model any, table string) (RetentionClock, error) {
	if c, ok := model.(retentionClocked); ok {
		return c.RetentionClock(), nil
	}
	if c, ok := reflect.Indirect(reflect.ValueOf(model)).Interface().(retentionClocked); ok {
		return c.RetentionClock(), nil
	}
	if c, ok := retentionClocks[table]; ok {
		return c, nil
	}
	s, err := schema.Parse(model, &sync.Map{}, schema.NamingStrategy{})
	if err != nil {
		return RetentionClock{}, err
	}
	for _, col := range []string{"occurred_at", "created_at"} {
		if s.LookUpField(col) != nil {
			return RetentionClock{Column: col}, nil
		}
	}
	return RetentionClock{}, fmt.Errorf("retention: table %s has no clock: give its model a RetentionClock method or a created_at column", table)
}

// expired is the SQL condition (with one time argument) of an expired row.
func (t SweepTarget) expired() string {
	switch {
	case t.Clock.ParentTable != "":
		return fmt.Sprintf("%s IN (SELECT id FROM %s WHERE %s < ?)", t.Clock.ForeignKey, t.Clock.ParentTable, t.Clock.Column)
	case t.Clock.Expr != "":
		return "(" + t.Clock.Expr + ") < ?"
	}
	return t.Clock.Column + " < ?"
}

// pending is the condition of a row the target still has work on.
func (t SweepTarget) pending() string {
	cond := t.expired()
	if len(t.Clear) > 0 {
		var set []string
		for _, c := range t.Clear {
			set = append(set, c+" <> ''")
		}
		cond += " AND (" + strings.Join(set, " OR ") + ")"
	}
	return cond
}

// SweepProgress is where a sweep is: it is heartbeated, so a retried
// activity resumes where the last attempt stopped.
type SweepProgress struct {
	Target int              // index into the targets
	After  uint64           // the last row ID handled in that target
	Counts map[string]int64 // rows deleted or cleared, per target name
}

// SweepStats measures a sweep.
type SweepStats struct {
	Counts  map[string]int64
	Rows    int64
	Batches int
	// MaxStatement is the longest single DELETE or UPDATE: the longest any
	// row lock was held.
	MaxStatement time.Duration
}

// SweepBatchSize is how many rows one statement deletes at most.
const SweepBatchSize = 5000

// Sweep deletes (or clears) what has expired before cutoff in each target,
// in batches of at most batch rows, one short statement each by a range
// of row IDs, so no lock is held long and readers and writers carry on.
// It starts from progress (a fresh sweep when zero) and calls onBatch
// after every batch with the new progress; an error from onBatch (a
// cancelled context) stops it. Sweeping again deletes nothing more: it is
// idempotent.
func Sweep(ctx context.Context, db *gorm.DB, targets []SweepTarget, cutoff time.Time, batch int, progress SweepProgress, onBatch func(SweepProgress) error) (SweepStats, error) {
	if batch <= 0 {
		batch = SweepBatchSize
	}
	cutoff = cutoff.UTC()
	if progress.Counts == nil {
		progress.Counts = map[string]int64{}
	}
	stats := SweepStats{Counts: progress.Counts}
	db = db.WithContext(ctx)
	for ; progress.Target < len(targets); progress.Target, progress.After = progress.Target+1, 0 {
		t := targets[progress.Target]
		if _, ok := progress.Counts[t.Name()]; !ok {
			progress.Counts[t.Name()] = 0
		}
		for {
			if err := ctx.Err(); err != nil {
				return stats, err
			}
			var bound struct {
				Hi *uint64
				N  int64
			}
			q := fmt.Sprintf("SELECT MAX(id) AS hi, COUNT(*) AS n FROM (SELECT id FROM %s WHERE id > ? AND %s ORDER BY id LIMIT ?) batch", t.Table, t.pending())
			if err := db.Raw(q, progress.After, cutoff, batch).Scan(&bound).Error; err != nil {
				return stats, fmt.Errorf("retention sweep %s: %w", t.Name(), err)
			}
			if bound.N == 0 || bound.Hi == nil {
				break
			}
			var stmt string
			if len(t.Clear) == 0 {
				stmt = fmt.Sprintf("DELETE FROM %s WHERE id > ? AND id <= ? AND %s", t.Table, t.expired())
			} else {
				var set []string
				for _, c := range t.Clear {
					set = append(set, c+" = ''")
				}
				stmt = fmt.Sprintf("UPDATE %s SET %s WHERE id > ? AND id <= ? AND %s", t.Table, strings.Join(set, ", "), t.pending())
			}
			started := time.Now()
			res := db.Exec(stmt, progress.After, *bound.Hi, cutoff)
			took := time.Since(started)
			if res.Error != nil {
				return stats, fmt.Errorf("retention sweep %s: %w", t.Name(), res.Error)
			}
			if took > stats.MaxStatement {
				stats.MaxStatement = took
			}
			stats.Batches++
			stats.Rows += res.RowsAffected
			progress.Counts[t.Name()] += res.RowsAffected
			progress.After = *bound.Hi
			if onBatch != nil {
				if err := onBatch(progress); err != nil {
					return stats, err
				}
			}
		}
	}
	return stats, nil
}

// FormatCounts renders counts per target for an audit event's detail:
// "audit_events=3 contacts.ip=1 usage_events=120". Counts, never data.
func FormatCounts(counts map[string]int64) string {
	names := make([]string, 0, len(counts))
	for n := range counts {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s=%d", n, counts[n]))
	}
	return strings.Join(parts, " ")
}
