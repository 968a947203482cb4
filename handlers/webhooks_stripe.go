package handlers

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	convotmail "github.com/convot/convot/internal/mail"
	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/store"
	"github.com/convot/convot/subprocessors"
	"github.com/convot/convot/subscriptions"
	"github.com/convot/convot/workflows"
)

// POST /webhooks/stripe: Stripe's events about subscriptions, invoices and
// payment methods. The Stripe-Signature header is verified (five-minute
// tolerance) before the payload is read; each event ID is processed once;
// an event type Convot does not handle is acknowledged and ignored.

func (s *Server) stripeWebhookRoutes(r gin.IRoutes) {
	r.POST("/webhooks/stripe", s.stripeWebhook)
}

// stripeEventTypes are the events Convot acts on.
var stripeEventTypes = map[string]bool{
	"customer.subscription.created": true,
	"customer.subscription.updated": true,
	"customer.subscription.deleted": true,
	"invoice.paid":                  true,
	"invoice.payment_failed":        true,
	"payment_method.attached":       true,
}

var errDuplicateEvent = errors.New("event processed already")

func (s *Server) stripeWebhook(c *gin.Context) {
	secret := s.Config.StripeWebhookSecret
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
	orgID, err := s.processStripeEvent(c.Request.Context(), ev)
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
func (s *Server) processStripeEvent(ctx context.Context, ev subprocessors.StripeEvent) (uint64, error) {
	var orgID uint64
	var after []func()
	err := s.Store.Tx(ctx, func(tx *store.Store) error {
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
				after, err = s.onSubscriptionEvent(ctx, tx, ev, org, sub)
			case ev.Invoice != nil:
				after, err = s.onInvoiceEvent(ctx, tx, ev, org)
			case ev.Card != nil:
				err = s.onCardAttached(ctx, tx, ev, org, sub)
			}
			if err != nil {
				return err
			}
		}
		err = tx.RecordStripeEvent(ctx, &models.ProcessedStripeEvent{EventID: ev.ID, Type: ev.Type, OrganizationID: orgID, ProcessedAt: s.now().UTC()})
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

// onSubscriptionEvent keeps the subscription in step with Stripe. A
// subscription that ended (deleted) or that Stripe gave up collecting
// (unpaid) starts the account's cancellation.
func (s *Server) onSubscriptionEvent(ctx context.Context, tx *store.Store, ev subprocessors.StripeEvent, org *models.Organization, sub *models.Subscription) ([]func(), error) {
	ss := *ev.Subscription
	current := sub.StripeSubscriptionID
	if current != "" && current != ss.ID {
		// Another subscription of the customer: it replaces the one on
		// file only when that one no longer bills, or it does.
		if ev.Type == "customer.subscription.deleted" || (models.StatusBills(sub.Status) && !models.StatusBills(ss.Status)) {
			return nil, nil
		}
	}
	if ev.Type == "customer.subscription.deleted" && ss.Status == "" {
		ss.Status = "canceled"
	}
	if err := subscriptions.Apply(ctx, tx, sub, ss, ev.Created); err != nil {
		return nil, err
	}
	reason := ""
	switch {
	case ev.Type == "customer.subscription.deleted":
		reason = workflows.CancellationSubscriptionEnded
	case ss.Status == "unpaid" && sub.Status != "unpaid":
		reason = workflows.CancellationUnpaid
	case org.Status == models.OrgCancelled && models.StatusBills(ss.Status):
		// Signalled inside the transaction, like a cancellation: if the
		// signal fails the event is not marked processed and Stripe retries.
		return nil, s.accounts().ReactivateOnPayment(ctx, org.ID)
	}
	if reason == "" || org.Status == models.OrgDeleted {
		return nil, nil
	}
	// Started inside the transaction: if it fails the event is not marked
	// processed and Stripe retries. Starting twice joins the running one.
	return nil, s.accounts().CancelForBilling(ctx, org.ID, reason)
}

// onInvoiceEvent mirrors the invoice and records the payment attempt; a
// failed payment is told to the owners (a billing notice, policy §4).
func (s *Server) onInvoiceEvent(ctx context.Context, tx *store.Store, ev subprocessors.StripeEvent, org *models.Organization) ([]func(), error) {
	in := *ev.Invoice
	if err := subscriptions.SaveInvoice(ctx, tx, org.ID, in); err != nil {
		return nil, err
	}
	p := models.Payment{
		OrganizationID: org.ID, Reference: ev.ID, StripeInvoiceID: in.ID, Currency: in.Currency,
		AttemptCount: in.AttemptCount, AttemptedAt: ev.Created, CreatedAt: s.now().UTC(),
	}
	if p.AttemptedAt.IsZero() {
		p.AttemptedAt = p.CreatedAt
	}
	switch ev.Type {
	case "invoice.paid":
		p.Status, p.Amount = models.PaymentSucceeded, in.AmountPaid
	case "invoice.payment_failed":
		p.Status, p.Amount = models.PaymentFailed, in.AmountDue
	}
	if err := tx.CreatePayment(ctx, &p); err != nil {
		return nil, err
	}
	if ev.Type != "invoice.payment_failed" {
		return nil, nil
	}
	owners, err := tx.ActiveOwners(ctx, org.ID)
	if err != nil {
		return nil, err
	}
	amount := subscriptions.Money(in.AmountDue, in.Currency)
	link := s.billingURL()
	var after []func()
	for _, o := range owners {
		o := o
		after = append(after, func() {
			s.sendMail(convotmail.Message{
				To: o.Email, Subject: "Your Convot payment failed",
				Text: "Hello " + o.DisplayName + ",\n\nStripe could not collect the payment of " + amount + " for your Convot subscription. " +
					"Stripe will try again; to avoid your subscription ending, update your card: " + link + "\n",
				Tag: "billing_payment_failed", Org: org.GateContext(), Recipient: policies.SubjectContext{Kind: models.SubjectCustomer},
			})
		})
	}
	return after, nil
}

// onCardAttached records the new card (brand, last four) and makes it the
// customer's default, so the subscription is charged to it.
func (s *Server) onCardAttached(ctx context.Context, tx *store.Store, ev subprocessors.StripeEvent, org *models.Organization, sub *models.Subscription) error {
	card := *ev.Card
	if err := subscriptions.SaveCard(ctx, tx, org, card); err != nil {
		return err
	}
	if s.Stripe == nil || card.PaymentMethodID == "" || sub == nil || sub.StripeCustomerID == "" {
		return nil
	}
	return s.Stripe.SetDefaultPaymentMethod(ctx, org.GateContext(), sub.StripeCustomerID, card.PaymentMethodID, ev.ID)
}

// sendMail sends a transactional mail outside a request; only its kind is
// logged on failure.
func (s *Server) sendMail(m convotmail.Message) {
	if s.Mail == nil {
		return
	}
	if m.From == "" {
		m.From = s.Config.MailFrom
	}
	if m.Stream == "" {
		m.Stream = convotmail.Transactional
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Mail.Send(ctx, m); err != nil {
		slog.Warn("mail not sent", "tag", m.Tag, "err", strings.SplitN(err.Error(), ":", 2)[0])
	}
}
