package activities

import (
	"context"
	"fmt"
	"testing"

	"github.com/convot/convot/internal/obligations"
)

// Benchmarks of the rights of §9 for one End User with N messages and 100
// attachments, at 10,000 and 100,000 messages: both must take about ten
// times as long at ten times the messages (the µs/message metric stays
// flat), never more. Run them on PostgreSQL with DATABASE_URL set:
//
//	DATABASE_URL=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//	  go test -p 1 ./activities -run '^$' -bench 'Privacy' -benchtime 1x -count 3
//
// Access export: locating the subject, reading and decrypting every row
// and file, writing the report and the files into a zip, sealing it and
// storing it in the blob store. Erasure: locating, planning, deleting the
// files, the rows and the keys, then the completeness scan of the
// organization's rows. Setup (inserting the data) is not timed.

const benchAttachments = 100

// benchSizes are the message counts each right is measured at.
var benchSizes = []int{10000, 100000}

func BenchmarkPrivacyAccessExport(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("messages=%d", n), func(b *testing.B) { benchExport(b, n, obligations.DsrAccess) })
	}
}

func BenchmarkPrivacyPortabilityExport(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("messages=%d", n), func(b *testing.B) { benchExport(b, n, obligations.DsrPortability) })
	}
}

func BenchmarkPrivacyErasure(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("messages=%d", n), func(b *testing.B) { benchErasure(b, n) })
	}
}

// reportPerMessage reports the time per message, the figure that stays
// flat when the work is linear.
func reportPerMessage(b *testing.B, messages int) {
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/float64(messages), "µs/message")
}

func benchExport(b *testing.B, messages int, typ string) {
	ctx := context.Background()
	w := newPrivacyWorld(b, messages, benchAttachments)
	w.setType(b, typ, "")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := w.a.LocatePrivacySubject(ctx, w.ref()); err != nil {
			b.Fatal(err)
		}
		out, err := w.a.ExportPrivacySubject(ctx, w.ref())
		if err != nil {
			b.Fatal(err)
		}
		if out.Files != benchAttachments || out.Rows < int64(messages) {
			b.Fatalf("export %+v", out)
		}
		b.ReportMetric(float64(out.Bytes)/1e6, "MB/export")
	}
	b.StopTimer()
	reportPerMessage(b, messages)
}

func benchErasure(b *testing.B, messages int) {
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		w := newPrivacyWorld(b, messages, benchAttachments)
		w.setType(b, obligations.DsrErasure, "")
		b.StartTimer()
		if _, err := w.a.LocatePrivacySubject(ctx, w.ref()); err != nil {
			b.Fatal(err)
		}
		out, err := w.a.ErasePrivacySubject(ctx, w.ref())
		if err != nil {
			b.Fatal(err)
		}
		scan, err := w.a.ScanPrivacyErasure(ctx, w.ref())
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if out.Rows < int64(messages) || out.Files != benchAttachments || !scan.Clean {
			b.Fatalf("erasure %+v, scan %+v", out, scan)
		}
		b.StartTimer()
	}
	b.StopTimer()
	reportPerMessage(b, messages)
}
