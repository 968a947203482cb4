package workflows

import (
	"errors"
	"strconv"
	"time"

	"github.com/convot/convot/internal/obligations"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// Retention (policy §8) runs as Temporal Schedules, visible in the UI:
// a daily encrypted backup, each backup's own expiry 90 days later, an
// hourly pass that shreds destroyed data keys out of every backup kept, and
// one daily sweep per retention class (logs and IP addresses after twelve
// months, support correspondence two years after the ticket closed,
// billing records after seven years). EnsureSchedules (schedules.go)
// creates them at worker start.

// Workflow types.
const (
	RetentionSweepWorkflowType  = "RetentionSweep"
	DailyBackupWorkflowType     = "DailyBackup"
	BackupExpiryWorkflowType    = "BackupExpiry"
	ShredBackupKeysWorkflowType = "ShredBackupKeys"
)

// Activities of retention, implemented in package activities.
const (
	ActivitySweepRetention       = "SweepRetention"
	ActivityRecordRetentionSweep = "RecordRetentionSweep"
	ActivityTakeBackup           = "TakeBackup"
	ActivityDeleteBackup         = "DeleteBackup"
	ActivityShredBackupKeys      = "ShredBackupKeys"
)

// SweepInput starts one sweep of a retention class.
type SweepInput struct {
	Class string
}

// SweepRequest is the argument of ActivitySweepRetention: what expired
// before Cutoff goes.
type SweepRequest struct {
	Class  string
	Cutoff time.Time
}

// SweepResult is what a sweep deleted: counts per table (or cleared
// columns), never data.
type SweepResult struct {
	Class   string
	Cutoff  time.Time
	Counts  map[string]int64
	Rows    int64
	Batches int
	// MaxStatement is the longest single batch statement: the longest a
	// row lock was held.
	MaxStatement time.Duration
}

// RetentionSweepWorkflowID is the ID of the sweep of a class a schedule
// starts (Temporal appends the scheduled time).
func RetentionSweepWorkflowID(class string) string { return "retention-" + class }

// RetentionSweep deletes what a retention class keeps no longer, in batches
// (one heartbeating activity), then records the counts in an audit event.
// The cutoff comes from the workflow's clock, so a sweep replayed or
// retried deletes against the same cutoff: it is idempotent.
func RetentionSweep(ctx workflow.Context, in SweepInput) (SweepResult, error) {
	cutoff, err := obligations.RetentionCutoff(in.Class, workflow.Now(ctx))
	if err != nil {
		return SweepResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "InvalidInput", nil)
	}
	sctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 6 * time.Hour,
		HeartbeatTimeout:    2 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 10 * time.Second, BackoffCoefficient: 2, MaximumInterval: 10 * time.Minute},
	})
	var res SweepResult
	if err := workflow.ExecuteActivity(sctx, ActivitySweepRetention, SweepRequest{Class: in.Class, Cutoff: cutoff}).Get(ctx, &res); err != nil {
		return res, err
	}
	if err := workflow.ExecuteActivity(shortActivity(ctx), ActivityRecordRetentionSweep, res).Get(ctx, nil); err != nil {
		return res, err
	}
	return res, nil
}

// shortActivity is the options of a quick database or mail activity,
// retried until it succeeds (the obligation does not go away).
func shortActivity(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute},
	})
}

// BackupResult describes a backup just taken.
type BackupResult struct {
	BackupID  uint64
	TakenAt   time.Time
	ExpiresAt time.Time
	Tables    int
	Rows      int64
	Bytes     int64
}

// BackupExpiryInput starts the expiry of one backup.
type BackupExpiryInput struct {
	BackupID uint64
	TakenAt  time.Time
}

// BackupExpiryWorkflowID is the ID of a backup's expiry workflow.
func BackupExpiryWorkflowID(backupID uint64) string {
	return "backup-expiry-" + strconv.FormatUint(backupID, 10)
}

