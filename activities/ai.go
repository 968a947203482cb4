package activities

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/sdk/activity"

	"github.com/convot/convot/assist"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

func aiActivities(a *Activities) map[string]any {
	return map[string]any{
		workflows.ActivitySummarizeConversation: a.SummarizeConversation,
		workflows.ActivityDetectContactLanguage: a.DetectContactLanguage,
		workflows.ActivityRouteConversation:     a.RouteConversation,
	}
}

// SummarizeConversation writes the summary of a conversation that has just
// resolved, when its organization turned summaries on. The summary is an
// AI output of the contact, shown to operators only (the conversation
// view); nothing is sent to the visitor.
func (a *Activities) SummarizeConversation(ctx context.Context, r workflows.ConversationAIRequest) error {
	if a.Assist == nil {
		return nil
	}
	_, err := a.Assist.Summarize(ctx, r.OrganizationID, r.ConversationID)
	return a.aiOutcome(ctx, "summary", r, err)
}

// DetectContactLanguage detects the language of the contact's messages and
// stores it on the contact, when the organization turned language
// detection on.
func (a *Activities) DetectContactLanguage(ctx context.Context, r workflows.ConversationAIRequest) error {
	if a.Assist == nil {
		return nil
	}
	_, err := a.Assist.DetectLanguage(ctx, r.OrganizationID, r.ConversationID)
	return a.aiOutcome(ctx, "language detection", r, err)
}

// RouteConversation applies the organization's routing rules to a new
// conversation: the operator it should go to, or 0.
func (a *Activities) RouteConversation(ctx context.Context, r workflows.ConversationAIRequest) (workflows.RouteResult, error) {
	if a.Assist == nil {
		return workflows.RouteResult{}, nil
	}
	id, err := a.Assist.RouteConversation(ctx, r.OrganizationID, r.ConversationID)
	if err := a.aiOutcome(ctx, "routing", r, err); err != nil {
		return workflows.RouteResult{}, err
	}
	return workflows.RouteResult{AssigneeID: id}, nil
}

// aiOutcome turns the expected refusals into success (nothing to do: the
// feature is off, the contact objected or restricted processing, no
// message yet, the conversation is gone) and leaves provider and database
// failures to the workflow's retries.
func (a *Activities) aiOutcome(ctx context.Context, what string, r workflows.ConversationAIRequest, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, assist.ErrOff), errors.Is(err, assist.ErrRefused), errors.Is(err, assist.ErrNoMessages), errors.Is(err, store.ErrNotFound):
		activity.GetLogger(ctx).Info("AI "+what+" not run", "conversation", fmt.Sprint(r.ConversationID), "reason", err.Error())
		return nil
	}
	return err
}
