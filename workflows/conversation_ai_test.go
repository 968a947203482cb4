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
	routes     int
	assignee   uint64 // what routing answers

	// The automated answers: answer says what AnswerVisitor does (nil:
	// the organization has them off); answerFails makes it fail.
	answer      func(AnswerRequest) AnswerResult
	answerFails bool
	answers     []AnswerRequest
	answerTries int
	handovers   []HandOverRequest
	// Language detection once: known is what it answers; languageOnce
	// counts its runs. indexes counts the indexings.
	known        bool
	languageOnce int
	indexes      int
}

func (f *aiFake) register(r interface {
	RegisterActivityWithOptions(any, activity.RegisterOptions)
}) {
	r.RegisterActivityWithOptions(f.summarize, activity.RegisterOptions{Name: ActivitySummarizeConversation})
	r.RegisterActivityWithOptions(f.detect, activity.RegisterOptions{Name: ActivityDetectContactLanguage})
	r.RegisterActivityWithOptions(f.route, activity.RegisterOptions{Name: ActivityRouteConversation})
	r.RegisterActivityWithOptions(f.answerVisitor, activity.RegisterOptions{Name: ActivityAnswerVisitor})
	r.RegisterActivityWithOptions(f.handOver, activity.RegisterOptions{Name: ActivityHandOverConversation})
	r.RegisterActivityWithOptions(f.detectOnce, activity.RegisterOptions{Name: ActivityDetectLanguageOnce})
	r.RegisterActivityWithOptions(f.index, activity.RegisterOptions{Name: ActivityIndexConversation})
}

func (f *aiFake) answerVisitor(_ context.Context, r AnswerRequest) (AnswerResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answerTries++
	if f.answerFails {
		return AnswerResult{}, errors.New("provider timed out")
	}
	if f.answer == nil {
		return AnswerResult{Off: true}, nil
	}
	f.answers = append(f.answers, r)
	return f.answer(r), nil
}

func (f *aiFake) handOver(_ context.Context, r HandOverRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.handovers = append(f.handovers, r)
	return nil
}

func (f *aiFake) detectOnce(_ context.Context, _ ConversationAIRequest) (LanguageResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.languageOnce++
	return LanguageResult{Known: f.known}, nil
}

func (f *aiFake) index(_ context.Context, _ ConversationAIRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.indexes++
	return nil
}

func (f *aiFake) route(_ context.Context, _ ConversationAIRequest) (RouteResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes++
	return RouteResult{AssigneeID: f.assignee}, nil
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
// summary per resolution; a lifecycle from before the change replays
// without it.
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
			// Detection runs off the message path now (ai-language-once,
			// TestLanguageDetectedOnce), not with the old activity.
			require.Zero(t, d)
			require.Equal(t, 2, rec.ai.languageOnce, "unknown language: asked at each contact message")
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

// The routing rules run once, at the contact's first message, and assign
// the operator they pick (recorded like any assignment); a conversation
// already assigned is not routed; old histories replay without routing.
func TestConversationRouting(t *testing.T) {
	for _, tc := range []struct {
		name     string
		old      bool
		assigned bool
	}{
		{name: "DefaultVersion", old: true},
		{name: "version 1"},
		{name: "already assigned", assigned: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, rec := newEnv(t)
			rec.ai.assignee = 5
			if tc.old {
				env.OnGetVersion(aiAssistChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
			}
			if tc.assigned {
				at(env, 30*time.Second, func() { env.SignalWorkflow(SignalAssign, AssignSignal{AssigneeID: 9}) })
			}
			for i, d := range []time.Duration{time.Minute, 2 * time.Minute} {
				at(env, d, func() {
					env.SignalWorkflow(SignalMessage, MessageSignal{AuthorKind: AuthorContact, MessageID: uint64(i + 1)})
				})
			}
			at(env, 3*time.Minute, func() {
				s := queryState(t, env)
				switch {
				case tc.old:
					require.Zero(t, s.AssigneeID)
				case tc.assigned:
					require.Equal(t, uint64(9), s.AssigneeID)
				default:
					require.Equal(t, uint64(5), s.AssigneeID)
				}
			})
			execute(t, env, input(time.Hour), 2*time.Hour)
			rec.ai.mu.Lock()
			routes := rec.ai.routes
			rec.ai.mu.Unlock()
			if tc.old || tc.assigned {
				require.Zero(t, routes)
				return
			}
			require.Equal(t, 1, routes, "routed once")
			var assigned []uint64
			for _, ch := range rec.recorded() {
				if ch.Cause == CauseAssigned {
					assigned = append(assigned, ch.AssigneeID)
				}
			}
			require.Equal(t, []uint64{5}, assigned)
		})
	}
}
