package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/workflow"
)

func contactMessage(env interface{ SignalWorkflow(string, any) }, id uint64) {
	env.SignalWorkflow(SignalMessage, MessageSignal{AuthorKind: AuthorContact, MessageID: id})
}

// A confident answer is posted by the activity and the bot goes on
// answering the visitor's next messages; nothing is handed over.
func TestAutomatedAnswerConfident(t *testing.T) {
	env, rec := newEnv(t)
	rec.ai.answer = func(r AnswerRequest) AnswerResult { return AnswerResult{MessageID: r.MessageID + 100} }
	at(env, time.Minute, func() { contactMessage(env, 1) })
	at(env, 2*time.Minute, func() { contactMessage(env, 2) })
	at(env, 3*time.Minute, func() { require.False(t, queryState(t, env).BotStopped) })
	execute(t, env, input(time.Hour), 30*time.Minute)
	require.Equal(t, []AnswerRequest{
		{ConversationID: testConversation, OrganizationID: testOrganization, MessageID: 1},
		{ConversationID: testConversation, OrganizationID: testOrganization, MessageID: 2},
	}, rec.ai.answers)
	require.Empty(t, rec.ai.handovers)
}

// A message posted while the organization's answers were off says so,
// and no answer is tried for it (no activity a message); the next one,
// posted with them on, is answered.
func TestAutomatedAnswerNotTriedWhenOff(t *testing.T) {
	env, rec := newEnv(t)
	rec.ai.answer = func(r AnswerRequest) AnswerResult { return AnswerResult{MessageID: r.MessageID + 100} }
	at(env, time.Minute, func() {
		env.SignalWorkflow(SignalMessage, MessageSignal{AuthorKind: AuthorContact, MessageID: 1, AnswersOff: true})
	})
	at(env, 2*time.Minute, func() { contactMessage(env, 2) })
	execute(t, env, input(time.Hour), 30*time.Minute)
	require.Equal(t, 1, rec.ai.answerTries)
	require.Equal(t, []AnswerRequest{{ConversationID: testConversation, OrganizationID: testOrganization, MessageID: 2}}, rec.ai.answers)
}

// Not confident, the visitor asking for a person, a contact who objected
// (or restricted processing) and a provider that is down (after its
// retries) each hand the conversation over once, with the reason; the bot
// then stops: the visitor's next message is not answered.
func TestAutomatedAnswerHandsOver(t *testing.T) {
	for _, tc := range []struct {
		name   string
		result AnswerResult
		fails  bool
		reason string
		tries  int
	}{
		{name: "not confident", result: AnswerResult{HandOver: "not_confident"}, reason: "not_confident", tries: 1},
		{name: "asks for a person", result: AnswerResult{HandOver: "asked"}, reason: "asked", tries: 1},
		{name: "objected contact", result: AnswerResult{HandOver: "refused"}, reason: "refused", tries: 1},
		{name: "provider down", fails: true, reason: HandoverUnavailable, tries: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, rec := newEnv(t)
			rec.ai.answer = func(AnswerRequest) AnswerResult { return tc.result }
			rec.ai.answerFails = tc.fails
			at(env, time.Minute, func() { contactMessage(env, 1) })
			at(env, 5*time.Minute, func() { require.True(t, queryState(t, env).BotStopped) })
			at(env, 6*time.Minute, func() { contactMessage(env, 2) })
			execute(t, env, input(time.Hour), 30*time.Minute)
			require.Equal(t, []HandOverRequest{{ConversationID: testConversation, OrganizationID: testOrganization, Reason: tc.reason}}, rec.ai.handovers)
			require.Equal(t, tc.tries, rec.ai.answerTries, "the second message is not answered")
		})
	}
}

