// Package blob stores opaque bytes (attachments and backups, already
// sealed by their owners): on local disk in the embedded default, on S3 in
// production through the gated client in subprocessors.
package blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"

	"github.com/convot/convot/subprocessors"
)

// ErrNotFound is returned for a key the store does not hold.
var ErrNotFound = errors.New("blob: not found")

// Store keeps blobs by key. The storage context says whose data a blob is,
// which the S3 store hands to the egress gate.
type Store interface {
	Put(ctx context.Context, sc subprocessors.StorageContext, key string, data []byte) error
	Get(ctx context.Context, sc subprocessors.StorageContext, key string) ([]byte, error)
	Delete(ctx context.Context, sc subprocessors.StorageContext, key string) error
}

// Keys are ours (random names under a prefix), never a user's file name.
var validKey = regexp.MustCompile(`^[A-Za-z0-9_-]+(/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$`)

func checkKey(key string) error {
	if !validKey.MatchString(key) || len(key) > 512 {
		return fmt.Errorf("blob: invalid key %q", key)
	}
	return nil
}

// Disk keeps blobs as files under a directory.
type Disk struct{ dir string }

// NewDisk stores blobs under dir, created owner-only.
func NewDisk(dir string) (*Disk, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("blob: %w", err)
	}
	return &Disk{dir: dir}, nil
}

// Put writes the blob atomically: a reader sees the whole blob or none.
func (d *Disk) Put(_ context.Context, _ subprocessors.StorageContext, key string, data []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	path := filepath.Join(d.dir, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".put-*")
	if err != nil {
		return err
	}
	// After a successful rename there is no temporary file left to remove.
	defer func() { _ = os.Remove(tmp.Name()) }()
	if _, err := tmp.Write(data); err != nil {
		return errors.Join(err, tmp.Close())
	}
	if err := tmp.Sync(); err != nil {
		return errors.Join(err, tmp.Close())
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Get reads a blob.
func (d *Disk) Get(_ context.Context, _ subprocessors.StorageContext, key string) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(d.dir, filepath.FromSlash(key)))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotFound
	}
	return b, err
}

// Delete removes a blob; a missing one is already deleted.
func (d *Disk) Delete(_ context.Context, _ subprocessors.StorageContext, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	err := os.Remove(filepath.Join(d.dir, filepath.FromSlash(key)))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// S3 keeps blobs in a bucket through the gated client.
type S3 struct{ blobs *subprocessors.S3Blobs }

// NewS3 wraps the gated S3 client.
func NewS3(b *subprocessors.S3Blobs) *S3 { return &S3{blobs: b} }

// Put uploads a blob.
func (s *S3) Put(ctx context.Context, sc subprocessors.StorageContext, key string, data []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	return s.blobs.Put(ctx, sc, key, bytes.NewReader(data), int64(len(data)))
}

// Get downloads a blob.
func (s *S3) Get(ctx context.Context, sc subprocessors.StorageContext, key string) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	rc, err := s.blobs.Get(ctx, sc, key)
	if errors.Is(err, subprocessors.ErrObjectNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	// Only reading was done: closing can lose nothing worth reporting.
	defer func() { _ = rc.Close() }()
	return io.ReadAll(rc)
}

// Delete removes a blob.
func (s *S3) Delete(ctx context.Context, sc subprocessors.StorageContext, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	return s.blobs.Delete(ctx, sc, key)
}
