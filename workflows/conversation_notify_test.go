package workflows

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"
)

// notifier stands in for the NotifyContactOfReplies activity and notes the
// workflow time of each call.
type notifier struct {
	mu    sync.Mutex
	calls []ReplyNotification
	at    []time.Time
	env   *testsuite.TestWorkflowEnvironment
}

func (n *notifier) notify(_ context.Context, r ReplyNotification) (ReplyNotificationResult, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.calls = append(n.calls, r)
	n.at = append(n.at, n.env.Now())
	return ReplyNotificationResult{Sent: true, Messages: 2}, nil
}

func (n *notifier) times() []time.Duration {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []time.Duration
	for _, at := range n.at {
		out = append(out, at.Sub(t0).Round(time.Second))
	}
	return out
}

func newNotifyEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *notifier) {
	env, _ := newEnv(t)
	n := &notifier{env: env}
	env.RegisterActivityWithOptions(n.notify, activity.RegisterOptions{Name: ActivityNotifyContactOfReplies})
	return env, n
}

func operatorMessage(env *testsuite.TestWorkflowEnvironment, id uint64) {
	env.SignalWorkflow(SignalMessage, MessageSignal{AuthorKind: AuthorOperator, MessageID: id})
}

func TestReplyNotificationAfterTheDelay(t *testing.T) {
	env, n := newNotifyEnv(t)
	at(env, time.Hour, func() { operatorMessage(env, 1) })
	at(env, time.Hour+time.Minute, func() {
		s := queryState(t, env)
		require.Equal(t, t0.Add(time.Hour+DefaultReplyNotificationDelay), s.NotifyRepliesAt)
		require.Equal(t, DefaultReplyNotificationDelay, s.ReplyNotificationDelay)
		require.Empty(t, n.times(), "mailed before the delay")
	})
	at(env, time.Hour+5*time.Minute, func() {
		s := queryState(t, env)
		require.True(t, s.NotifyRepliesAt.IsZero())
		require.Equal(t, 2, s.RepliesNotified)
	})
	execute(t, env, input(0), 2*time.Hour)
	require.Equal(t, []time.Duration{time.Hour + 2*time.Minute}, n.times())
	require.Equal(t, []ReplyNotification{{ConversationID: testConversation, OrganizationID: testOrganization}}, n.calls)
}

// Replies in quick succession make one mail; a reply after it, another.
func TestReplyNotificationOnePerBurst(t *testing.T) {
	env, n := newNotifyEnv(t)
	at(env, time.Hour, func() { operatorMessage(env, 1) })
	at(env, time.Hour+30*time.Second, func() { operatorMessage(env, 2) })
	at(env, time.Hour+90*time.Second, func() { operatorMessage(env, 3) })
	at(env, time.Hour+10*time.Minute, func() { operatorMessage(env, 4) })
	execute(t, env, input(0), 2*time.Hour)
	require.Equal(t, []time.Duration{time.Hour + 2*time.Minute, time.Hour + 12*time.Minute}, n.times())
}

// The contact's own messages and system messages mail nobody.
func TestReplyNotificationOnlyForOperatorReplies(t *testing.T) {
	env, n := newNotifyEnv(t)
	at(env, time.Hour, func() {
		env.SignalWorkflow(SignalMessage, MessageSignal{AuthorKind: AuthorContact, MessageID: 1})
		env.SignalWorkflow(SignalMessage, MessageSignal{AuthorKind: AuthorSystem, MessageID: 2})
	})
	execute(t, env, input(0), 3*time.Hour)
	require.Empty(t, n.times())
}

func TestReplyNotificationDelayIsAnInput(t *testing.T) {
	env, n := newNotifyEnv(t)
	in := input(0)
	in.ReplyNotificationDelay = 15 * time.Minute
	at(env, time.Hour, func() { operatorMessage(env, 1) })
	execute(t, env, in, 2*time.Hour)
	require.Equal(t, []time.Duration{time.Hour + 15*time.Minute}, n.times())

	env, n = newNotifyEnv(t)
	in.ReplyNotificationDelay = -1 // off
	at(env, time.Hour, func() { operatorMessage(env, 1) })
	execute(t, env, in, 2*time.Hour)
	require.Empty(t, n.times())
}

// A due notification survives continue-as-new and fires when it was due.
func TestReplyNotificationCarriedAcrossRuns(t *testing.T) {
	env, _ := newNotifyEnv(t)
	env.SetContinueAsNewSuggested(true)
	at(env, time.Hour, func() { operatorMessage(env, 1) })
	env.ExecuteWorkflow(ConversationWorkflowType, input(0))
	next := continuedInput(t, env)
	require.Equal(t, t0.Add(time.Hour+DefaultReplyNotificationDelay), next.Carried.NotifyRepliesAt)
	require.Equal(t, DefaultReplyNotificationDelay, next.ReplyNotificationDelay)

	env2, n2 := newNotifyEnv(t)
	env2.SetStartTime(t0.Add(time.Hour))
	execute(t, env2, next, 2*time.Hour)
	require.Equal(t, []time.Duration{time.Hour + 2*time.Minute}, n2.times())
}
