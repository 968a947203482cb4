package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/convot/convot/internal/backup"
	"github.com/convot/convot/internal/obligations"
	"github.com/convot/convot/models"
	"github.com/convot/convot/retention"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// retentionActivities are the activities of issue #6's obligations, by
// name: backups, retention sweeps, breach notification and policy changes.
func retentionActivities(a *Activities) map[string]any {
	return map[string]any{
		workflows.ActivitySweepRetention:       a.SweepRetention,
		workflows.ActivityRecordRetentionSweep: a.RecordRetentionSweep,
		workflows.ActivityTakeBackup:           a.TakeBackup,
		workflows.ActivityDeleteBackup:         a.DeleteBackup,
		workflows.ActivityShredBackupKeys:      a.ShredBackupKeys,
		workflows.ActivityRecordIncidentStep:   a.RecordIncidentStep,
		workflows.ActivityEscalateIncident:     a.EscalateIncident,
		workflows.ActivityDraftAuthorityNotice: a.DraftAuthorityNotice,
		workflows.ActivityRecordNoticeSent:     a.RecordNoticeSent,
		workflows.ActivityNotifyAffectedUsers:  a.NotifyAffectedUsers,
		workflows.ActivitySendPolicyNotices:    a.SendPolicyNotices,
		workflows.ActivityRecordPolicyStep:     a.RecordPolicyStep,
	}
}

// SweepRetention deletes (or clears) what a retention class keeps no longer
// before the request's cutoff, in batches, heartbeating after each, and
// resumes from the last heartbeat when retried.
func (a *Activities) SweepRetention(ctx context.Context, req workflows.SweepRequest) (workflows.SweepResult, error) {
	res := workflows.SweepResult{Class: req.Class, Cutoff: req.Cutoff}
	var progress store.SweepProgress
	if activity.HasHeartbeatDetails(ctx) {
		if err := activity.GetHeartbeatDetails(ctx, &progress); err != nil {
			progress = store.SweepProgress{}
		}
	}
	stats, err := retention.Sweep(ctx, a.Store, req.Class, req.Cutoff, progress, func(p store.SweepProgress) error {
		activity.RecordHeartbeat(ctx, p)
		return ctx.Err()
	})
	if errors.Is(err, retention.ErrNoTargets) {
		return res, temporal.NewNonRetryableApplicationError(err.Error(), "InvalidInput", nil)
	}
	res.Counts, res.Rows, res.Batches, res.MaxStatement = stats.Counts, stats.Rows, stats.Batches, stats.MaxStatement
	return res, err
}

// RecordRetentionSweep records what a sweep deleted, counts per table and
// never data, as an audit event of the deployment (organization 0).
func (a *Activities) RecordRetentionSweep(ctx context.Context, res workflows.SweepResult) error {
	detail := fmt.Sprintf("cutoff %s; %s", res.Cutoff.UTC().Format(time.RFC3339), retention.FormatCounts(res.Counts))
	return a.systemAudit(ctx, a.Store, 0, 0, "retention.swept", detail, "retention:"+res.Class)
}

func (a *Activities) backups() (*backup.Backups, error) {
	if a.Backups == nil {
		return nil, temporal.NewNonRetryableApplicationError("no backup store configured", "NoBackupStore", nil)
	}
	return a.Backups, nil
}

