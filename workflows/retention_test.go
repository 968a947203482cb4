package workflows

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/convot/convot/internal/obligations"
	"github.com/convot/convot/internal/testenv"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

// call is one activity call a fake saw, at workflow time.
type call struct {
	Name string
	At   time.Time
	Arg  any
}

// fakes records activity calls in order; mu guards the state of the fakes
// built on it (breachFakes).
type fakes struct {
	mu  sync.Mutex
	env *testsuite.TestWorkflowEnvironment
	log callLog[call]
}

func (f *fakes) add(name string, arg any) {
	f.log.add(call{Name: name, At: f.env.Now().UTC(), Arg: arg})
}

func (f *fakes) of(name string) []call {
	return f.log.where(func(c call) bool { return c.Name == name })
}

func (f *fakes) names() []string {
	var out []string
	for _, c := range f.log.where(func(call) bool { return true }) {
		out = append(out, c.Name)
	}
	return out
}

func newObligationEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *fakes) {
	t.Helper()
	env := testenv.WorkflowEnv(t0)
	Register(env)
	return env, &fakes{env: env}
}

// Each backup is deleted by its own expiry workflow exactly ninety days
// after it was taken, also when its expiry starts later than that.
func TestBackupExpiresNinetyDaysAfterItWasTaken(t *testing.T) {
	for _, taken := range []time.Time{t0, t0.Add(-30 * 24 * time.Hour)} {
		env, f := newObligationEnv(t)
		env.RegisterActivityWithOptions(func(_ context.Context, id uint64) error {
			f.add(ActivityDeleteBackup, id)
			return nil
		}, activity.RegisterOptions{Name: ActivityDeleteBackup})
		env.ExecuteWorkflow(BackupExpiryWorkflowType, BackupExpiryInput{BackupID: 17, TakenAt: taken})
		require.True(t, env.IsWorkflowCompleted())
		require.NoError(t, env.GetWorkflowError())
		deletes := f.of(ActivityDeleteBackup)
		require.Len(t, deletes, 1)
		require.Equal(t, uint64(17), deletes[0].Arg)
		require.Equal(t, taken.Add(90*24*time.Hour), deletes[0].At, "deleted 90 days after it was taken")
	}
	require.Equal(t, obligations.BackupRetention, obligations.BackupRetention)
	require.Equal(t, "backup-expiry-17", BackupExpiryWorkflowID(17))
}

// The daily backup first shreds destroyed keys out of the kept backups,
// then takes the new one, then starts its expiry as a workflow of its own
// (backup-expiry-<id>) that outlives the daily run.
func TestDailyBackupShredsTakesAndStartsItsExpiry(t *testing.T) {
	env, f := newObligationEnv(t)
	env.RegisterActivityWithOptions(func(context.Context) (int, error) {
		f.add(ActivityShredBackupKeys, nil)
		return 2, nil
	}, activity.RegisterOptions{Name: ActivityShredBackupKeys})
	env.RegisterActivityWithOptions(func(context.Context) (BackupResult, error) {
		f.add(ActivityTakeBackup, nil)
		return BackupResult{BackupID: 9, TakenAt: t0, ExpiresAt: t0.Add(obligations.BackupRetention), Tables: 30, Rows: 100}, nil
	}, activity.RegisterOptions{Name: ActivityTakeBackup})
	var childID string
	env.OnWorkflow(BackupExpiryWorkflowType, mock.Anything, mock.Anything).Return(func(ctx workflow.Context, in BackupExpiryInput) error {
		childID = workflow.GetInfo(ctx).WorkflowExecution.ID
		f.add(BackupExpiryWorkflowType, in)
		return nil
	})
	env.ExecuteWorkflow(DailyBackupWorkflowType)
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res BackupResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, uint64(9), res.BackupID)
	require.Equal(t, []string{ActivityShredBackupKeys, ActivityTakeBackup, BackupExpiryWorkflowType}, f.names())
	require.Equal(t, "backup-expiry-9", childID)
	require.Equal(t, BackupExpiryInput{BackupID: 9, TakenAt: t0}, f.of(BackupExpiryWorkflowType)[0].Arg)
}

// Each sweep deletes against its class's period, measured on the
// workflow's clock: twelve months for logs and IP addresses, two years
// after a support ticket closed, seven years for billing records; then it
// records the counts.
func TestRetentionSweepPeriods(t *testing.T) {
	want := map[string]time.Time{
		obligations.RetentionSecurityLog: time.Date(2025, 3, 2, 9, 0, 0, 0, time.UTC),
		obligations.RetentionSupport:     time.Date(2024, 3, 2, 9, 0, 0, 0, time.UTC),
		obligations.RetentionBilling:     time.Date(2019, 3, 2, 9, 0, 0, 0, time.UTC),
	}
	for class, cutoff := range want {
		env, f := newObligationEnv(t)
		env.RegisterActivityWithOptions(func(_ context.Context, req SweepRequest) (SweepResult, error) {
			f.add(ActivitySweepRetention, req)
			return SweepResult{Class: req.Class, Cutoff: req.Cutoff, Counts: map[string]int64{"t": 3}, Rows: 3, Batches: 1}, nil
		}, activity.RegisterOptions{Name: ActivitySweepRetention})
		env.RegisterActivityWithOptions(func(_ context.Context, res SweepResult) error {
			f.add(ActivityRecordRetentionSweep, res)
			return nil
		}, activity.RegisterOptions{Name: ActivityRecordRetentionSweep})
		env.ExecuteWorkflow(RetentionSweepWorkflowType, SweepInput{Class: class})
		require.True(t, env.IsWorkflowCompleted())
		require.NoError(t, env.GetWorkflowError())
		sweeps := f.of(ActivitySweepRetention)
		require.Len(t, sweeps, 1)
		require.Equal(t, SweepRequest{Class: class, Cutoff: cutoff}, sweeps[0].Arg, class)
		records := f.of(ActivityRecordRetentionSweep)
		require.Len(t, records, 1)
		require.Equal(t, int64(3), records[0].Arg.(SweepResult).Counts["t"])
	}
	env, _ := newObligationEnv(t)
	env.ExecuteWorkflow(RetentionSweepWorkflowType, SweepInput{Class: "account"})
	require.Error(t, env.GetWorkflowError(), "an unswept class is refused")
}

