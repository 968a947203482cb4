package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/convot/convot/models"
)

// allEventsEndpointOf gives tenant A an endpoint subscribed to every type
// the store writes.
func allEventsEndpointOf(t *testing.T, f *fixture) *models.WebhookEndpoint {
	t.Helper()
	ep := &models.WebhookEndpoint{URL: "https://hooks.a.example/all", Secret: "whsec_AAAA", Enabled: true,
		Events: ",conversation.created,conversation.resolved,message.created,message.note_created,contact.created,contact.identified,contact.updated,contact.deleted,privacy_request.received,privacy_request.completed,"}
	must(t, f.store.CreateWebhookEndpoint(f.ctx, f.A.Org.ID, ep))
	return ep
}

func deliveriesTo(t *testing.T, f *fixture, endpointID uint64) []models.WebhookEvent {
	t.Helper()
	var evs []models.WebhookEvent
	must(t, f.store.with(f.ctx).Raw(`SELECT e.* FROM webhook_events e JOIN webhook_deliveries d ON d.event_id = e.id WHERE d.endpoint_id = ? ORDER BY e.id`, endpointID).Scan(&evs).Error)
	return evs
}

// Cross-tenant cases of the webhook events: B's changes never reach A's
// endpoints; B neither redelivers, disables nor reads A's.
func init() {
	isolationCases = append(isolationCases,
		isolationCase{"EmitConversationEvent", func(t *testing.T, f *fixture) {
			ep := allEventsEndpointOf(t, f)
			must(t, f.store.EmitConversationEvent(f.ctx, f.B.Org.ID, f.B.Conversation.ID, f.B.Contact.ID, models.WebhookConversationCreated))
			if evs := deliveriesTo(t, f, ep.ID); len(evs) != 0 {
				t.Fatalf("B's conversation reached A's endpoint: %+v", evs)
			}
			must(t, f.store.EmitConversationEvent(f.ctx, f.A.Org.ID, f.A.Conversation.ID, f.A.Contact.ID, models.WebhookConversationCreated))
			if evs := deliveriesTo(t, f, ep.ID); len(evs) != 1 || evs[0].ConversationID != f.A.Conversation.ID {
				t.Fatalf("A's own event: %+v", evs)
			}
		}},
		isolationCase{"EmitMessageEvent", func(t *testing.T, f *fixture) {
			ep := allEventsEndpointOf(t, f)
			must(t, f.store.EmitMessageEvent(f.ctx, f.B.Org.ID, &f.B.Message, f.B.Contact.ID))
			if evs := deliveriesTo(t, f, ep.ID); len(evs) != 0 {
				t.Fatalf("B's message reached A's endpoint: %+v", evs)
			}
		}},
		isolationCase{"EmitPrivacyRequestEvent", func(t *testing.T, f *fixture) {
			ep := allEventsEndpointOf(t, f)
			must(t, f.store.EmitPrivacyRequestEvent(f.ctx, f.B.Org.ID, 77, models.WebhookPrivacyRequestReceived))
			if evs := deliveriesTo(t, f, ep.ID); len(evs) != 0 {
				t.Fatalf("B's request reached A's endpoint: %+v", evs)
			}
		}},
		isolationCase{"RedeliverWebhookOfEndpoint", func(t *testing.T, f *fixture) {
			ep, d := webhookDeliveryOf(t, f)
			if err := f.store.RedeliverWebhookOfEndpoint(f.ctx, f.B.Org.ID, ep.ID, d.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B redelivered A's delivery: %v", err)
			}
			must(t, f.store.RedeliverWebhookOfEndpoint(f.ctx, f.A.Org.ID, ep.ID, d.ID))
		}},
		isolationCase{"DisableFailingWebhookEndpoint", func(t *testing.T, f *fixture) {
			ep, d := webhookDeliveryOf(t, f)
			_, err := f.store.RecordWebhookAttempt(f.ctx, f.A.Org.ID, &models.WebhookAttempt{DeliveryID: d.ID, AttemptedAt: f.now.Add(-6 * 24 * time.Hour), StatusCode: 500}, models.WebhookPending)
			must(t, err)
			if done, err := f.store.DisableFailingWebhookEndpoint(f.ctx, f.B.Org.ID, ep.ID, f.now, "x"); err != nil || done {
				t.Fatalf("B disabled A's endpoint: %v %v", done, err)
			}
			if done, err := f.store.DisableFailingWebhookEndpoint(f.ctx, f.A.Org.ID, ep.ID, f.now.Add(-5*24*time.Hour), "failing"); err != nil || !done {
				t.Fatalf("A's failing endpoint not disabled: %v %v", done, err)
			}
		}},
		isolationCase{"WebhookMessage", func(t *testing.T, f *fixture) {
			if _, err := f.store.WebhookMessage(f.ctx, f.B.Org.ID, f.A.Message.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B read A's message: %v", err)
			}
			if m, err := f.store.WebhookMessage(f.ctx, f.A.Org.ID, f.A.Message.ID); err != nil || m.Body != f.A.Message.Body {
				t.Fatalf("A's message: %v", err)
			}
		}},
	)
}

