package store

import (
	"context"
	"errors"
	"time"

	"github.com/convot/convot/models"
	"gorm.io/gorm"
)

// Billing: the organization's Stripe subscription, card on file, invoices
// and payments, and the record of Stripe events processed. Stripe's
// webhooks name a customer or an event, not an organization: those lookups
// are named for what they look up by.

// IsDuplicate reports whether err is a unique constraint refusing a second
// row (two writers raced; the other one won).
func IsDuplicate(err error) bool { return errors.Is(err, gorm.ErrDuplicatedKey) }

// Subscription loads the organization's subscription row, or ErrNotFound
// when it never had a Stripe customer.
func (s *Store) Subscription(ctx context.Context, orgID uint64) (*models.Subscription, error) {
	sub, err := models.SubscriptionOf(ctx, s.db, orgID)
	if err == nil && sub == nil {
		return nil, ErrNotFound
	}
	return sub, err
}

// SubscriptionByStripeCustomer loads the subscription row of a Stripe
// customer (as Stripe's events name it), or ErrNotFound.
func (s *Store) SubscriptionByStripeCustomer(ctx context.Context, customerID string) (*models.Subscription, error) {
	return one[models.Subscription](s.with(ctx).Where("stripe_customer_id = ?", customerID))
}

// CreateSubscription writes an organization's subscription row (one per
// organization: IsDuplicate when another was written first).
func (s *Store) CreateSubscription(ctx context.Context, sub *models.Subscription) error {
	return s.with(ctx).Create(sub).Error
}

// ClaimStripeCustomer gives the organization's subscription row its Stripe
// customer unless it has one already.
func (s *Store) ClaimStripeCustomer(ctx context.Context, orgID, subscriptionID uint64, customerID string) error {
	return s.with(ctx).Model(&models.Subscription{}).Where("id = ? AND organization_id = ? AND stripe_customer_id = ''", subscriptionID, orgID).
		Update("stripe_customer_id", customerID).Error
}

// SetStripeCustomer sets the Stripe customer of the organization's
// subscription row.
func (s *Store) SetStripeCustomer(ctx context.Context, orgID, subscriptionID uint64, customerID string) error {
	return s.with(ctx).Model(&models.Subscription{}).Where("id = ? AND organization_id = ?", subscriptionID, orgID).
		Update("stripe_customer_id", customerID).Error
}

// SubscriptionState is a subscription's state as Stripe reports it.
type SubscriptionState struct {
	StripeSubscriptionID string
	Status               string
	Plan                 string
	CurrentPeriodEnd     *time.Time
	CancelAt             *time.Time
	CancelAtPeriodEnd    bool
	CanceledAt           *time.Time
	UpdatedAt            time.Time
	// LastEventAt is the Stripe event's time; nil leaves it as it is.
	LastEventAt *time.Time
	// StripeCustomerID, when set, is written too.
	StripeCustomerID string
}

// UpdateSubscription writes Stripe's state onto the organization's
// subscription row.
func (s *Store) UpdateSubscription(ctx context.Context, orgID, id uint64, st SubscriptionState) error {
	updates := map[string]any{
		"stripe_subscription_id": st.StripeSubscriptionID,
		"status":                 st.Status,
		"plan":                   st.Plan,
		"current_period_end":     st.CurrentPeriodEnd,
		"cancel_at":              st.CancelAt,
		"cancel_at_period_end":   st.CancelAtPeriodEnd,
		"canceled_at":            st.CanceledAt,
		"updated_at":             st.UpdatedAt,
	}
	if st.LastEventAt != nil {
		updates["last_event_at"] = *st.LastEventAt
	}
	if st.StripeCustomerID != "" {
		updates["stripe_customer_id"] = st.StripeCustomerID
	}
	return s.with(ctx).Model(&models.Subscription{}).Where("id = ? AND organization_id = ?", id, orgID).Updates(updates).Error
}

// Usage counts what the organization uses of its plan's limits: seats and
// this month's conversations.
func (s *Store) Usage(ctx context.Context, orgID uint64, now time.Time) (models.Usage, error) {
	return models.UsageOf(ctx, s.db, orgID, now)
}

// PaymentMethod loads the organization's card on file, or ErrNotFound.
func (s *Store) PaymentMethod(ctx context.Context, orgID uint64) (*models.PaymentMethod, error) {
	return one[models.PaymentMethod](s.with(ctx).Where("organization_id = ?", orgID))
}

