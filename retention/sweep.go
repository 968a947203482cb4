// Package retention sweeps what policy §8 keeps no longer: for each swept
// retention class (security logs twelve months, support correspondence two
// years after close, billing records seven years), every table the data
// inventory classifies with it loses its expired rows, or its expired
// columns where the table mixes classes. The workflow RetentionSweep
// (workflows/retention.go) runs one class per schedule; its activity
// calls Sweep and records FormatCounts in an audit event. The statements
// are the store's (store/retention_sweep.go).
package retention

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/convot/convot/store"
)

// Sweep deletes (or clears) what the class keeps no longer before cutoff,
// across every organization, in batches of store.SweepBatchSize rows. It
// starts from progress (a fresh sweep when zero) and calls onBatch with
// the new progress after every batch, so a retried sweep resumes; an error
// from onBatch stops it. A class without targets is ErrNoTargets.
func Sweep(ctx context.Context, st *store.Store, class string, cutoff time.Time, progress store.SweepProgress, onBatch func(store.SweepProgress) error) (store.SweepStats, error) {
	targets, err := Targets(class)
	if err != nil {
		return store.SweepStats{}, err
	}
	return st.SweepRetention(ctx, targets, cutoff, store.SweepBatchSize, progress, onBatch)
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