// A conversation the visitor handed over ("Talk to a person") or an
// operator answered is not answered by the bot any more; with automated
// answers off nothing stops (they may be turned on later).
func TestAutomatedAnswerStops(t *testing.T) {
	t.Run("handed over by the visitor", func(t *testing.T) {
		env, rec := newEnv(t)
		rec.ai.answer = func(AnswerRequest) AnswerResult { return AnswerResult{Stopped: true} }
		at(env, time.Minute, func() { contactMessage(env, 1) })
		at(env, 2*time.Minute, func() { contactMessage(env, 2) })
		execute(t, env, input(time.Hour), 30*time.Minute)
		require.Equal(t, 1, rec.ai.answerTries)
		require.Empty(t, rec.ai.handovers)
	})
	t.Run("operator replied", func(t *testing.T) {
		env, rec := newEnv(t)
		rec.ai.answer = func(r AnswerRequest) AnswerResult { return AnswerResult{MessageID: 99} }
		at(env, time.Minute, func() { contactMessage(env, 1) })
		at(env, 2*time.Minute, func() {
			env.SignalWorkflow(SignalMessage, MessageSignal{AuthorKind: AuthorOperator, MessageID: 2})
		})
		at(env, 3*time.Minute, func() { contactMessage(env, 3) })
		execute(t, env, input(time.Hour), 30*time.Minute)
		require.Equal(t, 1, rec.ai.answerTries)
	})
	t.Run("off", func(t *testing.T) {
		env, rec := newEnv(t)
		at(env, time.Minute, func() { contactMessage(env, 1) })
		at(env, 2*time.Minute, func() { contactMessage(env, 2) })
		execute(t, env, input(time.Hour), 30*time.Minute)
		require.Equal(t, 2, rec.ai.answerTries)
		require.Empty(t, rec.ai.handovers)
	})
}

// A lifecycle from before automated answers replays without them.
func TestAutomatedAnswerVersions(t *testing.T) {
	for _, old := range []bool{true, false} {
		env, rec := newEnv(t)
		if old {
			env.OnGetVersion(automatedAnswerChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
		}
		rec.ai.answer = func(AnswerRequest) AnswerResult { return AnswerResult{HandOver: "asked"} }
		at(env, time.Minute, func() { contactMessage(env, 1) })
		execute(t, env, input(time.Hour), 30*time.Minute)
		if old {
			require.Zero(t, rec.ai.answerTries)
			require.Empty(t, rec.ai.handovers)
		} else {
			require.Equal(t, 1, rec.ai.answerTries)
			require.Len(t, rec.ai.handovers, 1)
		}
	}
}

// The contact's language is detected off the message path until it is
// known, then no more; histories from before detect at every message with
// the old activity.
func TestLanguageDetectedOnce(t *testing.T) {
	for _, tc := range []struct {
		name         string
		old, known   bool
		once, perMsg int
	}{
		{name: "known at the first message", known: true, once: 1},
		{name: "unknown: asked again", once: 3},
		{name: "DefaultVersion", old: true, perMsg: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, rec := newEnv(t)
			rec.ai.known = tc.known
			if tc.old {
				env.OnGetVersion(languageOnceChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
			}
			for i := range 3 {
				at(env, time.Duration(i+1)*time.Minute, func() { contactMessage(env, uint64(i+1)) })
			}
			at(env, 10*time.Minute, func() { require.Equal(t, tc.known, queryState(t, env).LanguageKnown) })
			execute(t, env, input(time.Hour), 30*time.Minute)
			_, d, _ := rec.ai.counts()
			require.Equal(t, tc.perMsg, d)
			require.Equal(t, tc.once, rec.ai.languageOnce)
		})
	}
}

// A conversation is indexed for semantic search at the contact's first
// message and at each resolution; histories from before are not.
func TestConversationIndexed(t *testing.T) {
	for _, old := range []bool{true, false} {
		env, rec := newEnv(t)
		if old {
			env.OnGetVersion(indexChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
		}
		at(env, time.Minute, func() { contactMessage(env, 1) })
		at(env, 2*time.Minute, func() { contactMessage(env, 2) })
		at(env, 3*time.Minute, func() { env.SignalWorkflow(SignalResolve, nil) })
		execute(t, env, input(time.Hour), 30*time.Minute)
		if old {
			require.Zero(t, rec.ai.indexes)
		} else {
			require.Equal(t, 2, rec.ai.indexes)
		}
	}
}
