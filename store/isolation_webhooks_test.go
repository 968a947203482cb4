package store

import (
	"errors"
	"testing"
	"time"

	"github.com/convot/convot/models"
)

// webhookEndpointOf gives tenant A an endpoint subscribed to message.created.
func webhookEndpointOf(t *testing.T, f *fixture) *models.WebhookEndpoint {
	t.Helper()
	ep := &models.WebhookEndpoint{URL: "https://hooks.a.example/convot", Events: ",message.created,", Secret: "whsec_AAAA", Enabled: true}
	must(t, f.store.CreateWebhookEndpoint(f.ctx, f.A.Org.ID, ep))
	return ep
}

// webhookDeliveryOf gives A's endpoint one delivery.
func webhookDeliveryOf(t *testing.T, f *fixture) (*models.WebhookEndpoint, *models.WebhookDelivery) {
	t.Helper()
	ep := webhookEndpointOf(t, f)
	d, err := f.store.EnqueueWebhookDelivery(f.ctx, f.A.Org.ID, ep.ID, &models.WebhookEvent{Type: "webhook.test"})
	must(t, err)
	return ep, d
}

// Cross-tenant cases of the webhooks: B neither reads, changes nor feeds
// A's endpoints and deliveries.
func init() {
	isolationCases = append(isolationCases,
		isolationCase{"CreateWebhookEndpoint", func(t *testing.T, f *fixture) {
			ep := webhookEndpointOf(t, f)
			if ep.OrganizationID != f.A.Org.ID || ep.DataKeyID != f.A.Org.DataKeyID {
				t.Fatalf("endpoint %+v", ep)
			}
			if err := f.store.CreateWebhookEndpoint(f.ctx, 99999, &models.WebhookEndpoint{URL: "https://x.example", Events: ",a,", Secret: "whsec_AAAA"}); !errors.Is(err, ErrNotFound) {
				t.Fatalf("an endpoint for no organization: %v", err)
			}
		}},
		isolationCase{"WebhookEndpoints", func(t *testing.T, f *fixture) {
			webhookEndpointOf(t, f)
			if eps, err := f.store.WebhookEndpoints(f.ctx, f.B.Org.ID); err != nil || len(eps) != 0 {
				t.Fatalf("B lists %d endpoints (%v)", len(eps), err)
			}
		}},
		isolationCase{"WebhookEndpoint", func(t *testing.T, f *fixture) {
			ep := webhookEndpointOf(t, f)
			if _, err := f.store.WebhookEndpoint(f.ctx, f.B.Org.ID, ep.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B read A's endpoint: %v", err)
			}
		}},
		isolationCase{"RotateWebhookSecret", func(t *testing.T, f *fixture) {
			ep := webhookEndpointOf(t, f)
			if err := f.store.RotateWebhookSecret(f.ctx, f.B.Org.ID, ep.ID, "whsec_BBBB", "whsec_AAAA", f.now); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B rotated A's secret: %v", err)
			}
			got, _ := f.store.WebhookEndpoint(f.ctx, f.A.Org.ID, ep.ID)
			if got.Secret != "whsec_AAAA" {
				t.Fatal("A's secret changed")
			}
		}},
		isolationCase{"SetWebhookEndpointEnabled", func(t *testing.T, f *fixture) {
			ep := webhookEndpointOf(t, f)
			if err := f.store.SetWebhookEndpointEnabled(f.ctx, f.B.Org.ID, ep.ID, false, "x"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B disabled A's endpoint: %v", err)
			}
		}},
		isolationCase{"DeleteWebhookEndpoint", func(t *testing.T, f *fixture) {
			ep := webhookEndpointOf(t, f)
			if err := f.store.DeleteWebhookEndpoint(f.ctx, f.B.Org.ID, ep.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B deleted A's endpoint: %v", err)
			}
		}},
		isolationCase{"EnqueueWebhookEvent", func(t *testing.T, f *fixture) {
			webhookEndpointOf(t, f)
			if n, err := f.store.EnqueueWebhookEvent(f.ctx, f.B.Org.ID, &models.WebhookEvent{Type: "message.created"}); err != nil || n != 0 {
				t.Fatalf("B's event reached %d of A's endpoints (%v)", n, err)
			}
			if n, err := f.store.EnqueueWebhookEvent(f.ctx, f.A.Org.ID, &models.WebhookEvent{Type: "message.created"}); err != nil || n != 1 {
				t.Fatalf("A's own event: %d deliveries (%v)", n, err)
			}
		}},
		isolationCase{"EnqueueWebhookDelivery", func(t *testing.T, f *fixture) {
			ep := webhookEndpointOf(t, f)
			if _, err := f.store.EnqueueWebhookDelivery(f.ctx, f.B.Org.ID, ep.ID, &models.WebhookEvent{Type: "webhook.test"}); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B sent a test event to A's endpoint: %v", err)
			}
		}},
		isolationCase{"WebhookDeliveryForAttempt", func(t *testing.T, f *fixture) {
			_, d := webhookDeliveryOf(t, f)
			if _, err := f.store.WebhookDeliveryForAttempt(f.ctx, f.B.Org.ID, d.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B loaded A's delivery: %v", err)
			}
		}},
		isolationCase{"RecordWebhookAttempt", func(t *testing.T, f *fixture) {
			_, d := webhookDeliveryOf(t, f)
			if _, err := f.store.RecordWebhookAttempt(f.ctx, f.B.Org.ID, &models.WebhookAttempt{DeliveryID: d.ID, AttemptedAt: f.now}, models.WebhookFailed); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B logged an attempt of A's delivery: %v", err)
			}
		}},
		isolationCase{"WebhookDeliveryLog", func(t *testing.T, f *fixture) {
			ep, _ := webhookDeliveryOf(t, f)
			if log, err := f.store.WebhookDeliveryLog(f.ctx, f.B.Org.ID, ep.ID, 10); err != nil || len(log) != 0 {
				t.Fatalf("B read %d of A's deliveries (%v)", len(log), err)
			}
		}},
		isolationCase{"WebhookOwnerAccounts", func(t *testing.T, f *fixture) {
			ids, err := f.store.WebhookOwnerAccounts(f.ctx, f.B.Org.ID)
			if err != nil || len(ids) != 1 || ids[0] != f.B.Owner.ID {
				t.Fatalf("B's owners %v (%v)", ids, err)
			}
		}},
	)
}

