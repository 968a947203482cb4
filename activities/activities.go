// Package activities holds every side effect Convot's workflows need. A
// workflow passes identifiers; an activity loads what it needs from the
// database, so no personal data travels through Temporal.
package activities

import (
	"context"
	"encoding/json"
	"fmt"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"

	"github.com/convot/convot/assist"
	"github.com/convot/convot/conversation"
	"github.com/convot/convot/internal/backup"
	"github.com/convot/convot/internal/blob"
	"github.com/convot/convot/internal/mail"
	"github.com/convot/convot/internal/realtime"
	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/store"
	"github.com/convot/convot/subprocessors"
	"github.com/convot/convot/workflows"
)

// Activities carries the dependencies of the activities.
type Activities struct {
	// Store is every query the activities make.
	Store *store.Store
	// Keys destroys data keys (crypto-shredding) and seals audit events.
	Keys *models.KeyStore
	// Mail sends transactional notices from MailFrom; BaseURL is the
	// dashboard's public URL, for links in them.
	Mail     mail.Sender
	MailFrom string
	BaseURL  string
	// Blobs, when set, is where attachments live; Stripe, when set, is the
	// billing client (a closed account's Stripe customer is deleted).
	Blobs  blob.Store
	Stripe *subprocessors.Stripe
	// Backups takes, shreds and deletes the encrypted backups (nil: the
	// backup activities fail, saying so).
	Backups *backup.Backups
	// Privacy configures the data-subject request activities.
	Privacy PrivacySettings
	// InboundDomain is the domain of conversation mail's reply addresses
	// (reply+TOKEN@InboundDomain) and Message-IDs.
	InboundDomain string
	// Hub tells the inbox and the widget of status changes the workflows
	// make themselves (an auto-resolve, a snooze ending); nil: nobody.
	Hub realtime.Hub
	// Disclosures sends what an approved disclosure request discloses,
	// through the egress gate (policy §6); nil: disclosing fails.
	Disclosures *subprocessors.Disclosures
	// Webhooks posts signed webhooks to Customers' endpoints (gated,
	// SSRF-guarded); nil: the webhook deliveries fail, saying so.
	Webhooks *subprocessors.CustomerEndpoints
	// Assist runs the AI features of the conversation lifecycle (the
	// summary at resolution, language detection); nil: none run.
	Assist *assist.Service
	// Conversations posts the automated answers and hands conversations
	// to the team (ActivityAnswerVisitor, ActivityHandOverConversation);
	// nil: the bot does not answer.
	Conversations *conversation.Service
}

// Register registers every activity under the names the workflows call.
func Register(w worker.Registry, a *Activities) {
	conversationsAndAccounts := map[string]any{
		workflows.ActivityRecordConversationStatus:  a.RecordConversationStatus,
		workflows.ActivityMarkOrganizationCancelled: a.MarkOrganizationCancelled,
		workflows.ActivitySendCancellationNotice:    a.SendCancellationNotice,
		workflows.ActivityReactivateOrganization:    a.ReactivateOrganization,
		workflows.ActivityDeleteOrganizationData:    a.DeleteOrganizationData,
		workflows.ActivityNotifyContactOfReplies:    a.NotifyContactOfReplies,
	}
	for _, byName := range []map[string]any{conversationsAndAccounts, retentionActivities(a), privacyActivities(a), vulnerabilityActivities(a), disclosureActivities(a), shopifyActivities(a), webhookActivities(a), aiActivities(a), botActivities(a)} {
		for name, fn := range byName {
			w.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
		}
	}
}

// RecordConversationStatus persists a state change of the conversation
// lifecycle workflow. It is idempotent: replaying it sets the same values.
func (a *Activities) RecordConversationStatus(ctx context.Context, ch workflows.ConversationStatusChange) error {
	var changed bool
	err := a.Store.Tx(ctx, func(tx *store.Store) error {
		var err error
		if changed, err = tx.SetConversationStatus(ctx, ch.OrganizationID, ch.ConversationID, ch.Status, ch.AssigneeID, ch.SnoozedUntil, ch.At); err != nil || !changed {
			return err
		}
		// The changes the workflow makes itself (an operator's and a
		// contact's were announced with them) are webhook events too.
		if typ := workflowStatusEvent(ch.Cause); typ != "" {
			conv, err := tx.ConversationHeader(ctx, ch.OrganizationID, ch.ConversationID)
			if err != nil {
				return err
			}
			return tx.EmitConversationEvent(ctx, ch.OrganizationID, ch.ConversationID, conv.ContactID, typ)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !changed {
		// Deleted (erased) meanwhile: nothing left to record.
		activity.GetLogger(ctx).Info("conversation gone", "conversation", fmt.Sprint(ch.ConversationID))
		return nil
	}
	a.announceConversation(ctx, ch.OrganizationID, ch.ConversationID)
	return nil
}

// announceConversation publishes a conversation's state to its operators
// and its visitor. The row is already committed: a lost event only means a
// socket shows the change at its next reload.
func (a *Activities) announceConversation(ctx context.Context, orgID, convID uint64) {
	if a.Hub == nil {
		return
	}
	org, err := a.Store.Organization(ctx, orgID)
	if err != nil {
		return
	}
	conv, err := a.Store.Conversation(ctx, orgID, convID)
	if err != nil {
		return
	}
	view := realtime.ConversationView{ID: conv.ID, ContactID: conv.ContactID, Channel: conv.Channel, Status: conv.Status,
		AssigneeID: conv.AssigneeID, SnoozedUntil: conv.SnoozedUntil, LastMessageAt: conv.LastMessageAt, CreatedAt: conv.CreatedAt,
		HandedOver: conv.HandedOverAt != nil}
	payload, err := json.Marshal(realtime.LiveEvent{Type: realtime.TypeConversation, ConversationID: conv.ID, Conversation: &view})
	if err != nil {
		return
	}
	e := realtime.Event{
		Org:        org.GateContext(),
		Subject:    policies.SubjectContext{Kind: models.SubjectEndUser},
		Categories: []string{"system.operations"},
		Payload:    payload,
	}
	if err := a.Hub.PublishEach(ctx, []string{realtime.OrgTopic(org.ID), realtime.ConversationTopic(conv.ID)}, e); err != nil {
		activity.GetLogger(ctx).Warn("conversation state not announced", "conversation", fmt.Sprint(conv.ID), "err", err)
	}
}

// workflowStatusEvent is the webhook event of a status change the
// lifecycle workflow makes on its own ("" for the others).
func workflowStatusEvent(cause string) string {
	switch cause {
	case workflows.CauseInactivity:
		return models.WebhookConversationResolved
	case workflows.CauseSnoozeEnded:
		return models.WebhookConversationReopened
	}
	return ""
}
