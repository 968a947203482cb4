package backup

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/convot/convot/internal/blob"
	"github.com/convot/convot/internal/testdb"
	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/subprocessors"
)

// Backups go to S3 through the gated client when a bucket is configured:
// the gate allows encrypted system data of the deployment (no one
// organization, no data subject) to be stored, records each decision, and
// the backup restores from there.
func TestBackupThroughTheGatedS3Store(t *testing.T) {
	ctx := context.Background()
	backend := s3mem.New()
	must(t, backend.CreateBucket("convot-backups"))
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	defer srv.Close()
	decisions := policies.NewMemoryLog()
	gate, err := policies.NewGate(ctx, decisions)
	must(t, err)
	s3, err := subprocessors.NewS3Blobs(gate, subprocessors.S3Config{
		Endpoint: srv.URL, Region: "eu-central-1", Bucket: "convot-backups",
		AccessKeyID: "AKIATEST", SecretAccessKey: "secret", UsePathStyle: true,
	})
	must(t, err)

	live := testdb.New(t)
	f := fill(t, live.DB)
	b := &Backups{DB: live.DB, Blobs: blob.NewS3(s3), Master: live.Master, Context: StorageContext("eu")}
	m, err := b.Take(ctx, 1, time.Now(), nil)
	must(t, err)
	target := testdb.NewWithMaster(t, live.Master)
	_, err = b.Restore(ctx, target.DB, 1)
	must(t, err)
	db2, _ := reopen(t, target)
	var alice models.Contact
	must(t, db2.First(&alice, f.alice.ID).Error)
	if alice.Name != "Alice Visitor" {
		t.Fatalf("restored from S3: %q", alice.Name)
	}
	records := decisions.Records()
	if len(records) < len(m.Parts)+1 {
		t.Fatalf("%d gate decisions for %d parts and a manifest", len(records), len(m.Parts))
	}
	for _, r := range records {
		if !r.Allow || r.Subprocessor != "aws" {
			t.Fatalf("decision %+v", r)
		}
	}
	must(t, b.Delete(ctx, 1))
}
