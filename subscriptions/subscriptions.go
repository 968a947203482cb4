// Package subscriptions keeps Convot's copy of an organization's billing as
// Stripe last told it: the subscription, the card on file and the invoices
// (policy §2.1's list, nothing more). The billing pages write it after an
// owner's action, the Stripe webhooks after each event; both read it the
// same way.
package subscriptions

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/subprocessors"
)

// Of is the organization's subscription row, or nil when it never had a
// Stripe customer.
func Of(ctx context.Context, st *store.Store, orgID uint64) (*models.Subscription, error) {
	sub, err := st.Subscription(ctx, orgID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return sub, err
}

// Apply writes a subscription's state from Stripe onto the organization's
// row; eventAt, when set, is the Stripe event's time, and an event older
// than the newest applied is ignored (Stripe does not deliver in order).
func Apply(ctx context.Context, tx *store.Store, row *models.Subscription, ss subprocessors.StripeSubscription, eventAt time.Time) error {
	if !eventAt.IsZero() && row.LastEventAt != nil && eventAt.Before(*row.LastEventAt) {
		return nil
	}
	plan := row.Plan
	if p, ok := models.PlanByID(ss.PlanID); ok {
		plan = p.ID
	} else if p, ok := models.PlanByLookupKey(ss.PriceLookupKey); ok {
		plan = p.ID
	}
	st := store.SubscriptionState{
		StripeSubscriptionID: ss.ID,
		Status:               ss.Status,
		Plan:                 plan,
		CurrentPeriodEnd:     timePtr(ss.CurrentPeriodEnd),
		CancelAt:             timePtr(ss.CancelAt),
		CancelAtPeriodEnd:    ss.CancelAtPeriodEnd,
		CanceledAt:           timePtr(ss.CanceledAt),
		UpdatedAt:            time.Now().UTC(),
		LastEventAt:          timePtr(eventAt),
	}
	if ss.CustomerID != "" && row.StripeCustomerID == "" {
		st.StripeCustomerID = ss.CustomerID
	}
	return tx.UpdateSubscription(ctx, row.OrganizationID, row.ID, st)
}

// SaveCard keeps the card on file: brand and last four digits, nothing
// else (policy §2.1).
func SaveCard(ctx context.Context, tx *store.Store, org *models.Organization, card subprocessors.StripeCard) error {
	pm, err := tx.PaymentMethod(ctx, org.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	now := time.Now().UTC()
	if pm == nil {
		pm = &models.PaymentMethod{OrganizationID: org.ID, DataKeyID: org.DataKeyID, CreatedAt: now}
	}
	pm.CardBrand, pm.CardLast4, pm.UpdatedAt = card.Brand, card.Last4, now
	if len(pm.CardLast4) > 4 {
		pm.CardLast4 = pm.CardLast4[len(pm.CardLast4)-4:]
	}
	if pm.ID == 0 {
		err := tx.CreatePaymentMethod(ctx, pm)
		if store.IsDuplicate(err) {
			// Another delivery created it meanwhile: update that one.
			return SaveCard(ctx, tx, org, card)
		}
		return err
	}
	return tx.SavePaymentMethod(ctx, org.ID, pm)
}

// SaveInvoice mirrors a Stripe invoice for the seven years of §8.
func SaveInvoice(ctx context.Context, tx *store.Store, orgID uint64, in subprocessors.StripeInvoice) error {
	if in.ID == "" {
		return nil
	}
	row, err := tx.InvoiceByStripeID(ctx, in.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if row != nil && row.OrganizationID != orgID {
		return fmt.Errorf("invoice %s belongs to another organization", in.ID)
	}
	now := time.Now().UTC()
	if row == nil {
		row = &models.Invoice{OrganizationID: orgID, StripeInvoiceID: in.ID, CreatedAt: now}
	}
	row.Number, row.Status, row.Currency = in.Number, in.Status, in.Currency
	row.AmountDue, row.AmountPaid, row.AmountRemaining = in.AmountDue, in.AmountPaid, in.AmountRemaining
	row.PeriodStart, row.PeriodEnd = timePtr(in.PeriodStart), timePtr(in.PeriodEnd)
	row.IssuedAt = in.Created
	if row.IssuedAt.IsZero() {
		row.IssuedAt = now
	}
	row.PaidAt = timePtr(in.PaidAt)
	if in.HostedURL != "" {
		row.HostedInvoiceURL = in.HostedURL
	}
	if in.PDF != "" {
		row.InvoicePDF = in.PDF
	}
	row.UpdatedAt = now
	if row.ID == 0 {
		return tx.CreateInvoice(ctx, row)
	}
	return tx.SaveInvoice(ctx, orgID, row)
}

// Money is an amount as the billing page and the owners' mail show it
// ("49.00 EUR"); a free plan has neither amount nor currency.
func Money(cents int64, currency string) string {
	if cents == 0 && currency == "" {
		return "free"
	}
	return fmt.Sprintf("%d.%02d %s", cents/100, cents%100, strings.ToUpper(currency))
}

// PageURL is the billing page's address under base, with query: where
// Stripe Checkout and the Billing Portal return to, and the link in the
// owners' billing mail.
func PageURL(base *url.URL, query string) string {
	u := *base
	u.Path = strings.TrimSuffix(u.Path, "/") + "/billing"
	u.RawQuery = query
	return u.String()
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
