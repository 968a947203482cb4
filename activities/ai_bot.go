package activities

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"go.temporal.io/sdk/activity"

	"github.com/convot/convot/assist"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

func botActivities(a *Activities) map[string]any {
	return map[string]any{
		workflows.ActivityAnswerVisitor:        a.AnswerVisitor,
		workflows.ActivityHandOverConversation: a.HandOverConversation,
		workflows.ActivityDetectLanguageOnce:   a.DetectLanguageOnce,
		workflows.ActivityIndexConversation:    a.IndexConversation,
	}
}

// AnswerVisitor runs the automated answers on a contact's message: a
// confident answer is posted (marked automated, delivered live); otherwise
// the result says why the conversation goes to the team. A provider that
// fails is an error, for the lifecycle's retries.
func (a *Activities) AnswerVisitor(ctx context.Context, r workflows.AnswerRequest) (workflows.AnswerResult, error) {
	if a.Assist == nil || a.Conversations == nil {
		return workflows.AnswerResult{Off: true}, nil
	}
	out, err := a.Assist.AnswerVisitor(ctx, r.OrganizationID, r.ConversationID, r.MessageID)
	switch {
	case errors.Is(err, assist.ErrOff), errors.Is(err, assist.ErrNoMessages):
		return workflows.AnswerResult{Off: true}, nil
	case errors.Is(err, assist.ErrHandedOver), errors.Is(err, store.ErrNotFound):
		return workflows.AnswerResult{Stopped: true}, nil
	case errors.Is(err, assist.ErrDenied):
		// The gate refused the transfer: nothing was sent, a person answers.
		return workflows.AnswerResult{HandOver: models.HandoverRefused}, nil
	case err != nil:
		return workflows.AnswerResult{}, err
	case out.HandOver != "":
		activity.GetLogger(ctx).Info("automated answer: handing over", "conversation", fmt.Sprint(r.ConversationID), "reason", out.HandOver)
		return workflows.AnswerResult{HandOver: out.HandOver}, nil
	}
	org, err := a.Store.Organization(ctx, r.OrganizationID)
	if err != nil {
		return workflows.AnswerResult{}, err
	}
	conv, err := a.Store.Conversation(ctx, r.OrganizationID, r.ConversationID)
	if errors.Is(err, store.ErrNotFound) {
		return workflows.AnswerResult{Stopped: true}, nil
	}
	if err != nil {
		return workflows.AnswerResult{}, err
	}
	msg, err := a.Conversations.PostAutomated(ctx, org, conv, out.Text)
	if err != nil {
		return workflows.AnswerResult{}, err
	}
	return workflows.AnswerResult{MessageID: msg.ID}, nil
}

// HandOverConversation hands a conversation to the team (marked, an event
// line for the operators, a notice for the visitor); a conversation gone
// (erased) or handed over already is left as it is.
func (a *Activities) HandOverConversation(ctx context.Context, r workflows.HandOverRequest) error {
	if a.Conversations == nil {
		return errors.New("activities: no conversation service to hand over with")
	}
	org, err := a.Store.Organization(ctx, r.OrganizationID)
	if err != nil {
		return err
	}
	conv, err := a.Store.Conversation(ctx, r.OrganizationID, r.ConversationID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = a.Conversations.HandOver(ctx, org, conv, r.Reason)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// DetectLanguageOnce detects the contact's language when the organization
// turned language detection or translation on (otherwise it returns at
// once, having read only the organization); Known tells the lifecycle to
// stop asking.
func (a *Activities) DetectLanguageOnce(ctx context.Context, r workflows.ConversationAIRequest) (workflows.LanguageResult, error) {
	if a.Assist == nil {
		return workflows.LanguageResult{}, nil
	}
	org, err := a.Store.Organization(ctx, r.OrganizationID)
	if errors.Is(err, store.ErrNotFound) {
		return workflows.LanguageResult{}, nil
	}
	if err != nil {
		return workflows.LanguageResult{}, err
	}
	on := models.AIFeaturesOn(org.AISettings)
	if !slices.Contains(on, assist.FeatureLanguageDetection) && !slices.Contains(on, assist.FeatureTranslation) {
		return workflows.LanguageResult{}, nil
	}
	lang, err := a.Assist.DetectLanguage(ctx, r.OrganizationID, r.ConversationID)
	if err := a.aiOutcome(ctx, "language detection", r, err); err != nil {
		return workflows.LanguageResult{}, err
	}
	return workflows.LanguageResult{Known: lang != "" && lang != "und"}, nil
}

// IndexConversation stores the conversation's embedding for semantic
// search and routing, when the organization turned embeddings on.
func (a *Activities) IndexConversation(ctx context.Context, r workflows.ConversationAIRequest) error {
	if a.Assist == nil {
		return nil
	}
	return a.aiOutcome(ctx, "indexing", r, a.Assist.Index(ctx, r.OrganizationID, r.ConversationID))
}
