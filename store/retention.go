package store

import (
	"context"
	"time"

	"github.com/convot/convot/models"
)

// Backups work on the whole deployment: no method here is an
// organization's. The retention sweeps are in retention_sweep.go.

// BackupByID loads a backup's record, or ErrNotFound.
func (s *Store) BackupByID(ctx context.Context, backupID uint64) (*models.Backup, error) {
	return one[models.Backup](s.with(ctx).Where("id = ?", backupID))
}

// Backups lists every backup's record, newest first.
func (s *Store) Backups(ctx context.Context) ([]models.Backup, error) {
	var list []models.Backup
	err := s.with(ctx).Order("id DESC").Find(&list).Error
	return list, err
}

// CompletedBackups lists the records of the backups still kept, by ID.
func (s *Store) CompletedBackups(ctx context.Context) ([]models.Backup, error) {
	var list []models.Backup
	err := s.with(ctx).Where("status = ?", models.BackupCompleted).Order("id").Find(&list).Error
	return list, err
}

// CreateBackup records a backup being taken.
func (s *Store) CreateBackup(ctx context.Context, b *models.Backup) error {
	return s.with(ctx).Create(b).Error
}

// SetBackupPrefix writes b.Prefix, where its blobs are.
func (s *Store) SetBackupPrefix(ctx context.Context, b *models.Backup) error {
	return s.with(ctx).Model(b).Update("prefix", b.Prefix).Error
}

// UpdateBackup writes the outcome of taking b (failed with its error, or
// completed with its manifest's figures).
func (s *Store) UpdateBackup(ctx context.Context, b *models.Backup, updates map[string]any) error {
	return s.with(ctx).Model(b).Updates(updates).Error
}

// ExpireBackup marks a backup's record expired; expired is false when it
// was already (a retry) or is unknown here.
func (s *Store) ExpireBackup(ctx context.Context, backupID uint64, at time.Time) (expired bool, err error) {
	res := s.with(ctx).Model(&models.Backup{}).Where("id = ? AND status <> ?", backupID, models.BackupExpired).
		Updates(map[string]any{"status": models.BackupExpired, "expired_at": at, "updated_at": at})
	return res.RowsAffected > 0, res.Error
}

// MarkBackupKeysShredded records that destroyed keys were removed from a
// backup, with its manifest's new checksum when it changed (empty: it did
// not).
func (s *Store) MarkBackupKeysShredded(ctx context.Context, backupID uint64, manifestSHA256 string, at time.Time) error {
	updates := map[string]any{"keys_shredded_at": at, "updated_at": at}
	if manifestSHA256 != "" {
		updates["manifest_sha256"] = manifestSHA256
	}
	return s.with(ctx).Model(&models.Backup{}).Where("id = ?", backupID).Updates(updates).Error
}