// The sweep's activity resumes after a failure (its progress is in its
// heartbeat); the workflow retries it until it succeeds.
func TestRetentionSweepIsRetried(t *testing.T) {
	env, f := newObligationEnv(t)
	attempts := 0
	env.RegisterActivityWithOptions(func(_ context.Context, req SweepRequest) (SweepResult, error) {
		attempts++
		if attempts < 3 {
			return SweepResult{}, context.DeadlineExceeded
		}
		f.add(ActivitySweepRetention, req)
		return SweepResult{Class: req.Class, Cutoff: req.Cutoff}, nil
	}, activity.RegisterOptions{Name: ActivitySweepRetention})
	env.RegisterActivityWithOptions(func(_ context.Context, res SweepResult) error { return nil },
		activity.RegisterOptions{Name: ActivityRecordRetentionSweep})
	env.ExecuteWorkflow(RetentionSweepWorkflowType, SweepInput{Class: obligations.RetentionSupport})
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, 3, attempts)
}

// The schedules cover the backup, the shredding and every swept class.
func TestSchedulesCoverEveryObligation(t *testing.T) {
	ids := map[string]bool{}
	swept := map[string]bool{}
	for _, s := range Schedules() {
		ids[s.ID] = true
		a, ok := s.Action.(*client.ScheduleWorkflowAction)
		require.True(t, ok, s.ID)
		require.Equal(t, TaskQueue, a.TaskQueue)
		if a.Workflow == RetentionSweepWorkflowType {
			swept[a.Args[0].(SweepInput).Class] = true
		}
	}
	for _, id := range []string{ScheduleDailyBackup, ScheduleShredBackupKeys, ScheduleRetentionSecurity, ScheduleRetentionSupport, ScheduleRetentionBilling, ScheduleRetentionAccess} {
		require.True(t, ids[id], id)
	}
	for _, c := range obligations.SweptClasses {
		require.True(t, swept[c], "no schedule sweeps %s", c)
	}
}

// A material change takes effect no sooner than thirty days after its
// notice: the notices go out at once, the effective date is recorded when
// it comes, and an earlier date is refused before anyone is mailed.
func TestPolicyChangeNoticeThirtyDaysAhead(t *testing.T) {
	env, f := newObligationEnv(t)
	env.RegisterActivityWithOptions(func(_ context.Context, version int) (int64, error) {
		f.add(ActivitySendPolicyNotices, version)
		return 12, nil
	}, activity.RegisterOptions{Name: ActivitySendPolicyNotices})
	env.RegisterActivityWithOptions(func(_ context.Context, in PolicyStepInput) error {
		f.add(ActivityRecordPolicyStep, in.Step)
		return nil
	}, activity.RegisterOptions{Name: ActivityRecordPolicyStep})
	effective := t0.Add(30 * 24 * time.Hour)
	env.ExecuteWorkflow(PolicyChangeWorkflowType, PolicyChangeInput{Version: 2, Material: true, EffectiveAt: effective})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	notices := f.of(ActivitySendPolicyNotices)
	require.Len(t, notices, 1)
	require.Equal(t, t0, notices[0].At, "notices go out at publication")
	require.GreaterOrEqual(t, effective.Sub(notices[0].At), 30*24*time.Hour)
	steps := f.of(ActivityRecordPolicyStep)
	require.Len(t, steps, 2)
	require.Equal(t, "notices_sent", steps[0].Arg)
	require.Equal(t, "effective", steps[1].Arg)
	require.Equal(t, effective, steps[1].At, "recorded effective on its date")
	var st PolicyChangeState
	require.NoError(t, env.GetWorkflowResult(&st))
	require.True(t, st.Effective)
	require.Equal(t, int64(12), st.NoticesSent)
	require.Equal(t, "policy-change-2", PolicyChangeWorkflowID(2))

	env, f = newObligationEnv(t)
	env.RegisterActivityWithOptions(func(_ context.Context, version int) (int64, error) {
		f.add(ActivitySendPolicyNotices, version)
		return 0, nil
	}, activity.RegisterOptions{Name: ActivitySendPolicyNotices})
	env.ExecuteWorkflow(PolicyChangeWorkflowType, PolicyChangeInput{Version: 3, Material: true, EffectiveAt: t0.Add(29 * 24 * time.Hour)})
	require.Error(t, env.GetWorkflowError())
	require.Contains(t, env.GetWorkflowError().Error(), "at least 30 days")
	require.Empty(t, f.of(ActivitySendPolicyNotices), "no notice for a refused change")
}
