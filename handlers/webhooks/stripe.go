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
	orgID, unmatched, err := h.processStripeEvent(c.Request.Context(), ev)
	switch {
	case errors.Is(err, errDuplicateEvent):
		c.JSON(http.StatusOK, gin.H{"status": "duplicate"})
	case err == nil && unmatched != "":
		// Acknowledged (Stripe's retries would find no more), kept for
		// review and alerted: the event's ID and type, nothing of the
		// customer.
		slog.Error("stripe event for no known organization kept for review (convot billing unmatched)", "event", ev.ID, "type", ev.Type, "reason", unmatched)
		c.JSON(http.StatusOK, gin.H{"status": models.StripeEventUnmatched, "reason": unmatched})
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
// nothing (errDuplicateEvent). An event that names no known organization
// is recorded unmatched, with the reason returned in unmatched: kept for
// review, and processed should it be delivered again once its
// organization is known.
func (h *Handler) processStripeEvent(ctx context.Context, ev subprocessors.StripeEvent) (orgID uint64, unmatched string, err error) {
	var after []func()
	err = h.Store.Tx(ctx, func(tx *store.Store) error {
		seen, err := tx.StripeEventProcessed(ctx, ev.ID)
		if err != nil {
			return err
		}
		if seen {
			return errDuplicateEvent
		}
		customerID, metaOrg := eventCustomer(ev)
		org, sub, reason, err := billingOrganization(ctx, tx, customerID, metaOrg)
		if err != nil {
			return err
		}
		record := &models.ProcessedStripeEvent{EventID: ev.ID, Type: ev.Type, Status: models.StripeEventProcessed, ProcessedAt: h.Now().UTC()}
		if org == nil {
			record.Status, record.Reason = models.StripeEventUnmatched, reason
			unmatched = reason
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
		record.OrganizationID = orgID
		err = tx.RecordStripeEvent(ctx, record)
		if store.IsDuplicate(err) {
			return errDuplicateEvent // delivered twice at once; the other delivery won
		}
		return err
	})
	if err != nil {
		return 0, "", err
	}
	for _, f := range after {
		f()
	}
	return orgID, unmatched, nil
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
// convot_org_id metadata, whose organization then gets the customer. When
// it finds none, reason says why (no personal data).
func billingOrganization(ctx context.Context, tx *store.Store, customerID string, metaOrg uint64) (org *models.Organization, sub *models.Subscription, reason string, err error) {
	if customerID == "" {
		return nil, nil, "the event names no customer", nil
	}
	sub, err = tx.SubscriptionByStripeCustomer(ctx, customerID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, nil, "", err
	}
	var orgID uint64
	if sub != nil {
		orgID = sub.OrganizationID
	} else {
		if metaOrg == 0 {
			return nil, nil, "no organization has this Stripe customer", nil
		}
		sub, err = tx.Subscription(ctx, metaOrg)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, nil, "", err
		}
		if sub != nil && sub.StripeCustomerID != "" {
			// That organization is another customer's: never guess.
			return nil, nil, "the convot_org_id metadata names an organization of another Stripe customer", nil
		}
		orgID = metaOrg
	}
	org, err = tx.Organization(ctx, orgID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, "the organization the event names does not exist", nil
	}
	if err != nil {
		return nil, nil, "", err
	}
	if org.Status == models.OrgDeleted {
		return nil, nil, "the organization the event names is deleted", nil
	}
	if sub == nil {
		now := time.Now().UTC()
		sub = &models.Subscription{OrganizationID: org.ID, StripeCustomerID: customerID, Plan: models.PlanFree, CreatedAt: now, UpdatedAt: now}
		if err := tx.CreateSubscription(ctx, sub); err != nil {
			return nil, nil, "", err
		}
	} else if sub.StripeCustomerID == "" {
		if err := tx.SetStripeCustomer(ctx, sub.OrganizationID, sub.ID, customerID); err != nil {
			return nil, nil, "", err
		}
		sub.StripeCustomerID = customerID
	}
	return org, sub, "", nil
}