// HasPaymentMethod reports whether the organization has a card on file.
func (s *Store) HasPaymentMethod(ctx context.Context, orgID uint64) (bool, error) {
	var n int64
	err := s.with(ctx).Model(&models.PaymentMethod{}).Where("organization_id = ?", orgID).Count(&n).Error
	return n > 0, err
}

// CreatePaymentMethod writes an organization's card on file (one per
// organization: IsDuplicate when another was written first).
func (s *Store) CreatePaymentMethod(ctx context.Context, pm *models.PaymentMethod) error {
	return s.with(ctx).Create(pm).Error
}

// SavePaymentMethod writes every field of the organization's card on file.
func (s *Store) SavePaymentMethod(ctx context.Context, orgID uint64, pm *models.PaymentMethod) error {
	// Selecting the columns keeps Save from inserting pm when no row
	// matches (another organization's ID).
	return s.with(ctx).Select("*").Where("organization_id = ?", orgID).Save(pm).Error
}

// Invoices lists the organization's latest invoices, newest first.
func (s *Store) Invoices(ctx context.Context, orgID uint64, limit int) ([]models.Invoice, error) {
	var list []models.Invoice
	err := s.with(ctx).Where("organization_id = ?", orgID).Order("issued_at DESC, id DESC").Limit(limit).Find(&list).Error
	return list, err
}

// InvoiceByStripeID loads the mirror of a Stripe invoice (as Stripe names
// it), or ErrNotFound; the caller checks whose it is.
func (s *Store) InvoiceByStripeID(ctx context.Context, stripeInvoiceID string) (*models.Invoice, error) {
	return one[models.Invoice](s.with(ctx).Where("stripe_invoice_id = ?", stripeInvoiceID))
}

// CreateInvoice writes a new invoice mirror; its OrganizationID says whose.
func (s *Store) CreateInvoice(ctx context.Context, in *models.Invoice) error {
	return s.with(ctx).Create(in).Error
}

// SaveInvoice writes every field of one of the organization's invoices.
func (s *Store) SaveInvoice(ctx context.Context, orgID uint64, in *models.Invoice) error {
	// As in SavePaymentMethod: no insert when no row matches.
	return s.with(ctx).Select("*").Where("organization_id = ?", orgID).Save(in).Error
}

// CreatePayment records a payment attempt; its OrganizationID says whose.
func (s *Store) CreatePayment(ctx context.Context, p *models.Payment) error {
	return s.with(ctx).Create(p).Error
}

// StripeEventProcessed reports whether the Stripe event was processed
// already (an event kept for review was not).
func (s *Store) StripeEventProcessed(ctx context.Context, eventID string) (bool, error) {
	var seen int64
	err := s.with(ctx).Model(&models.ProcessedStripeEvent{}).Where("event_id = ? AND status = ?", eventID, models.StripeEventProcessed).Count(&seen).Error
	return seen > 0, err
}

// RecordStripeEvent records that a Stripe event was processed, or kept for
// review (ev.Status). A delivery of an event kept for review updates its
// row; IsDuplicate when another delivery was recorded processed first.
func (s *Store) RecordStripeEvent(ctx context.Context, ev *models.ProcessedStripeEvent) error {
	if ev.Status == "" {
		ev.Status = models.StripeEventProcessed
	}
	res := s.with(ctx).Model(&models.ProcessedStripeEvent{}).Where("event_id = ? AND status = ?", ev.EventID, models.StripeEventUnmatched).
		Updates(map[string]any{"type": ev.Type, "organization_id": ev.OrganizationID, "status": ev.Status, "reason": ev.Reason, "processed_at": ev.ProcessedAt})
	if res.Error != nil || res.RowsAffected > 0 {
		return res.Error
	}
	return s.with(ctx).Create(ev).Error
}

// UnmatchedStripeEvents lists the Stripe events kept for review (they
// named no known organization), the latest first, at most limit.
func (s *Store) UnmatchedStripeEvents(ctx context.Context, limit int) ([]models.ProcessedStripeEvent, error) {
	var list []models.ProcessedStripeEvent
	err := s.with(ctx).Where("status = ?", models.StripeEventUnmatched).Order("processed_at DESC").Limit(limit).Find(&list).Error
	return list, err
}
