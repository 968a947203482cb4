package models

import "time"

// Backup records one encrypted logical backup of the database kept in the
// blob store (policy §8, §10). It holds no personal data: counts, sizes,
// hashes and times. Each backup is deleted by its own expiry workflow
// (backup-expiry-<id>) obligations.BackupRetention after it was taken.
//
// Backup records describe the blob store, not the data, so they are not
// part of any backup themselves: a restored database never resurrects the
// record of a backup that expired meanwhile.
type Backup struct {
	ID             uint64    `gorm:"primaryKey"`
	Status         string    `privacy:"none"` // running, completed, failed, expired
	Prefix         string    `privacy:"none"` // blob key prefix: backups/<id>
	TakenAt        time.Time `gorm:"index"`
	CompletedAt    *time.Time
	ExpiresAt      time.Time
	ExpiredAt      *time.Time
	TableCount     int
	RowCount       int64
	Bytes          int64 // ciphertext bytes in the blob store
	Parts          int
	ManifestSHA256 string `privacy:"none"`
	MasterVersion  uint32
	SchemaVersion  int
	// KeysShreddedAt is when the backup's copy of the data keys was last
	// brought in line with the keys destroyed since (see internal/backup).
	KeysShreddedAt *time.Time
	Error          string `privacy:"none"` // why it failed: never data
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Backup statuses.
const (
	BackupRunning   = "running"
	BackupCompleted = "completed"
	BackupFailed    = "failed"
	BackupExpired   = "expired"
)