// DailyBackup shreds destroyed keys out of the backups kept, takes a new
// backup, and starts its expiry workflow, which outlives this one.
func DailyBackup(ctx workflow.Context) (BackupResult, error) {
	long := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 6 * time.Hour,
		HeartbeatTimeout:    2 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 30 * time.Second, BackoffCoefficient: 2, MaximumInterval: 10 * time.Minute, MaximumAttempts: 5},
	})
	if err := workflow.ExecuteActivity(long, ActivityShredBackupKeys).Get(ctx, nil); err != nil {
		return BackupResult{}, err
	}
	var res BackupResult
	if err := workflow.ExecuteActivity(long, ActivityTakeBackup).Get(ctx, &res); err != nil {
		return res, err
	}
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:        BackupExpiryWorkflowID(res.BackupID),
		TaskQueue:         TaskQueue,
		ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON,
		// The dev server's visibility store allows three Datetime search
		// attributes (the DSR deadline, the cancellation's and the
		// breach's): the expiry date is in the memo and the timer's summary.
		Memo:          map[string]any{"expires_at": res.TakenAt.Add(obligations.BackupRetention).UTC().Format(time.RFC3339)},
		StaticSummary: "deletes backup " + strconv.FormatUint(res.BackupID, 10) + " on " + res.TakenAt.Add(obligations.BackupRetention).UTC().Format(time.DateOnly),
	})
	child := workflow.ExecuteChildWorkflow(cctx, BackupExpiryWorkflowType, BackupExpiryInput{BackupID: res.BackupID, TakenAt: res.TakenAt})
	if err := child.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
		var started *temporal.ChildWorkflowExecutionAlreadyStartedError
		if !errors.As(err, &started) {
			return res, err
		}
	}
	return res, nil
}

// BackupExpiry deletes one backup obligations.BackupRetention after it was taken: a
// durable timer, visible in the Temporal UI (its summary and memo say the
// date).
func BackupExpiry(ctx workflow.Context, in BackupExpiryInput) error {
	if in.BackupID == 0 || in.TakenAt.IsZero() {
		return temporal.NewNonRetryableApplicationError("backup ID and time taken are required", "InvalidInput", nil)
	}
	expires := in.TakenAt.Add(obligations.BackupRetention)
	if d := expires.Sub(workflow.Now(ctx)); d > 0 {
		if err := workflow.NewTimerWithOptions(ctx, d, workflow.TimerOptions{Summary: "backup expiry (90 days)"}).Get(ctx, nil); err != nil {
			return err
		}
	}
	return workflow.ExecuteActivity(shortActivity(ctx), ActivityDeleteBackup, in.BackupID).Get(ctx, nil)
}

// ShredBackupKeys removes the data keys destroyed in the live database from
// every backup kept (see internal/backup); a schedule runs it hourly, and
// an erasure may start it at once.
func ShredBackupKeys(ctx workflow.Context) (int, error) {
	long := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Hour,
		HeartbeatTimeout:    2 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 30 * time.Second, BackoffCoefficient: 2, MaximumInterval: 10 * time.Minute},
	})
	var n int
	err := workflow.ExecuteActivity(long, ActivityShredBackupKeys).Get(ctx, &n)
	return n, err
}

// registerRetention registers the workflows of issue #6's obligations:
// backups, retention sweeps, breach notification, policy changes.
func registerRetention(w worker.WorkflowRegistry) {
	w.RegisterWorkflowWithOptions(RetentionSweep, workflow.RegisterOptions{Name: RetentionSweepWorkflowType})
	w.RegisterWorkflowWithOptions(DailyBackup, workflow.RegisterOptions{Name: DailyBackupWorkflowType})
	w.RegisterWorkflowWithOptions(BackupExpiry, workflow.RegisterOptions{Name: BackupExpiryWorkflowType})
	w.RegisterWorkflowWithOptions(ShredBackupKeys, workflow.RegisterOptions{Name: ShredBackupKeysWorkflowType})
	w.RegisterWorkflowWithOptions(BreachNotification, workflow.RegisterOptions{Name: BreachWorkflowType})
	w.RegisterWorkflowWithOptions(PolicyChange, workflow.RegisterOptions{Name: PolicyChangeWorkflowType})
	w.RegisterWorkflowWithOptions(WebhookDelivery, workflow.RegisterOptions{Name: WebhookDeliveryWorkflowType})
}
