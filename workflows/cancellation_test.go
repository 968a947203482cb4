package workflows

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/convot/convot/internal/testenv"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"
)

const testCancelledOrg = 9

// cancellationFakes stand in for the cancellation's activities and record
// when (in workflow time) each ran.
type cancellationFakes struct {
	env *testsuite.TestWorkflowEnvironment

	mu          sync.Mutex
	marked      []time.Time
	notices     map[string][]time.Time
	reactivated []CancellationChange
	deleted     []time.Time
	markFails   int
}

func (f *cancellationFakes) mark(_ context.Context, ch CancellationChange) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.markFails > 0 {
		f.markFails--
		return errors.New("database unavailable")
	}
	if ch.OrganizationID != testCancelledOrg || ch.DeleteAt.Sub(ch.At) != CancellationGracePeriod {
		return errors.New("unexpected change")
	}
	f.marked = append(f.marked, f.env.Now())
	return nil
}

func (f *cancellationFakes) notice(_ context.Context, n CancellationNotice) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.notices[n.Kind] = append(f.notices[n.Kind], f.env.Now())
	return nil
}

func (f *cancellationFakes) reactivate(_ context.Context, ch CancellationChange) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reactivated = append(f.reactivated, ch)
	return nil
}

func (f *cancellationFakes) delete(_ context.Context, req DeletionRequest) (DeletionReport, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleted = append(f.deleted, f.env.Now())
	return DeletionReport{Deleted: map[string]int64{"contacts": 3}, Kept: map[string]int64{"invoices": 2}, KeysDestroyed: 4}, nil
}

func newCancellationEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *cancellationFakes) {
	t.Helper()
	env := testenv.WorkflowEnv(t0)
	Register(env)
	f := &cancellationFakes{env: env, notices: map[string][]time.Time{}}
	env.RegisterActivityWithOptions(f.mark, activity.RegisterOptions{Name: ActivityMarkOrganizationCancelled})
	env.RegisterActivityWithOptions(f.notice, activity.RegisterOptions{Name: ActivitySendCancellationNotice})
	env.RegisterActivityWithOptions(f.reactivate, activity.RegisterOptions{Name: ActivityReactivateOrganization})
	env.RegisterActivityWithOptions(f.delete, activity.RegisterOptions{Name: ActivityDeleteOrganizationData})
	return env, f
}

func cancellationStatus(t *testing.T, env *testsuite.TestWorkflowEnvironment) CancellationState {
	t.Helper()
	return query[CancellationState](t, env, QueryStatus)
}

// The owner is told at cancellation and three days before deletion; the
// data is deleted thirty days after cancellation, not a minute earlier.
func TestCancellationNoticesThenDeletionAfter30Days(t *testing.T) {
	env, f := newCancellationEnv(t)
	f.markFails = 2 // the database is briefly away: retried
	at(env, 10*24*time.Hour, func() {
		s := cancellationStatus(t, env)
		require.Equal(t, CancellationGrace, s.Status)
		require.True(t, t0.Add(30*24*time.Hour).Equal(s.DeleteAt), "deletion date %s", s.DeleteAt)
		require.True(t, s.NoticeSent)
		require.False(t, s.ReminderSent)
	})
	at(env, 30*24*time.Hour-time.Minute, func() {
		s := cancellationStatus(t, env)
		require.Equal(t, CancellationGrace, s.Status)
		require.True(t, s.ReminderSent)
		f.mu.Lock()
		require.Empty(t, f.deleted, "deleted before the grace period ended")
		f.mu.Unlock()
	})
	runToEnd(t, env, CancellationWorkflowType, CancellationInput{OrganizationID: testCancelledOrg, Reason: CancellationClosedByOwner, ActorID: 3})

	var result CancellationState
	require.NoError(t, env.GetWorkflowResult(&result))
	require.Equal(t, CancellationDeleted, result.Status)
	require.Equal(t, int64(3), result.Report.Deleted["contacts"])
	require.Equal(t, int64(2), result.Report.Kept["invoices"])

	require.Len(t, f.marked, 1)
	require.WithinDuration(t, t0, f.marked[0], 10*time.Second)
	require.Len(t, f.notices[NoticeCancelled], 1)
	require.WithinDuration(t, t0, f.notices[NoticeCancelled][0], 10*time.Second)
	require.Len(t, f.notices[NoticeReminder], 1)
	require.True(t, t0.Add(27*24*time.Hour).Equal(f.notices[NoticeReminder][0]), "reminder at %s", f.notices[NoticeReminder][0])
	require.Len(t, f.deleted, 1)
	require.True(t, t0.Add(30*24*time.Hour).Equal(f.deleted[0]), "deleted at %s", f.deleted[0])
	require.Empty(t, f.reactivated)
	require.Empty(t, f.notices[NoticeReactivated])
}

// Reactivation within the grace period cancels the deletion: nothing is
// deleted, the organization is active again, the owner is told; before or
// after the reminder.
func TestCancellationReactivationWithinGraceKeepsEverything(t *testing.T) {
	for name, when := range map[string]time.Duration{
		"before the reminder": 10 * 24 * time.Hour,
		"after the reminder":  29 * 24 * time.Hour,
		"at the last minute":  30*24*time.Hour - time.Second,
	} {
		t.Run(name, func(t *testing.T) {
			env, f := newCancellationEnv(t)
			at(env, when, func() { env.SignalWorkflow(SignalReactivate, ReactivateSignal{ActorID: 3}) })
			runToEnd(t, env, CancellationWorkflowType, CancellationInput{OrganizationID: testCancelledOrg, Reason: CancellationSubscriptionEnded})
			var result CancellationState
			require.NoError(t, env.GetWorkflowResult(&result))
			require.Equal(t, CancellationReactivated, result.Status)
			require.Equal(t, uint64(3), result.ReactivatedBy)
			require.True(t, t0.Add(when).Equal(result.ReactivatedAt), "reactivated at %s", result.ReactivatedAt)
			require.Empty(t, f.deleted, "deleted although reactivated")
			require.Len(t, f.reactivated, 1)
			require.Equal(t, uint64(testCancelledOrg), f.reactivated[0].OrganizationID)
			require.Len(t, f.notices[NoticeReactivated], 1)
			require.Equal(t, when > 27*24*time.Hour, len(f.notices[NoticeReminder]) == 1)
		})
	}
}

func TestCancellationRefusesBadInput(t *testing.T) {
	for _, in := range []CancellationInput{
		{Reason: CancellationClosedByOwner},
		{OrganizationID: testCancelledOrg, Reason: "because"},
	} {
		env, f := newCancellationEnv(t)
		env.ExecuteWorkflow(CancellationWorkflowType, in)
		require.True(t, env.IsWorkflowCompleted())
		require.Error(t, env.GetWorkflowError())
		require.Empty(t, f.marked)
	}
}

// The start options carry the organization and the deletion date as search
// attributes, and the workflow ID holds the organization ID only.
func TestCancellationStartOptions(t *testing.T) {
	opts := CancellationStartOptions(CancellationInput{OrganizationID: 12, Reason: CancellationUnpaid}, t0)
	require.Equal(t, "cancellation-12", opts.ID)
	require.Equal(t, TaskQueue, opts.TaskQueue)
	deleteAt, ok := opts.TypedSearchAttributes.GetTime(CancellationDeleteAt)
	require.True(t, ok)
	require.True(t, t0.Add(30*24*time.Hour).Equal(deleteAt), "deletion date %s", deleteAt)
	org, ok := opts.TypedSearchAttributes.GetKeyword(ConvotOrgId)
	require.True(t, ok)
	require.Equal(t, "12", org)
}
