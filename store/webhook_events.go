package store

import (
	"context"
	"slices"
	"time"

	"github.com/convot/convot/models"
)

// The events of Customers' webhooks are written by the store methods whose
// change they announce, in the same transaction (EnqueueWebhookEvent): a
// committed change has its event, a rolled-back one never had. Writing an
// event is two statements on the database and never waits on an endpoint;
// the WebhookDelivery workflows send them later.

// emitWebhookEvent records an event of the catalogue for the
// organization's subscribed endpoints (nothing without a subscriber).
func (s *Store) emitWebhookEvent(ctx context.Context, orgID uint64, ev models.WebhookEvent) error {
	if orgID == 0 {
		return nil // Convot's own records (a request about no organization)
	}
	_, err := s.EnqueueWebhookEvent(ctx, orgID, &ev)
	return err
}

// EmitConversationEvent records a conversation event (created, assigned,
// resolved, snoozed, reopened) of one of the organization's
// conversations; call it inside the change's transaction.
func (s *Store) EmitConversationEvent(ctx context.Context, orgID, convID, contactID uint64, typ string) error {
	return s.emitWebhookEvent(ctx, orgID, models.WebhookEvent{Type: typ, ConversationID: convID, ContactID: contactID})
}

// EmitMessageEvent records a message's event (message.created, or
// message.note_created for an operator's note); call it inside the
// transaction that wrote the message.
func (s *Store) EmitMessageEvent(ctx context.Context, orgID uint64, m *models.Message, contactID uint64) error {
	typ := models.WebhookMessageCreated
	if m.Private {
		typ = models.WebhookNoteCreated
	}
	return s.emitWebhookEvent(ctx, orgID, models.WebhookEvent{Type: typ, ConversationID: m.ConversationID, MessageID: m.ID, ContactID: contactID})
}

// EmitPrivacyRequestEvent records privacy_request.received or .completed
// (IDs only) of one of the organization's requests.
func (s *Store) EmitPrivacyRequestEvent(ctx context.Context, orgID, requestID uint64, typ string) error {
	return s.emitWebhookEvent(ctx, orgID, models.WebhookEvent{Type: typ, RequestID: requestID})
}

// contactEventColumns are the columns whose change is a contact.updated
// event (contact.identified with external_id); technical columns (last
// seen, browser, language) are not.
var contactEventColumns = []string{"name", "email", "external_id", "phone"}

// contactChangeEvent is the event of a contact's columns written, "" for
// none.
func contactChangeEvent(columns []string) string {
	if slices.Contains(columns, "external_id") {
		return models.WebhookContactIdentified
	}
	for _, c := range columns {
		if slices.Contains(contactEventColumns, c) {
			return models.WebhookContactUpdated
		}
	}
	return ""
}

// DisableFailingWebhookEndpoint disables one of the organization's
// endpoints when it is still failing since before cutoff, in one
// statement (a success meanwhile cleared its clock: nothing happens).
// It reports whether it disabled it.
func (s *Store) DisableFailingWebhookEndpoint(ctx context.Context, orgID, id uint64, cutoff time.Time, reason string) (bool, error) {
	res := s.with(ctx).Exec(`UPDATE webhook_endpoints SET enabled = ?, disabled_reason = ?, updated_at = ?
WHERE id = ? AND organization_id = ? AND enabled = ? AND failing_since IS NOT NULL AND failing_since <= ?`,
		false, reason, time.Now().UTC(), id, orgID, true, cutoff)
	return res.RowsAffected > 0, res.Error
}

// WebhookMessage loads one of the organization's messages for a webhook's
// content (the body opened), or ErrNotFound (erased meanwhile).
func (s *Store) WebhookMessage(ctx context.Context, orgID, id uint64) (*models.Message, error) {
	return one[models.Message](s.with(ctx).Where("id = ? AND organization_id = ?", id, orgID))
}

// RedeliverWebhookOfEndpoint sends a delivery of one of the
// organization's endpoints again (ErrNotFound for another endpoint's): it
// goes back to the outbox (pending, not started); its next workflow makes
// a fresh series of attempts under the same webhook-id.
func (s *Store) RedeliverWebhookOfEndpoint(ctx context.Context, orgID, endpointID, deliveryID uint64) error {
	res := s.with(ctx).Exec(`UPDATE webhook_deliveries SET started = ?, status = ? WHERE id = ? AND endpoint_id = ? AND organization_id = ?`,
		false, models.WebhookPending, deliveryID, endpointID, orgID)
	return found(res.RowsAffected, res.Error)
}
