package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/convot/convot/internal/obligations"
	"github.com/convot/convot/internal/testenv"
)

// On a real Temporal server: the schedules are created once however often
// workers start, a triggered schedule runs its sweep, and a breach workflow
// is found by its search attributes and answers its status query.
func TestSchedulesAndBreachOnDevServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := testenv.TemporalDevServer(t, ctx, client.Options{})
	require.NoError(t, RegisterSearchAttributes(ctx, c, "default"))

	swept := make(chan SweepRequest, 1)
	w := worker.New(c, TaskQueue, worker.Options{})
	Register(w)
	w.RegisterActivityWithOptions(func(_ context.Context, req SweepRequest) (SweepResult, error) {
		swept <- req
		return SweepResult{Class: req.Class, Cutoff: req.Cutoff, Counts: map[string]int64{"support_tickets": 0}}, nil
	}, activity.RegisterOptions{Name: ActivitySweepRetention})
	w.RegisterActivityWithOptions(func(context.Context, SweepResult) error { return nil }, activity.RegisterOptions{Name: ActivityRecordRetentionSweep})
	for _, name := range []string{ActivityRecordIncidentStep, ActivityEscalateIncident, ActivityDraftAuthorityNotice} {
		w.RegisterActivityWithOptions(func(context.Context, any) error { return nil }, activity.RegisterOptions{Name: name})
	}
	require.NoError(t, w.Start())
	defer w.Stop()

	require.NoError(t, EnsureSchedules(ctx, c))
	require.NoError(t, EnsureSchedules(ctx, c), "a second worker start updates, never fails")
	for _, want := range Schedules() {
		d, err := c.ScheduleClient().GetHandle(ctx, want.ID).Describe(ctx)
		require.NoError(t, err, want.ID)
		a, ok := d.Schedule.Action.(*client.ScheduleWorkflowAction)
		require.True(t, ok, want.ID)
		require.Equal(t, want.Action.(*client.ScheduleWorkflowAction).Workflow, a.Workflow, want.ID)
	}
	iter, err := c.ScheduleClient().List(ctx, client.ScheduleListOptions{})
	require.NoError(t, err)
	n := 0
	for iter.HasNext() {
		_, err := iter.Next()
		require.NoError(t, err)
		n++
	}
	require.Equal(t, len(Schedules()), n, "one schedule each, not duplicated")

	require.NoError(t, c.ScheduleClient().GetHandle(ctx, ScheduleRetentionSupport).Trigger(ctx, client.ScheduleTriggerOptions{}))
	select {
	case req := <-swept:
		require.Equal(t, obligations.RetentionSupport, req.Class)
		require.WithinDuration(t, time.Now().AddDate(-2, 0, 0), req.Cutoff, time.Minute)
	case <-ctx.Done():
		t.Fatal("the triggered schedule did not run its sweep")
	}

	aware := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: BreachWorkflowID(88), TaskQueue: TaskQueue},
		BreachWorkflowType, BreachInput{IncidentID: 88, OrganizationID: 4, AwareAt: aware})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: "default",
			Query:     `ConvotOrgId="4" AND BreachStatus="open" AND BreachNoticeDue > "` + time.Now().UTC().Format(time.RFC3339) + `"`,
		})
		return err == nil && len(resp.GetExecutions()) == 1 && resp.GetExecutions()[0].GetExecution().GetWorkflowId() == "breach-88"
	}, 20*time.Second, 100*time.Millisecond, "breach not found by its search attributes")
	v, err := c.QueryWorkflow(ctx, run.GetID(), "", QueryBreachStatus)
	require.NoError(t, err)
	var s BreachState
	require.NoError(t, v.Get(&s))
	require.Equal(t, aware.Add(72*time.Hour), s.NoticeDueAt.UTC())
	require.Equal(t, BreachOpen, s.Status)
	require.NoError(t, c.TerminateWorkflow(ctx, run.GetID(), "", "test over"))
}