// Only subscribed, enabled endpoints get a delivery; each delivery is
// claimed once; an attempt's log and the failure clock follow.
func TestWebhookOutboxAndLog(t *testing.T) {
	f := newFixture(t)
	ep := webhookEndpointOf(t, f)
	off := &models.WebhookEndpoint{URL: "https://off.example", Events: ",message.created,", Secret: "whsec_AAAA", Enabled: false}
	must(t, f.store.CreateWebhookEndpoint(f.ctx, f.A.Org.ID, off))
	other := &models.WebhookEndpoint{URL: "https://other.example", Events: ",contact.created,", Secret: "whsec_AAAA", Enabled: true}
	must(t, f.store.CreateWebhookEndpoint(f.ctx, f.A.Org.ID, other))
	got, err := f.store.WebhookEndpoint(f.ctx, f.A.Org.ID, ep.ID)
	if err != nil || got.Secret != "whsec_AAAA" {
		t.Fatalf("the sealed secret reads back as %q (%v)", got.Secret, err)
	}
	n, err := f.store.EnqueueWebhookEvent(f.ctx, f.A.Org.ID, &models.WebhookEvent{Type: "message.created", ConversationID: f.A.Conversation.ID})
	if err != nil || n != 1 {
		t.Fatalf("%d deliveries (%v)", n, err)
	}
	// A type nobody chose leaves nothing behind.
	if n, _ := f.store.EnqueueWebhookEvent(f.ctx, f.A.Org.ID, &models.WebhookEvent{Type: "message.note_created"}); n != 0 {
		t.Fatalf("%d deliveries of an unsubscribed type", n)
	}
	var claimed []models.WebhookDelivery
	c, err := f.store.ClaimWebhookDeliveries(f.ctx, 10, func(ds []models.WebhookDelivery) []uint64 {
		claimed = ds
		return []uint64{ds[0].ID}
	})
	if err != nil || c != 1 || claimed[0].EndpointID != ep.ID {
		t.Fatalf("claimed %d %+v (%v)", c, claimed, err)
	}
	if c, _ := f.store.ClaimWebhookDeliveries(f.ctx, 10, func([]models.WebhookDelivery) []uint64 { return nil }); c != 0 {
		t.Fatalf("a started delivery claimed again (%d)", c)
	}
	d := claimed[0]
	t0 := f.now
	since, err := f.store.RecordWebhookAttempt(f.ctx, f.A.Org.ID, &models.WebhookAttempt{DeliveryID: d.ID, AttemptedAt: t0, StatusCode: 500, LatencyMillis: 12, ResponseExcerpt: "boom"}, models.WebhookPending)
	if err != nil || since == nil || !since.Equal(t0) {
		t.Fatalf("failing since %v (%v)", since, err)
	}
	since, _ = f.store.RecordWebhookAttempt(f.ctx, f.A.Org.ID, &models.WebhookAttempt{DeliveryID: d.ID, AttemptedAt: t0.Add(time.Minute), StatusCode: 500}, models.WebhookPending)
	if since == nil || !since.Equal(t0) {
		t.Fatalf("the failure clock moved: %v", since)
	}
	since, _ = f.store.RecordWebhookAttempt(f.ctx, f.A.Org.ID, &models.WebhookAttempt{DeliveryID: d.ID, AttemptedAt: t0.Add(2 * time.Minute), StatusCode: 204}, models.WebhookDelivered)
	if since != nil {
		t.Fatalf("a success left the endpoint failing since %v", since)
	}
	log, err := f.store.WebhookDeliveryLog(f.ctx, f.A.Org.ID, ep.ID, 10)
	if err != nil || len(log) != 1 || len(log[0].Attempts) != 3 || log[0].Delivery.Status != models.WebhookDelivered || log[0].Delivery.Attempts != 3 || log[0].EventType != "message.created" {
		t.Fatalf("log %+v (%v)", log, err)
	}
}

// One delivery per event and endpoint, whoever races to write it.
func TestWebhookDeliveryIsUniquePerEventAndEndpoint(t *testing.T) {
	f := newFixture(t)
	ep, d := webhookDeliveryOf(t, f)
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			errs <- f.store.with(f.ctx).Create(&models.WebhookDelivery{OrganizationID: f.A.Org.ID, EndpointID: ep.ID, EventID: d.EventID, Status: models.WebhookPending, CreatedAt: f.now}).Error
		}()
	}
	for range 8 {
		if err := <-errs; err == nil {
			t.Error("a second delivery of the same event to the same endpoint was written")
		}
	}
}
