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
	// ActivityRouteConversation picks the operator a new conversation
	// goes to by the routing rules (RouteResult); AssigneeID 0: none.
	ActivityRouteConversation = "RouteConversation"
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
	req := ConversationAIRequest{ConversationID: c.state.ConversationID, OrganizationID: c.state.OrganizationID}
	if err := workflow.ExecuteActivity(aiActivityOptions(ctx), activity, req).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Warn("AI activity failed; the conversation is left as it was",
			"Activity", activity, "ConversationID", c.state.ConversationID, "Error", err)
	}
}

// RouteResult is what ActivityRouteConversation returns.
type RouteResult struct {
	AssigneeID uint64 // 0: no rule matched
}

// route applies the routing rules once, at the contact's first message
// while the conversation is unassigned: the operator whose examples the
// conversation is most similar to is assigned, as by an AssignSignal. A
// failure leaves it unassigned, for the inbox.
func (c *conversation) route(ctx workflow.Context) {
	if c.state.Routed || c.state.AssigneeID != 0 {
		return
	}
	if workflow.GetVersion(ctx, aiAssistChange, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	c.state.Routed = true
	req := ConversationAIRequest{ConversationID: c.state.ConversationID, OrganizationID: c.state.OrganizationID}
	var res RouteResult
	if err := workflow.ExecuteActivity(aiActivityOptions(ctx), ActivityRouteConversation, req).Get(ctx, &res); err != nil {
		workflow.GetLogger(ctx).Warn("routing failed; the conversation stays unassigned",
			"ConversationID", c.state.ConversationID, "Error", err)
		return
	}
	if res.AssigneeID != 0 && c.state.AssigneeID == 0 {
		c.onAssign(ctx, AssignSignal{AssigneeID: res.AssigneeID})
	}
}

// aiActivityOptions: a bounded run, retried a few times.
func aiActivityOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    5 * time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
			MaximumAttempts:    3,
		},
	})
}
