package blob

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/convot/convot/policies"
	"github.com/convot/convot/subprocessors"
)

var attachment = subprocessors.StorageContext{
	Organization: policies.OrgContext{ID: 1, Region: "eu"},
	Subject:      policies.SubjectContext{Kind: "end_user"},
	Categories:   []string{"user.content.attachment"},
}

// Both stores behave the same: round trip, not found, delete, bad keys.
func TestStores(t *testing.T) {
	disk, err := NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	backend := s3mem.New()
	if err := backend.CreateBucket("convot"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	defer srv.Close()
	gate, err := policies.NewGate(context.Background(), policies.NewMemoryLog())
	if err != nil {
		t.Fatal(err)
	}
	s3c, err := subprocessors.NewS3Blobs(gate, subprocessors.S3Config{Endpoint: srv.URL, Region: "eu-central-1", Bucket: "convot",
		AccessKeyID: "AKIATEST", SecretAccessKey: "test", UsePathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for name, store := range map[string]Store{"disk": disk, "s3": NewS3(s3c)} {
		if err := store.Put(ctx, attachment, "attachments/1/abc", []byte("sealed bytes")); err != nil {
			t.Fatalf("%s put: %v", name, err)
		}
		if got, err := store.Get(ctx, attachment, "attachments/1/abc"); err != nil || string(got) != "sealed bytes" {
			t.Fatalf("%s get: %q %v", name, got, err)
		}
		if _, err := store.Get(ctx, attachment, "attachments/1/missing"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s missing: %v", name, err)
		}
		if err := store.Delete(ctx, attachment, "attachments/1/abc"); err != nil {
			t.Fatalf("%s delete: %v", name, err)
		}
		if _, err := store.Get(ctx, attachment, "attachments/1/abc"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s get after delete: %v", name, err)
		}
		for _, bad := range []string{"../etc/passwd", "/abs", "a//b", "", "a/../b"} {
			if err := store.Put(ctx, attachment, bad, []byte("x")); err == nil {
				t.Errorf("%s accepted key %q", name, bad)
			}
		}
	}
}