// TakeBackup takes a backup: it records it as running, writes it (the
// record's ID names it in the blob store), and records it completed with
// its manifest's figures. A retried attempt writes the same backup again.
func (a *Activities) TakeBackup(ctx context.Context) (workflows.BackupResult, error) {
	var res workflows.BackupResult
	b, err := a.backups()
	if err != nil {
		return res, err
	}
	var id uint64
	if activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &id)
	}
	var rec *models.Backup
	if id != 0 {
		if rec, err = a.Store.BackupByID(ctx, id); err != nil {
			return res, err
		}
	} else {
		now := time.Now().UTC().Truncate(time.Microsecond)
		rec = &models.Backup{Status: models.BackupRunning, TakenAt: now, ExpiresAt: now.Add(obligations.BackupRetention), CreatedAt: now, UpdatedAt: now}
		if err := a.Store.CreateBackup(ctx, rec); err != nil {
			return res, err
		}
		rec.Prefix = backup.Prefix(rec.ID)
		if err := a.Store.SetBackupPrefix(ctx, rec); err != nil {
			return res, err
		}
	}
	activity.RecordHeartbeat(ctx, rec.ID)
	m, err := b.Take(ctx, rec.ID, rec.TakenAt, func(string, int64) { activity.RecordHeartbeat(ctx, rec.ID) })
	if err != nil {
		_ = a.Store.UpdateBackup(context.WithoutCancel(ctx), rec, map[string]any{
			"status": models.BackupFailed, "error": truncateError(err), "updated_at": time.Now().UTC()})
		return res, err
	}
	sum, err := b.ManifestSHA256(ctx, rec.ID)
	if err != nil {
		return res, err
	}
	now := time.Now().UTC()
	err = a.Store.UpdateBackup(ctx, rec, map[string]any{
		"status": models.BackupCompleted, "completed_at": now, "table_count": len(m.Tables), "row_count": m.Rows(),
		"bytes": m.Bytes(), "parts": len(m.Parts), "manifest_sha256": sum, "master_version": m.MasterVersion,
		"schema_version": m.SchemaVersion, "error": "", "updated_at": now,
	})
	if err != nil {
		return res, err
	}
	if err := a.systemAudit(ctx, a.Store, 0, 0, "backup.taken",
		fmt.Sprintf("%d tables, %d rows, %d bytes; expires %s", len(m.Tables), m.Rows(), m.Bytes(), rec.ExpiresAt.Format(time.RFC3339)),
		fmt.Sprintf("backup:%d", rec.ID)); err != nil {
		return res, err
	}
	return workflows.BackupResult{BackupID: rec.ID, TakenAt: rec.TakenAt, ExpiresAt: rec.ExpiresAt, Tables: len(m.Tables), Rows: m.Rows(), Bytes: m.Bytes()}, nil
}

// truncateError keeps an error's text short for the record; errors here
// name tables and blobs, never data.
func truncateError(err error) string {
	s := err.Error()
	if len(s) > 500 {
		s = s[:500]
	}
	return s
}

// DeleteBackup deletes a backup's blobs and marks its record expired. It
// works from the blob store's manifest, so it also deletes a backup whose
// record a restore did not bring back; a backup already gone is deleted.
func (a *Activities) DeleteBackup(ctx context.Context, id uint64) error {
	b, err := a.backups()
	if err != nil {
		return err
	}
	if err := b.Delete(ctx, id); err != nil {
		return err
	}
	now := time.Now().UTC()
	expired, err := a.Store.ExpireBackup(ctx, id, now)
	if err != nil {
		return err
	}
	if !expired {
		return nil // recorded expired already (a retry), or unknown here
	}
	return a.systemAudit(ctx, a.Store, 0, 0, "backup.expired", "deleted 90 days after it was taken", fmt.Sprintf("backup:%d", id))
}

// ShredBackupKeys removes the data keys the live database destroyed from
// every backup still kept, and returns how many key copies it removed.
func (a *Activities) ShredBackupKeys(ctx context.Context) (int, error) {
	b, err := a.backups()
	if err != nil {
		return 0, err
	}
	kept, err := a.Store.CompletedBackups(ctx)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, rec := range kept {
		n, err := b.ShredKeys(ctx, rec.ID)
		if errors.Is(err, backup.ErrNotFound) {
			continue // deleted by its expiry meanwhile
		}
		if errors.Is(err, backup.ErrKeyUnavailable) || errors.Is(err, backup.ErrTampered) {
			// No retry can fix it; the others are still shredded, and the
			// officer sees why this one was not.
			if err := a.systemAudit(ctx, a.Store, 0, 0, "backup.keys_not_shredded", truncateError(err), fmt.Sprintf("backup:%d", rec.ID)); err != nil {
				return total, err
			}
			continue
		}
		if err != nil {
			return total, fmt.Errorf("backup %d: %w", rec.ID, err)
		}
		total += n
		sum := "" // unchanged when nothing was shredded
		if n > 0 {
			if sum, err = b.ManifestSHA256(ctx, rec.ID); err != nil {
				return total, err
			}
		}
		if err := a.Store.MarkBackupKeysShredded(ctx, rec.ID, sum, time.Now().UTC()); err != nil {
			return total, err
		}
		activity.RecordHeartbeat(ctx, rec.ID)
	}
	if total > 0 {
		if err := a.systemAudit(ctx, a.Store, 0, 0, "backup.keys_shredded",
			fmt.Sprintf("%d destroyed key copies removed from %d backups", total, len(kept)), "backups"); err != nil {
			return total, err
		}
	}
	return total, nil
}
