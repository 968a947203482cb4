package workflows

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/convot/convot/internal/obligations"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

// Schedule IDs: what a privacy officer sees under Schedules in the
// Temporal UI.
const (
	ScheduleDailyBackup       = "convot-backup-daily"
	ScheduleShredBackupKeys   = "convot-backup-key-shred"
	ScheduleRetentionSecurity = "convot-retention-security-log"
	ScheduleRetentionSupport  = "convot-retention-support"
	ScheduleRetentionBilling  = "convot-retention-billing"
	ScheduleRetentionAccess   = "convot-retention-access-log"
)

// Schedules are the recurring obligations of policy §8: a daily backup,
// an hourly shredding of destroyed keys out of the backups, and a daily
// sweep of each retention class, at quiet hours (UTC), never overlapping
// themselves.
func Schedules() []client.ScheduleOptions {
	daily := func(hour, minute int) client.ScheduleSpec {
		return client.ScheduleSpec{Calendars: []client.ScheduleCalendarSpec{{
			Hour: []client.ScheduleRange{{Start: hour}}, Minute: []client.ScheduleRange{{Start: minute}},
		}}}
	}
	sweep := func(id, class string, hour, minute int) client.ScheduleOptions {
		return client.ScheduleOptions{
			ID:   id,
			Spec: daily(hour, minute),
			Action: &client.ScheduleWorkflowAction{
				ID: RetentionSweepWorkflowID(class), Workflow: RetentionSweepWorkflowType, TaskQueue: TaskQueue,
				Args: []any{SweepInput{Class: class}},
			},
			Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
			Note:    "policy §8 retention: " + class,
		}
	}
	return []client.ScheduleOptions{
		{
			ID:   ScheduleDailyBackup,
			Spec: daily(2, 30),
			Action: &client.ScheduleWorkflowAction{
				ID: "backup-daily", Workflow: DailyBackupWorkflowType, TaskQueue: TaskQueue,
			},
			Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
			Note:    "policy §8, §10: encrypted daily backup; each expires 90 days after it was taken",
		},
		{
			ID:   ScheduleShredBackupKeys,
			Spec: client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: time.Hour}}},
			Action: &client.ScheduleWorkflowAction{
				ID: "backup-key-shred", Workflow: ShredBackupKeysWorkflowType, TaskQueue: TaskQueue,
			},
			Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
			Note:    "crypto-shredding: data keys destroyed in the database are removed from every backup kept",
		},
		sweep(ScheduleRetentionSecurity, obligations.RetentionSecurityLog, 3, 0),
		sweep(ScheduleRetentionSupport, obligations.RetentionSupport, 3, 20),
		sweep(ScheduleRetentionBilling, obligations.RetentionBilling, 3, 40),
		sweep(ScheduleRetentionAccess, obligations.RetentionAccessLog, 3, 50),
	}
}

// EnsureSchedules creates the schedules, or brings existing ones in line
// with Schedules(): safe to run at every worker start, on every node.
func EnsureSchedules(ctx context.Context, c client.Client) error {
	sc := c.ScheduleClient()
	for _, opts := range Schedules() {
		_, err := sc.Create(ctx, opts)
		if err == nil {
			continue
		}
		if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) && !alreadyExists(err) {
			return fmt.Errorf("schedule %s: %w", opts.ID, err)
		}
		want := opts
		err = sc.GetHandle(ctx, opts.ID).Update(ctx, client.ScheduleUpdateOptions{
			DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
				s := in.Description.Schedule
				spec := want.Spec
				s.Spec = &spec
				s.Action = want.Action
				if s.Policy == nil {
					s.Policy = &client.SchedulePolicies{}
				}
				s.Policy.Overlap = want.Overlap
				return &client.ScheduleUpdate{Schedule: &s}, nil
			},
		})
		if err != nil {
			return fmt.Errorf("update schedule %s: %w", opts.ID, err)
		}
	}
	return nil
}
