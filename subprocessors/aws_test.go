package subprocessors

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/convot/convot/policies"
)

// newFakeS3 serves an in-process S3 with one bucket, behind a recorder.
func newFakeS3(t *testing.T, bucket string) (*httptest.Server, *upstreamRecorder) {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	return newRecordedUpstream(t, gofakes3.New(backend).Server())
}

func newTestS3Blobs(t *testing.T, endpoint, region string) *S3Blobs {
	t.Helper()
	g, _ := mustEgressGate(t)
	b, err := NewS3Blobs(g, S3Config{
		Endpoint: endpoint, Region: region, Bucket: "convot-attachments",
		AccessKeyID: "AKIATEST", SecretAccessKey: "secret", UsePathStyle: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func attachmentContext(orgRegion string) StorageContext {
	return StorageContext{
		Organization: policies.OrgContext{ID: 42, Region: orgRegion},
		Subject:      policies.SubjectContext{Kind: "end_user"},
		Categories:   []string{"user.content.attachment"},
	}
}

func TestS3BlobsRoundTrip(t *testing.T) {
	srv, rec := newFakeS3(t, "convot-attachments")
	b := newTestS3Blobs(t, srv.URL, "eu-central-1")
	if b.DataRegion() != "eu" {
		t.Fatalf("data region %q, want eu", b.DataRegion())
	}
	ctx := context.Background()
	sc := attachmentContext("eu")
	content := []byte("encrypted attachment bytes")

	// A plain reader (not seekable) and a seekable one both upload.
	if err := b.Put(ctx, sc, "org/42/att/1", io.MultiReader(bytes.NewReader(content)), int64(len(content))); err != nil {
		t.Fatalf("put: %v", err)
	}
	if err := b.Put(ctx, sc, "org/42/att/2", bytes.NewReader(content), int64(len(content))); err != nil {
		t.Fatalf("put seekable: %v", err)
	}
	for _, key := range []string{"org/42/att/1", "org/42/att/2"} {
		rc, err := b.Get(ctx, sc, key)
		if err != nil {
			t.Fatalf("get %s: %v", key, err)
		}
		got, err := io.ReadAll(rc)
		if cerr := rc.Close(); err == nil {
			err = cerr
		}
		if err != nil || !bytes.Equal(got, content) {
			t.Fatalf("get %s: %q, %v", key, got, err)
		}
	}
	if err := b.Delete(ctx, sc, "org/42/att/1"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := b.Get(ctx, sc, "org/42/att/1"); !errors.Is(err, ErrObjectNotFound) {
		t.Fatalf("get after delete: %v, want ErrObjectNotFound", err)
	}
	if err := b.Delete(ctx, sc, "org/42/att/1"); err != nil {
		t.Fatalf("delete of a missing key: %v", err)
	}

	// A backup (system data, no subject) and a restricted subject's
	// attachment: storage is allowed for both.
	backup := StorageContext{Organization: policies.OrgContext{ID: 42, Region: "eu"}, Subject: policies.SubjectContext{Kind: "none"}, Categories: []string{"system.operations"}}
	if err := b.Put(ctx, backup, "backups/2026-01-01", strings.NewReader("x"), 1); err != nil {
		t.Fatalf("put backup: %v", err)
	}
	restricted := attachmentContext("eu")
	restricted.Subject.Restricted = true
	if err := b.Delete(ctx, restricted, "org/42/att/2"); err != nil {
		t.Fatalf("delete for a restricted subject: %v", err)
	}
	if len(rec.Requests()) == 0 {
		t.Fatal("the fake S3 received nothing")
	}
}

func TestS3BlobsDeniedSendsNothing(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name   string
		region string // the bucket's AWS region
		sc     StorageContext
		reason string
	}{
		{
			name:   "bucket in a region AWS is not registered for",
			region: "ap-southeast-2",
			sc:     attachmentContext("eu"),
			reason: "aws does not process data in region ap",
		},
		{
			name:   "unknown data category",
			region: "eu-central-1",
			sc:     StorageContext{Organization: policies.OrgContext{ID: 42, Region: "eu"}, Subject: policies.SubjectContext{Kind: "end_user"}, Categories: []string{"user.content.hologram"}},
			reason: "unknown data category user.content.hologram",
		},
		{
			name:   "personal data without a data subject",
			region: "us-east-1",
			sc:     StorageContext{Organization: policies.OrgContext{ID: 42, Region: "us"}, Subject: policies.SubjectContext{Kind: "none"}, Categories: []string{"user.content.attachment"}},
			reason: "personal data declared without a data subject",
		},
		{
			name:   "missing organization",
			region: "us-east-1",
			sc:     StorageContext{Subject: policies.SubjectContext{Kind: "end_user"}, Categories: []string{"user.content.attachment"}},
			reason: "organization missing",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, rec := newFakeS3(t, "convot-attachments")
			b := newTestS3Blobs(t, srv.URL, tc.region)
			requireDeniedWithReason(t, b.Put(ctx, tc.sc, "org/42/att/1", strings.NewReader("secret"), 6), tc.reason)
			_, err := b.Get(ctx, tc.sc, "org/42/att/1")
			requireDeniedWithReason(t, err, tc.reason)
			requireDeniedWithReason(t, b.Delete(ctx, tc.sc, "org/42/att/1"), tc.reason)
			if n := len(rec.Requests()); n != 0 {
				t.Fatalf("the fake S3 received %d requests after denied flows", n)
			}
		})
	}
}

func TestS3BlobsNeedsCategories(t *testing.T) {
	srv, rec := newFakeS3(t, "convot-attachments")
	b := newTestS3Blobs(t, srv.URL, "us-east-1")
	sc := attachmentContext("us")
	sc.Categories = nil
	if err := b.Put(context.Background(), sc, "k", strings.NewReader("x"), 1); err == nil {
		t.Fatal("put without categories succeeded")
	}
	if n := len(rec.Requests()); n != 0 {
		t.Fatalf("the fake S3 received %d requests", n)
	}
}

func TestS3BlobsWithheldCategoryRefusesWholeObject(t *testing.T) {
	srv, rec := newFakeS3(t, "convot-attachments")
	// A gate that allows the flow but drops the attachment category.
	gate := stubDecisionGate{d: policies.Decision{Allow: true, Reason: "aws may receive system.operations", Drop: []string{"user.content.attachment"},
		Categories: []string{"system.operations", "user.content.attachment"}}}
	b, err := NewS3Blobs(gate, S3Config{Endpoint: srv.URL, Region: "us-east-1", Bucket: "convot-attachments", AccessKeyID: "a", SecretAccessKey: "s", UsePathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	err = b.Put(context.Background(), attachmentContext("us"), "k", strings.NewReader("x"), 1)
	requireDeniedWithReason(t, err, "withholds user.content.attachment")
	if n := len(rec.Requests()); n != 0 {
		t.Fatalf("the fake S3 received %d requests", n)
	}
}
