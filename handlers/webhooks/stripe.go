package webhooks

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/subprocessors"
)

// stripeEventTypes are the events Convot acts on.
var stripeEventTypes = map[string]bool{
	"customer.subscription.created": true,
	"customer.subscription.updated": true,
	"customer.subscription.deleted": true,
	"invoice.paid":                  true,
	"invoice.payment_failed":        true,
	"payment_method.attached":       true,
}

// errDuplicateEvent is a second delivery of an event: acknowledged, not
// applied again.
var errDuplicateEvent = errors.New("event processed already")

// stripeWebhook takes POST /webhooks/stripe: Stripe's events about
// subscriptions, invoices and payment methods. The Stripe-Signature header
// is verified (five minutes either way) before the payload is read; each
// event ID is processed once; an event type Convot does not handle is
// acknowledged and ignored.
func (h *Handler) stripeWebhook(c *gin.Context) {
	secret := h.Config.StripeWebhookSecret
	if secret == "" {
		c.JSON(http.StatusServiceUnavailable, gin.H{"error": "Stripe webhooks are not configured (STRIPE_WEBHOOK_SECRET)"})
		return
	}
	payload, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			c.JSON(http.StatusRequestEntityTooLarge, gin.H{"error": "the payload is too large"})
			return
		}
		c.JSON(http.StatusBadRequest, gin.H{"error": "the payload could not be read"})
		return
	}
	ev, err := subprocessors.VerifyStripeEvent(payload, c.GetHeader("Stripe-Signature"), secret)
	if err != nil {
		c.JSON(http.StatusBadRequest, gin.H{"error": err.Error()})
		return
	}
	if !stripeEventTypes[ev.Type] {
		c.JSON(http.StatusOK, gin.H{"status": "ignored", "type": ev.Type})
		return
	}
	orgID, err := h.processStripeEvent(c.Request.Context(), ev)
	switch {
	case errors.Is(err, errDuplicateEvent):
		c.JSON(http.StatusOK, gin.H{"status": "duplicate"})
	case err != nil:
		// Not recorded as processed: Stripe retries, and the retry finds
		// nothing half done (one transaction).
		slog.Error("stripe webhook failed", "event", ev.ID, "type", ev.Type, "err", err)
		c.JSON(http.StatusInternalServerError, gin.H{"error": "the event could not be processed; Stripe will retry"})
	default:
		c.JSON(http.StatusOK, gin.H{"status": "processed", "organization": orgID})
	}
}

// processStripeEvent applies an event in one transaction with the record
// that it was processed; a second delivery finds the record and does
// nothing (errDuplicateEvent).
func (h *Handler) processStripeEvent(ctx context.Context, ev subprocessors.StripeEvent) (uint64, error) {
	var orgID uint64
	var after []func()
	err := h.Store.Tx(ctx, func(tx *store.Store) error {
		seen, err := tx.StripeEventProcessed(ctx, ev.ID)
		if err != nil {
			return err
		}
		if seen {
			return errDuplicateEvent
		}
		customerID, metaOrg := eventCustomer(ev)
		org, sub, err := billingOrganization(ctx, tx, customerID, metaOrg)
		if err != nil {
			return err
		}
		if org != nil {
			orgID = org.ID
			switch {
			case ev.Subscription != nil:
				after, err = h.onSubscriptionEvent(ctx, tx, ev, org, sub)
			case ev.Invoice != nil:
				after, err = h.onInvoiceEvent(ctx, tx, ev, org)
			case ev.Card != nil:
				err = h.onCardAttached(ctx, tx, ev, org, sub)
			}
			if err != nil {
				return err
			}
		}
		err = tx.RecordStripeEvent(ctx, &models.ProcessedStripeEvent{EventID: ev.ID, Type: ev.Type, OrganizationID: orgID, ProcessedAt: h.Now().UTC()})
		if store.IsDuplicate(err) {
			return errDuplicateEvent // delivered twice at once; the other delivery won
		}
		return err
	})
	if err == nil {
		for _, f := range after {
			f()
		}
	}
	return orgID, err
}

// eventCustomer is the Stripe customer an event is about, and the
// organization its metadata names (subscriptions only).
func eventCustomer(ev subprocessors.StripeEvent) (string, uint64) {
	switch {
	case ev.Subscription != nil:
		return ev.Subscription.CustomerID, ev.Subscription.OrganizationID
	case ev.Invoice != nil:
		return ev.Invoice.CustomerID, 0
	case ev.Card != nil:
		return ev.Card.CustomerID, 0
	}
	return "", 0
}

// billingOrganization finds the organization of a Stripe customer: by the
// customer ID on file, else (a subscription Checkout created) by the
// convot_org_id metadata, whose organization then gets the customer.
func billingOrganization(ctx context.Context, tx *store.Store, customerID string, metaOrg uint64) (*models.Organization, *models.Subscription, error) {
	if customerID == "" {
		return nil, nil, nil
	}
	sub, err := tx.SubscriptionByStripeCustomer(ctx, customerID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, nil, err
	}
	var orgID uint64
	if sub != nil {
		orgID = sub.OrganizationID
	} else {
		if metaOrg == 0 {
			return nil, nil, nil
		}
		sub, err = tx.Subscription(ctx, metaOrg)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, nil, err
		}
		if sub != nil && sub.StripeCustomerID != "" {
			// That organization is another customer's: never guess.
			return nil, nil, nil
		}
		orgID = metaOrg
	}
	org, err := tx.Organization(ctx, orgID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if org.Status == models.OrgDeleted {
		return nil, nil, nil
	}
	if sub == nil {
		now := time.Now().UTC()
		sub = &models.Subscription{OrganizationID: org.ID, StripeCustomerID: customerID, Plan: models.PlanFree, CreatedAt: now, UpdatedAt: now}
		if err := tx.CreateSubscription(ctx, sub); err != nil {
			return nil, nil, err
		}
	} else if sub.StripeCustomerID == "" {
		if err := tx.SetStripeCustomer(ctx, sub.OrganizationID, sub.ID, customerID); err != nil {
			return nil, nil, err
		}
		sub.StripeCustomerID = customerID
	}
	return org, sub, nil
}
