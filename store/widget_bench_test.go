package store

import (
	"syscall"
	"testing"
	"time"

	"github.com/convot/convot/internal/testenv"
)

// BenchmarkVisitorConversation: the read every widget message starts with
// (token and conversation), on PostgreSQL, on the message path's pool.
// cpu-ns/op is this process's CPU a read (the client's side: PostgreSQL's
// backend is another process); allocs are its.
//
//	DATABASE_URL=postgres://... go test -p 1 -run '^$' -bench VisitorConversation ./store
func BenchmarkVisitorConversation(b *testing.B) {
	testenv.Require(b, "DATABASE_URL")
	f := newFixture(b)
	f.A.Conversation.Subject = "Where is my order?"
	must(b, f.store.with(f.ctx).Model(&f.A.Conversation).Select("subject").Updates(&f.A.Conversation).Error)
	vt := f.visitorTokenOfA(b)
	must(b, f.store.OpenGenericPlans())
	b.Cleanup(func() { _ = f.store.closeGenericPlans() })
	var before, after syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, conv, err := f.store.VisitorConversation(f.ctx, f.A.Org.ID, vt.TokenHash, f.A.Conversation.ID); err != nil || conv == nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
}
