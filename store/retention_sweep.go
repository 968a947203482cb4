package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/convot/convot/models"
)

// Retention sweeps (policy §8) work on the whole deployment: no method here
// is an organization's. Which tables a class sweeps, and from when each
// row's period runs, is the retention package's to derive from the
// inventory; this file runs the statements.

// SweepTarget is one table a class's sweep works on.
type SweepTarget struct {
	Class string
	Model string
	Table string
	// Clear lists the columns to empty; when it is empty whole rows are
	// deleted.
	Clear []string
	Clock models.RetentionClock
}

// Name is how the audit event counts the target: the table, or
// table.column,column for cleared columns.
func (t SweepTarget) Name() string {
	if len(t.Clear) == 0 {
		return t.Table
	}
	return t.Table + "." + strings.Join(t.Clear, ",")
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

// SweepRetention deletes (or clears) what has expired before cutoff in
// each target, across every organization,
// in batches of at most batch rows, one short statement each by a range
// of row IDs, so no lock is held long and readers and writers carry on.
// It starts from progress (a fresh sweep when zero) and calls onBatch
// after every batch with the new progress; an error from onBatch (a
// cancelled context) stops it. Sweeping again deletes nothing more: it is
// idempotent.
func (s *Store) SweepRetention(ctx context.Context, targets []SweepTarget, cutoff time.Time, batch int, progress SweepProgress, onBatch func(SweepProgress) error) (SweepStats, error) {
	if batch <= 0 {
		batch = SweepBatchSize
	}
	cutoff = cutoff.UTC()
	if progress.Counts == nil {
		progress.Counts = map[string]int64{}
	}
	stats := SweepStats{Counts: progress.Counts}
	db := s.with(ctx)
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
