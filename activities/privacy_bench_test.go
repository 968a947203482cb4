package activities

import (
	"context"
	"fmt"
	"testing"

	"github.com/convot/convot/internal/obligations"
)

// Benchmarks of the rights of §9 for one End User with N messages and 100
// attachments (run them on PostgreSQL with DATABASE_URL set):
//
//	DATABASE_URL=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//	  go test ./activities -run '^$' -bench 'Privacy' -benchtime 3x
//	go test ./activities -run '^$' -bench 'Privacy.*100k' -benchtime 1x
//
// Access export: locating the subject, reading and decrypting every row
// and file, writing the report and the files into a zip, sealing it and
// storing it in the blob store. Erasure: locating, planning, deleting the
// files, the rows and the keys, then the completeness scan of the
// organization's rows. Setup (inserting the data) is not timed.

const benchAttachments = 100

func BenchmarkPrivacyAccessExport(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("messages=%d", n), func(b *testing.B) { benchExport(b, n, obligations.DsrAccess) })
	}
}

func BenchmarkPrivacyAccessExport100k(b *testing.B) { benchExport(b, 100000, obligations.DsrAccess) }

func BenchmarkPrivacyPortabilityExport(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("messages=%d", n), func(b *testing.B) { benchExport(b, n, obligations.DsrPortability) })
	}
}

func BenchmarkPrivacyErasure(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("messages=%d", n), func(b *testing.B) { benchErasure(b, n) })
	}
}

func BenchmarkPrivacyErasure100k(b *testing.B) { benchErasure(b, 100000) }

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
}
