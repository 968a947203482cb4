package retention_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/convot/convot/internal/obligations"
	"github.com/convot/convot/internal/testdb"
	"github.com/convot/convot/internal/testenv"
	"github.com/convot/convot/retention"
	"github.com/convot/convot/store"
)

// BenchmarkSweepMillionUsageEvents measures the security-log sweep on
// PostgreSQL: 1,000,000 usage events older than twelve months among
// 100,000 younger ones, deleted in batches of store.SweepBatchSize. It
// reports rows deleted per second and the longest single batch statement
// (the longest any row lock is held).
//
//	DATABASE_URL=postgres://... go test ./retention -run '^$' -bench SweepMillion -benchtime 1x
func BenchmarkSweepMillionUsageEvents(b *testing.B) {
	testenv.Require(b, "DATABASE_URL")
	ctx := context.Background()
	db := testdb.New(b)
	targets, err := retention.Targets(obligations.RetentionSecurityLog)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC()
	cutoff, _ := obligations.RetentionCutoff(obligations.RetentionSecurityLog, now)
	const expired, young = 1_000_000, 100_000
	fill := func() {
		// Rows shaped like real ones: sealed values of realistic length.
		q := `INSERT INTO usage_events (organization_id, account_id, data_key_id, page, feature, browser, os, device_type, ip, referrer, occurred_at)
SELECT 1 + g % 50, 1 + g % 500, 1 + g % 500, 'ck1.7.' || md5(g::text) || md5(g::text), '/inbox', 'ck1.7.' || md5(g::text), 'ck1.7.' || md5(g::text),
	'ck1.7.' || md5(g::text), 'ck1.7.' || md5(g::text), 'ck1.7.' || md5(g::text), CAST(? AS TIMESTAMPTZ) - make_interval(secs => g)
FROM generate_series(1, ?) AS g`
		if err := db.Exec(q, cutoff.Add(-time.Minute), expired).Error; err != nil {
			b.Fatal(err)
		}
		if err := db.Exec(q, now, young).Error; err != nil {
			b.Fatal(err)
		}
		if err := db.Exec("ANALYZE usage_events").Error; err != nil {
			b.Fatal(err)
		}
	}
	var rows int64
	var elapsed, longest time.Duration
	var batches []time.Duration // each batch: its bounding SELECT and its DELETE
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if err := db.Exec("DELETE FROM usage_events").Error; err != nil {
			b.Fatal(err)
		}
		fill()
		b.StartTimer()
		started := time.Now()
		last := started
		stats, err := store.New(db.DB, db.Keys).SweepRetention(ctx, targets, cutoff, store.SweepBatchSize, store.SweepProgress{}, func(store.SweepProgress) error {
			batches = append(batches, time.Since(last))
			last = time.Now()
			return nil
		})
		elapsed += time.Since(started)
		if err != nil {
			b.Fatal(err)
		}
		if stats.Counts["usage_events"] != expired {
			b.Fatalf("deleted %d usage events, want %d", stats.Counts["usage_events"], expired)
		}
		rows += stats.Rows
		longest = max(longest, stats.MaxStatement)
	}
	b.StopTimer()
	var left int64
	db.Raw("SELECT COUNT(*) FROM usage_events").Scan(&left)
	if left != young {
		b.Fatalf("%d usage events left, want the %d younger ones", left, young)
	}
	b.ReportMetric(float64(rows)/elapsed.Seconds(), "rows/s")
	b.ReportMetric(float64(longest.Microseconds())/1000, "max-stmt-ms")
	slices.Sort(batches)
	b.ReportMetric(float64(batches[len(batches)/2].Microseconds())/1000, "p50-batch-ms")
	b.ReportMetric(float64(batches[len(batches)*99/100].Microseconds())/1000, "p99-batch-ms")
}
