package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/workflow"

	"github.com/convot/convot/internal/testenv"
)

// testSchedule is outgoing.RetryWaits (workflows does not import the
// domain; the dispatcher passes the schedule in the input).
var testSchedule = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour,
	5 * time.Hour, 10 * time.Hour, 24 * time.Hour, 24 * time.Hour, 24 * time.Hour,
}

type attemptCall struct {
	In WebhookAttemptInput
	At time.Time
}

func webhookEnv(t *testing.T, t0 time.Time, answer func(n int, in WebhookAttemptInput) WebhookAttemptResult) (*callLog[attemptCall], *callLog[WebhookEndpointRef], func() WebhookDeliveryState) {
	t.Helper()
	env := testenv.WorkflowEnv(t0)
	env.RegisterWorkflowWithOptions(WebhookDelivery, workflow.RegisterOptions{Name: WebhookDeliveryWorkflowType})
	attempts := &callLog[attemptCall]{}
	disabled := &callLog[WebhookEndpointRef]{}
	n := 0
	env.RegisterActivityWithOptions(func(_ context.Context, in WebhookAttemptInput) (WebhookAttemptResult, error) {
		n++
		attempts.add(attemptCall{In: in, At: env.Now()})
		return answer(n, in), nil
	}, activity.RegisterOptions{Name: ActivityAttemptWebhookDelivery})
	env.RegisterActivityWithOptions(func(_ context.Context, ref WebhookEndpointRef) error {
		disabled.add(ref)
		return nil
	}, activity.RegisterOptions{Name: ActivityDisableWebhookEndpoint})
	return attempts, disabled, func() WebhookDeliveryState {
		env.ExecuteWorkflow(WebhookDeliveryWorkflowType, WebhookDeliveryInput{DeliveryID: 9, OrganizationID: 5, EndpointID: 3, RetryWaits: testSchedule})
		require.True(t, env.IsWorkflowCompleted())
		require.NoError(t, env.GetWorkflowError())
		var st WebhookDeliveryState
		require.NoError(t, env.GetWorkflowResult(&st))
		return st
	}
}

// Three failures, then a success: four attempts on the schedule, the
// last one delivered, nothing after it.
func TestWebhookDeliveryRetriesUntilDelivered(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	attempts, disabled, run := webhookEnv(t, t0, func(n int, _ WebhookAttemptInput) WebhookAttemptResult {
		if n <= 3 {
			return WebhookAttemptResult{Outcome: WebhookOutcomeFailed, StatusCode: 500}
		}
		return WebhookAttemptResult{Outcome: WebhookOutcomeDelivered, StatusCode: 204}
	})
	st := run()
	calls := attempts.where(func(attemptCall) bool { return true })
	require.Len(t, calls, 4)
	require.Equal(t, WebhookOutcomeDelivered, st.Outcome)
	require.Empty(t, disabled.where(func(WebhookEndpointRef) bool { return true }))
	var waited time.Duration
	for i, c := range calls {
		require.Equal(t, i+1, c.In.Attempt)
		require.False(t, c.In.Final)
		if i > 0 {
			waited += testSchedule[i-1]
		}
		require.WithinDuration(t, t0.Add(waited), c.At, time.Second, "attempt %d", i+1)
	}
}

// An endpoint that never answers: every attempt of the schedule, over
// more than three days, the last one final; a gate's refusal ends at once.
func TestWebhookDeliveryGivesUpAfterTheSchedule(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	attempts, _, run := webhookEnv(t, t0, func(int, WebhookAttemptInput) WebhookAttemptResult {
		return WebhookAttemptResult{Outcome: WebhookOutcomeFailed}
	})
	st := run()
	calls := attempts.where(func(attemptCall) bool { return true })
	require.Len(t, calls, len(testSchedule)+1)
	require.True(t, calls[len(calls)-1].In.Final)
	require.Greater(t, calls[len(calls)-1].At.Sub(calls[0].At), 3*24*time.Hour)
	require.Equal(t, WebhookOutcomeFailed, st.Outcome)

	denied, _, run := webhookEnv(t, t0, func(int, WebhookAttemptInput) WebhookAttemptResult {
		return WebhookAttemptResult{Outcome: WebhookOutcomeDenied}
	})
	require.Equal(t, WebhookOutcomeDenied, run().Outcome)
	require.Len(t, denied.where(func(attemptCall) bool { return true }), 1)
}

// An attempt that finds the endpoint failing for five days disables it
// (the activity mails the owners) and ends the delivery.
func TestWebhookDeliveryDisablesAnEndpointFailingFiveDays(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	attempts, disabled, run := webhookEnv(t, t0, func(n int, _ WebhookAttemptInput) WebhookAttemptResult {
		return WebhookAttemptResult{Outcome: WebhookOutcomeFailed, DisableEndpoint: n == 2}
	})
	st := run()
	require.True(t, st.Disabled)
	require.Len(t, attempts.where(func(attemptCall) bool { return true }), 2)
	require.Equal(t, []WebhookEndpointRef{{OrganizationID: 5, EndpointID: 3}}, disabled.where(func(WebhookEndpointRef) bool { return true }))
}
