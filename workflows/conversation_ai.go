package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// aiAssistChange versions the AI activities of the lifecycle: the summary
// written when a conversation resolves and the contact's language detected
// when they write. Histories recorded before it replay without them.
const aiAssistChange = "ai-assist"

// Activities of the AI assistance (package activities, assist.Service).
// Each does nothing when the organization has the feature off, or when
// the contact restricted processing or objected (policy §9).
const (
	// ActivitySummarizeConversation writes the operators' summary of a
	// conversation that has just resolved.
	ActivitySummarizeConversation = "SummarizeConversation"
	// ActivityDetectContactLanguage detects the contact's language from
	// their messages and stores it on the contact.
	ActivityDetectContactLanguage = "DetectContactLanguage"
)

// ConversationAIRequest is the argument of the AI activities: identifiers
// only, the activity loads the messages.
type ConversationAIRequest struct {
	ConversationID uint64
	OrganizationID uint64
}

// runAI runs one AI activity of the conversation, if this execution is at
// the aiAssistChange version. A provider that fails is retried a few times;
// after that the conversation is left as it was (the failure is logged; an
// operator can still ask for a summary in the conversation view).
func (c *conversation) runAI(ctx workflow.Context, activity string) {
	if workflow.GetVersion(ctx, aiAssistChange, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    5 * time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
			MaximumAttempts:    3,
		},
	})
	req := ConversationAIRequest{ConversationID: c.state.ConversationID, OrganizationID: c.state.OrganizationID}
	if err := workflow.ExecuteActivity(actx, activity, req).Get(actx, nil); err != nil {
		workflow.GetLogger(ctx).Warn("AI activity failed; the conversation is left as it was",
			"Activity", activity, "ConversationID", c.state.ConversationID, "Error", err)
	}
}
