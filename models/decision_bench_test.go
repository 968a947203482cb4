package models_test

import (
	"context"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/convot/convot/internal/testdb"
	"github.com/convot/convot/internal/testenv"
	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
)

// BenchmarkGroupDecisionLog: decisions recorded by 32 concurrent callers
// (a node fanning out messages records one a message), on PostgreSQL.
// cpu-ns/op is this process's CPU a decision (PostgreSQL's backend is
// another process).
//
//	DATABASE_URL=postgres://... go test -p 1 -run '^$' -bench GroupDecisionLog ./models
func BenchmarkGroupDecisionLog(b *testing.B) {
	testenv.Require(b, "DATABASE_URL")
	db := testdb.New(b)
	log := models.NewGroupDecisionLog(db.DB)
	b.Cleanup(log.Close)
	ctx := context.Background()
	record := policies.DecisionRecord{OrganizationID: 7, Subprocessor: "redis", Purpose: "essential.service.realtime",
		Categories: []string{"user.content.message"}, Allow: true, Reason: "redis may receive user.content.message for essential.service.realtime",
		PolicyRevision: "0123456789abcdef", Time: time.Now()}
	const callers = 32
	var before, after syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			for i := c; i < b.N; i += callers {
				if err := log.Record(ctx, record); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano()
	b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
}
