package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// AuthorBot is the author kind of the automated answers' messages
// (models.Message.AuthorType; the message is marked Automated). The bot's
// messages signal no lifecycle.
const AuthorBot = "bot"

// Change IDs of the AI work of the lifecycle added after aiAssistChange.
const (
	// automatedAnswerChange: a contact's message in a conversation not
	// yet handed over runs ActivityAnswerVisitor.
	automatedAnswerChange = "ai-automated-answer"
	// languageOnceChange: the contact's language is detected off the
	// message path (the lifecycle does not wait for it), only while it is
	// unknown, by ActivityDetectLanguageOnce, instead of
	// ActivityDetectContactLanguage at every message.
	languageOnceChange = "ai-language-once"
	// indexChange: a conversation is indexed for semantic search
	// (ActivityIndexConversation) at the contact's first message and when
	// it resolves.
	indexChange = "ai-index"
)

// Activities of the automated answers, language detection and indexing.
const (
	// ActivityAnswerVisitor answers the contact's message from the
	// organization's knowledge (AnswerRequest → AnswerResult). A provider
	// that fails makes it fail, for the retries; the lifecycle hands over
	// when they are spent.
	ActivityAnswerVisitor = "AnswerVisitor"
	// ActivityHandOverConversation hands a conversation to the team
	// (HandOverRequest): marked handed over, an event line for the
	// operators, a notice for the visitor. Idempotent.
	ActivityHandOverConversation = "HandOverConversation"
	// ActivityDetectLanguageOnce detects the contact's language when the
	// organization turned language detection or translation on
	// (ConversationAIRequest → LanguageResult).
	ActivityDetectLanguageOnce = "DetectLanguageOnce"
	// ActivityIndexConversation stores the conversation's embedding for
	// semantic search, when the organization turned embeddings on.
	ActivityIndexConversation = "IndexConversation"
)

// AnswerRequest is the argument of ActivityAnswerVisitor: identifiers only.
type AnswerRequest struct {
	ConversationID uint64
	OrganizationID uint64
	MessageID      uint64 // the contact's message to answer
}

// AnswerResult is what ActivityAnswerVisitor did.
type AnswerResult struct {
	// Off: the organization has automated answers off; nothing was done
	// (the bot may be turned on later).
	Off bool `json:",omitempty"`
	// Stopped: the conversation was already handed over (the visitor's
	// "Talk to a person", or an earlier run); the bot stops for it.
	Stopped bool `json:",omitempty"`
	// MessageID is the automated answer posted, 0 when none.
	MessageID uint64 `json:",omitempty"`
	// HandOver is why the conversation must go to the team
	// (models.Handover…), "" when it need not.
	HandOver string `json:",omitempty"`
}

// HandOverRequest is the argument of ActivityHandOverConversation.
type HandOverRequest struct {
	ConversationID uint64
	OrganizationID uint64
	Reason         string // models.Handover…
}

// LanguageResult is what ActivityDetectLanguageOnce found; Known is false
// while the language is unknown (feature off, no message, "und").
type LanguageResult struct {
	Known bool `json:",omitempty"`
}

// HandoverUnavailable is the reason of a handover after the answer
// activity failed (as models.HandoverUnavailable).
const HandoverUnavailable = "unavailable"

// answer runs the automated answers on a contact's message: an answer is
// posted, or the conversation goes to the team; the bot stops for a
// conversation handed over or answered by an operator.
func (c *conversation) answer(ctx workflow.Context, m MessageSignal) {
	if c.state.BotStopped {
		return
	}
	if workflow.GetVersion(ctx, automatedAnswerChange, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	req := AnswerRequest{ConversationID: c.state.ConversationID, OrganizationID: c.state.OrganizationID, MessageID: m.MessageID}
	var res AnswerResult
	if err := workflow.ExecuteActivity(answerActivityOptions(ctx), ActivityAnswerVisitor, req).Get(ctx, &res); err != nil {
		workflow.GetLogger(ctx).Warn("automated answer failed; handing over",
			"ConversationID", c.state.ConversationID, "Error", err)
		res = AnswerResult{HandOver: HandoverUnavailable}
	}
	switch {
	case res.Off:
	case res.Stopped:
		c.state.BotStopped = true
	case res.HandOver != "":
		c.state.BotStopped = true
		c.handOver(ctx, res.HandOver)
	}
}

// handOver records the handover, retried until the database takes it.
func (c *conversation) handOver(ctx workflow.Context, reason string) {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
			MaximumAttempts:    20,
		},
	})
	req := HandOverRequest{ConversationID: c.state.ConversationID, OrganizationID: c.state.OrganizationID, Reason: reason}
	if err := workflow.ExecuteActivity(actx, ActivityHandOverConversation, req).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Error("handover not recorded", "ConversationID", c.state.ConversationID, "Error", err)
	}
}

// detectLanguage starts the detection of the contact's language while it
// is unknown, one at a time, without the lifecycle waiting for it. It
// reports whether this execution is at languageOnceChange (false: the
// caller runs the old, synchronous detection).
func (c *conversation) detectLanguage(ctx workflow.Context) bool {
	if workflow.GetVersion(ctx, languageOnceChange, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return false
	}
	if c.state.LanguageKnown || c.detecting {
		return true
	}
	c.detecting = true
	req := ConversationAIRequest{ConversationID: c.state.ConversationID, OrganizationID: c.state.OrganizationID}
	f := workflow.ExecuteActivity(aiActivityOptions(ctx), ActivityDetectLanguageOnce, req)
	workflow.Go(ctx, func(gctx workflow.Context) {
		var res LanguageResult
		if err := f.Get(gctx, &res); err != nil {
			workflow.GetLogger(gctx).Warn("language detection failed", "ConversationID", c.state.ConversationID, "Error", err)
		}
		c.state.LanguageKnown = c.state.LanguageKnown || res.Known
		c.detecting = false
	})
	return true
}

// index stores the conversation's embedding for semantic search: at the
// contact's first message without waiting for it, and at resolution.
func (c *conversation) index(ctx workflow.Context, wait bool) {
	if workflow.GetVersion(ctx, indexChange, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	req := ConversationAIRequest{ConversationID: c.state.ConversationID, OrganizationID: c.state.OrganizationID}
	f := workflow.ExecuteActivity(aiActivityOptions(ctx), ActivityIndexConversation, req)
	if !wait {
		workflow.Go(ctx, func(gctx workflow.Context) {
			if err := f.Get(gctx, nil); err != nil {
				workflow.GetLogger(gctx).Warn("indexing failed", "ConversationID", c.state.ConversationID, "Error", err)
			}
		})
		return
	}
	if err := f.Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Warn("indexing failed", "ConversationID", c.state.ConversationID, "Error", err)
	}
}

// answerActivityOptions: an answer is worth little late; a provider that
// fails twice hands the conversation to the team.
func answerActivityOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 45 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    2 * time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    10 * time.Second,
			MaximumAttempts:    2,
		},
	})
}
