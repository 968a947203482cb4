package webhooks

import (
	"context"
	"log/slog"
	"strings"
	"time"

	mail "github.com/convot/convot/internal/mail"
	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/store"
	"github.com/convot/convot/subprocessors"
	"github.com/convot/convot/subscriptions"
	"github.com/convot/convot/workflows"
)

// What each kind of Stripe event changes, inside the transaction that
// records it as processed.

// onSubscriptionEvent keeps the subscription in step with Stripe. A
// subscription that ended (deleted) or that Stripe gave up collecting
// (unpaid) starts the account's cancellation.
func (h *Handler) onSubscriptionEvent(ctx context.Context, tx *store.Store, ev subprocessors.StripeEvent, org *models.Organization, sub *models.Subscription) ([]func(), error) {
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
		return nil, h.Accounts().ReactivateOnPayment(ctx, org.ID)
	}
	if reason == "" || org.Status == models.OrgDeleted {
		return nil, nil
	}
	// Started inside the transaction: if it fails the event is not marked
	// processed and Stripe retries. Starting twice joins the running one.
	return nil, h.Accounts().CancelForBilling(ctx, org.ID, reason)
}

// onInvoiceEvent mirrors the invoice and records the payment attempt; a
// failed payment is told to the owners (a billing notice, policy §4).
func (h *Handler) onInvoiceEvent(ctx context.Context, tx *store.Store, ev subprocessors.StripeEvent, org *models.Organization) ([]func(), error) {
	in := *ev.Invoice
	if err := subscriptions.SaveInvoice(ctx, tx, org.ID, in); err != nil {
		return nil, err
	}
	p := models.Payment{
		OrganizationID: org.ID, Reference: ev.ID, StripeInvoiceID: in.ID, Currency: in.Currency,
		AttemptCount: in.AttemptCount, AttemptedAt: ev.Created, CreatedAt: h.Now().UTC(),
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
	link := h.billingURL()
	var after []func()
	for _, o := range owners {
		o := o
		after = append(after, func() {
			h.sendMail(mail.Message{
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
func (h *Handler) onCardAttached(ctx context.Context, tx *store.Store, ev subprocessors.StripeEvent, org *models.Organization, sub *models.Subscription) error {
	card := *ev.Card
	if err := subscriptions.SaveCard(ctx, tx, org, card); err != nil {
		return err
	}
	stripe := h.Stripe()
	if stripe == nil || card.PaymentMethodID == "" || sub == nil || sub.StripeCustomerID == "" {
		return nil
	}
	return stripe.SetDefaultPaymentMethod(ctx, org.GateContext(), sub.StripeCustomerID, card.PaymentMethodID, ev.ID)
}

// sendMail sends a transactional mail outside a request; only its kind is
// logged on failure.
func (h *Handler) sendMail(m mail.Message) {
	if h.Mail == nil {
		return
	}
	if m.From == "" {
		m.From = h.Config.MailFrom
	}
	if m.Stream == "" {
		m.Stream = mail.Transactional
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.Mail.Send(ctx, m); err != nil {
		slog.Warn("mail not sent", "tag", m.Tag, "err", strings.SplitN(err.Error(), ":", 2)[0])
	}
}
