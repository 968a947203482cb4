package workflows

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/workflow"
)

// aiFake stands in for the AI activities and notes their calls.
type aiFake struct {
	mu         sync.Mutex
	summaries  []ConversationAIRequest
	detections []ConversationAIRequest
	failAll    bool // the provider is down: every attempt fails
	attempts   int
}

func (f *aiFake) register(r interface {
	RegisterActivityWithOptions(any, activity.RegisterOptions)
}) {
	r.RegisterActivityWithOptions(f.summarize, activity.RegisterOptions{Name: ActivitySummarizeConversation})
	r.RegisterActivityWithOptions(f.detect, activity.RegisterOptions{Name: ActivityDetectContactLanguage})
}

func (f *aiFake) summarize(_ context.Context, r ConversationAIRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attempts++
	if f.failAll {
		return errors.New("provider unavailable")
	}
	f.summaries = append(f.summaries, r)
	return nil
}

func (f *aiFake) detect(_ context.Context, r ConversationAIRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.detections = append(f.detections, r)
	return nil
}

func (f *aiFake) counts() (summaries, detections, attempts int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.summaries), len(f.detections), f.attempts
}

// A conversation that resolves (by an operator or by inactivity) gets one
// summary per resolution; each message of the contact, a language
// detection; a lifecycle from before the change replays without either.
func TestConversationAIVersions(t *testing.T) {
	for _, tc := range []struct {
		name string
		old  bool
	}{
		{name: "DefaultVersion", old: true},
		{name: "version 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, rec := newEnv(t)
			if tc.old {
				env.OnGetVersion(aiAssistChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
			}
			at(env, time.Minute, func() {
				env.SignalWorkflow(SignalMessage, MessageSignal{AuthorKind: AuthorContact, MessageID: 1})
			})
			at(env, 2*time.Minute, func() {
				env.SignalWorkflow(SignalMessage, MessageSignal{AuthorKind: AuthorOperator, MessageID: 2})
			})
			at(env, 3*time.Minute, func() { env.SignalWorkflow(SignalResolve, nil) })
			// Resolving again changes nothing: no second summary.
			at(env, 4*time.Minute, func() { env.SignalWorkflow(SignalResolve, nil) })
			at(env, 5*time.Minute, func() {
				env.SignalWorkflow(SignalMessage, MessageSignal{AuthorKind: AuthorContact, MessageID: 3})
			})
			// Reopened by the contact, then resolved by inactivity.
			execute(t, env, input(time.Hour), 3*time.Hour)
			s, d, _ := rec.ai.counts()
			if tc.old {
				require.Zero(t, s)
				require.Zero(t, d)
				return
			}
			require.Equal(t, 2, s, "one summary per resolution")
			require.Equal(t, 2, d, "one detection per contact message")
			require.Equal(t, ConversationAIRequest{ConversationID: testConversation, OrganizationID: testOrganization}, rec.ai.summaries[0])
		})
	}
}

// A provider that keeps failing is tried three times; the conversation
// stays resolved and the lifecycle goes on.
func TestConversationSummaryProviderDown(t *testing.T) {
	env, rec := newEnv(t)
	rec.ai.failAll = true
	at(env, time.Minute, func() { env.SignalWorkflow(SignalResolve, nil) })
	at(env, 10*time.Minute, func() {
		require.Equal(t, ConversationResolved, queryState(t, env).Status)
	})
	execute(t, env, input(0), time.Hour)
	_, _, attempts := rec.ai.counts()
	require.Equal(t, 3, attempts)
	last := rec.recorded()[len(rec.recorded())-1]
	require.Equal(t, ConversationResolved, last.Status)
}