// Contacts written through the store carry their events, in the same
// transaction: created (and identified with an external ID), updated when
// a name or address changes, not when only technical columns do; a rolled
// back write leaves no event.
func TestContactWritesEmitWebhookEvents(t *testing.T) {
	f := newFixture(t)
	ep := allEventsEndpointOf(t, f)
	ct := &models.Contact{OrganizationID: f.A.Org.ID, Name: "Ada", Email: "ada@example.com", ExternalID: "u-1", CreatedAt: f.now, UpdatedAt: f.now}
	must(t, f.store.CreateContact(f.ctx, ct))
	ct.Name = "Ada L."
	must(t, f.store.SaveContactFields(f.ctx, f.A.Org.ID, ct, "name", "updated_at"))
	must(t, f.store.SaveContactFields(f.ctx, f.A.Org.ID, ct, "updated_at"))
	rollback := errors.New("rolled back")
	err := f.store.Tx(f.ctx, func(tx *Store) error {
		must(t, tx.CreateContact(f.ctx, &models.Contact{OrganizationID: f.A.Org.ID, Name: "Ghost", CreatedAt: f.now, UpdatedAt: f.now}))
		return rollback
	})
	if !errors.Is(err, rollback) {
		t.Fatal(err)
	}
	var types []string
	for _, e := range deliveriesTo(t, f, ep.ID) {
		if e.ContactID != ct.ID {
			t.Fatalf("event of contact %d (rolled back?)", e.ContactID)
		}
		types = append(types, e.Type)
	}
	want := []string{models.WebhookContactCreated, models.WebhookContactIdentified, models.WebhookContactUpdated}
	if len(types) != len(want) || types[0] != want[0] || types[1] != want[1] || types[2] != want[2] {
		t.Fatalf("events %v, want %v", types, want)
	}

	// A merge removes the contact merged away: contact.deleted, IDs only.
	dup := &models.Contact{OrganizationID: f.A.Org.ID, Name: "Ada (widget)", CreatedAt: f.now, UpdatedAt: f.now}
	must(t, f.store.CreateContact(f.ctx, dup))
	must(t, f.store.Tx(f.ctx, func(tx *Store) error {
		_, err := tx.MergeContacts(f.ctx, dup, ct, func(context.Context, *models.Attachment, uint64) (string, error) { return "", nil })
		return err
	}))
	evs := deliveriesTo(t, f, ep.ID)
	last := evs[len(evs)-1]
	if last.Type != models.WebhookContactDeleted || last.DeletedContactID != dup.ID || last.ContactID != 0 {
		t.Fatalf("after the merge: %+v", last)
	}
}
