package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/models"
	"github.com/convot/convot/plans"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/store"
	"github.com/convot/convot/subprocessors"
)

// The billing page (owners: permission billing_manage): the plan and its
// limits against usage, subscribing and changing plan, the card on file,
// cancelling, Stripe's Billing Portal, the invoices, and closing or
// reactivating the account. Every call to Stripe goes through the gated
// client in subprocessors; what is kept of it is policy §2.1's list.

func (s *Server) billingRoutes(r *gin.RouterGroup) {
	g := r.Group("/billing", s.RequireAccount, s.Require("billing_manage"), s.RecordUsage)
	g.GET("", s.billingPage)
	g.POST("/plan", s.choosePlan)
	g.POST("/payment-method", s.updatePaymentMethod)
	g.POST("/portal", s.billingPortal)
	g.POST("/cancel", s.scheduleCancellation)
	g.POST("/resume", s.resumeSubscription)
	g.POST("/refresh", s.refreshBilling)
	g.POST("/reactivate", s.reactivate)
	r.POST("/account/close", s.RequireAccount, s.Require("account_close"), s.closeAccount)
}

var billingFlashes = map[string]string{
	"subscribed":       "You are subscribed. Thank you!",
	"plan_changed":     "Your plan is changed; the difference is prorated on your next invoice.",
	"plan_unchanged":   "You are on that plan already.",
	"cancel_scheduled": "Your subscription ends at the end of the paid period. When it does, the account is closed.",
	"resumed":          "Your subscription continues.",
	"refreshed":        "Billing details are up to date with Stripe.",
	"checkout_done":    "Thank you. Stripe is confirming the payment; the page shows it in a moment.",
	"card_done":        "Thank you. Your new card shows here as soon as Stripe confirms it.",
	"closed":           "The account is closed and read-only. Its data is deleted in 30 days unless an owner reactivates it.",
	"reactivated":      "The account is active again. Nothing will be deleted.",
	"reactivating":     "Reactivation requested: the account is active again in a moment.",
}

func init() {
	for k, v := range billingFlashes {
		site.FlashMessages[k] = v
	}
}

type planRow struct {
	models.Plan
	Current bool
	Price   string
}

type invoiceRow struct {
	Number, Status, Amount, URL string
	Issued                      time.Time
}

type billingView struct {
	Configured   bool
	OrgStatus    string
	DeleteAt     time.Time
	CancelReason string // workflows.Cancellation*
	Plan         models.Plan
	Plans        []planRow
	Usage        models.Usage
	SeatsOver    bool
	ConvOver     bool
	SeatsFull    bool // no seat left for an invitation
	ConvFull     bool // the widget refuses new conversations this month
	NextMonth    time.Time
	Subscription *models.Subscription
	Card         *models.PaymentMethod
	Invoices     []invoiceRow
	RequestKey   string
}

func (s *Server) billingView(c *gin.Context) (*billingView, error) {
	org := site.CurrentOrg(c)
	v := &billingView{Configured: s.Stripe != nil, OrgStatus: org.Status, RequestKey: crypto.RandomToken(16)}
	var err error
	if v.Subscription, err = s.subscriptionOf(c, org.ID); err != nil {
		return nil, err
	}
	v.Plan = v.Subscription.CurrentPlan()
	if v.Usage, err = s.Store.Usage(c, org.ID, s.now()); err != nil {
		return nil, err
	}
	v.SeatsOver = v.Usage.Seats > int64(v.Plan.Seats)
	v.ConvOver = v.Usage.ConversationsThisMonth > int64(v.Plan.ConversationsPerMonth)
	v.SeatsFull = v.Usage.Seats+v.Usage.InvitedSeats >= int64(v.Plan.Seats)
	v.ConvFull = v.Usage.ConversationsThisMonth >= int64(v.Plan.ConversationsPerMonth)
	v.NextMonth = models.NextMonth(s.now())
	for _, p := range models.Plans {
		v.Plans = append(v.Plans, planRow{Plan: p, Current: p.ID == v.Plan.ID, Price: money(p.MonthlyPriceCents, p.Currency)})
	}
	switch card, err := s.Store.PaymentMethod(c, org.ID); {
	case err == nil:
		v.Card = card
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	}
	invoices, err := s.Store.Invoices(c, org.ID, 100)
	if err != nil {
		return nil, err
	}
	for _, in := range invoices {
		v.Invoices = append(v.Invoices, invoiceRow{Number: in.Number, Status: in.Status, Amount: money(in.AmountDue, in.Currency), URL: in.HostedInvoiceURL, Issued: in.IssuedAt})
	}
	if org.Status == models.OrgCancelled {
		if cs := s.cancellations(); cs != nil {
			if st, err := cs.Status(c, org.ID); err == nil {
				v.DeleteAt, v.CancelReason = st.DeleteAt, st.Reason
			}
		}
	}
	return v, nil
}

func (s *Server) billingPage(c *gin.Context) {
	v, err := s.billingView(c)
	if err != nil {
		s.Internal(c, err)
		return
	}
	p := s.Page(c, "Billing", "billing", v)
	switch c.Query("done") {
	case "checkout":
		p.Flash = billingFlashes["checkout_done"]
	case "card":
		p.Flash = billingFlashes["card_done"]
	}
	s.Render(c, http.StatusOK, "billing", p)
}

// billingPageWithError shows the billing page with an error and status.
func (s *Server) billingPageWithError(c *gin.Context, status int, msg string) {
	if site.WantsJSON(c) {
		c.AbortWithStatusJSON(status, gin.H{"error": msg})
		return
	}
	v, err := s.billingView(c)
	if err != nil {
		s.Internal(c, err)
		return
	}
	p := s.Page(c, "Billing", "billing", v)
	p.Error = msg
	s.Render(c, status, "billing", p)
	c.Abort()
}

// billingErrorMessage turns a failed Stripe call into a status and a
// message an owner can act on.
func billingErrorMessage(err error) (int, string) {
	var se *subprocessors.StripeError
	switch {
	case errors.Is(err, subprocessors.ErrDenied):
		return http.StatusForbidden, "Our data-protection rules did not allow sending this organization's billing details to Stripe, so nothing was sent or changed."
	case errors.Is(err, subprocessors.ErrStripeUnreachable):
		return http.StatusBadGateway, "We could not reach our payment processor, Stripe. Nothing was charged or changed; please try again in a minute."
	case errors.As(err, &se) && se.Type == "card_error":
		return http.StatusPaymentRequired, cardMessage(se)
	case errors.As(err, &se) && (se.HTTPStatus == http.StatusTooManyRequests || se.HTTPStatus >= 500 || se.Type == "api_error"):
		return http.StatusBadGateway, "Stripe is having trouble right now. Nothing was charged or changed; please try again in a minute."
	case errors.As(err, &se):
		return http.StatusBadGateway, "Stripe refused the request" + requestRef(se) + ". Nothing was charged; please contact support@convot.io if it happens again."
	}
	return http.StatusBadGateway, "Billing failed unexpectedly. Nothing was charged; please try again."
}

func requestRef(se *subprocessors.StripeError) string {
	if se.RequestID == "" {
		return ""
	}
	return " (reference " + se.RequestID + ")"
}

func cardMessage(se *subprocessors.StripeError) string {
	const next = " Nothing was charged. Use “Update card” to add another card, then try again."
	switch se.Code {
	case "expired_card":
		return "Your card has expired." + next
	case "incorrect_cvc", "invalid_cvc":
		return "The card's security code is incorrect." + next
	case "incorrect_number", "invalid_number":
		return "The card number is incorrect." + next
	case "processing_error":
		return "Your card could not be processed. Please try again in a moment."
	case "authentication_required":
		return "Your bank asks you to confirm this payment. Use “Update card” to confirm the card with your bank, then try again."
	}
	switch se.DeclineCode {
	case "insufficient_funds":
		return "Your card was declined: insufficient funds." + next
	case "lost_card", "stolen_card", "pickup_card":
		return "Your card was declined." + next
	}
	return "Your card was declined." + next
}

func money(cents int64, currency string) string {
	if cents == 0 && currency == "" {
		return "free"
	}
	return fmt.Sprintf("%d.%02d %s", cents/100, cents%100, strings.ToUpper(currency))
}

var requestKeyPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{8,64}$`)

// requestKey is the form's own key: the same form submitted twice reaches
// Stripe with the same idempotency key, and so has one effect.
func requestKey(c *gin.Context) string {
	if k := c.PostForm("request_key"); requestKeyPattern.MatchString(k) {
		return k
	}
	return crypto.RandomToken(16)
}

func (s *Server) billingURL(query string) string {
	u := *s.Config.BaseURL
	u.Path = strings.TrimSuffix(u.Path, "/") + "/billing"
	u.RawQuery = query
	return u.String()
}

// requireStripe answers 503 when billing is not configured.
func (s *Server) requireStripe(c *gin.Context) bool {
	if s.Stripe == nil {
		s.billingPageWithError(c, http.StatusServiceUnavailable, "Billing is not configured in this deployment (STRIPE_SECRET_KEY is not set).")
		return false
	}
	return true
}

// subscriptionOf is the organization's subscription row, or nil when it
// never had a Stripe customer.
func (s *Server) subscriptionOf(ctx context.Context, orgID uint64) (*models.Subscription, error) {
	sub, err := s.Store.Subscription(ctx, orgID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return sub, err
}

// ensureCustomer returns the organization's subscription row, creating its
// Stripe customer (company name and the owner's email) first if needed.
func (s *Server) ensureCustomer(c *gin.Context) (*models.Subscription, error) {
	a, org := site.CurrentAccount(c), site.CurrentOrg(c)
	sub, err := s.subscriptionOf(c, org.ID)
	if err != nil || (sub != nil && sub.StripeCustomerID != "") {
		return sub, err
	}
	id, err := s.Stripe.CreateCustomer(c, org.GateContext(), policies.SubjectContext{Kind: models.SubjectCustomer}, org.CompanyName, a.Email)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	row := models.Subscription{OrganizationID: org.ID, StripeCustomerID: id, Plan: models.PlanFree, CreatedAt: now, UpdatedAt: now}
	err = s.Store.Tx(c, func(tx *store.Store) error {
		if sub != nil {
			return tx.ClaimStripeCustomer(c, org.ID, sub.ID, id)
		}
		return tx.CreateSubscription(c, &row)
	})
	if err != nil && !store.IsDuplicate(err) {
		return nil, err
	}
	return s.subscriptionOf(c, org.ID)
}

func (s *Server) stripeFailed(c *gin.Context, err error) {
	status, msg := billingErrorMessage(err)
	s.billingPageWithError(c, status, msg)
}

// choosePlan subscribes to a paid plan or changes to another: with a card
// on file directly, otherwise through Stripe Checkout.
func (s *Server) choosePlan(c *gin.Context) {
	org := site.CurrentOrg(c)
	plan, ok := models.PlanByID(c.PostForm("plan"))
	if !ok || plan.StripeLookupKey == "" {
		s.billingPageWithError(c, http.StatusUnprocessableEntity, "Choose one of the paid plans. To return to the free plan, cancel the subscription.")
		return
	}
	if !s.requireStripe(c) {
		return
	}
	if err := s.Plans.SeatsForPlan(c, org, plan); err != nil {
		if msg := plans.LimitMessage(err); msg != "" {
			s.billingPageWithError(c, http.StatusConflict, msg)
			return
		}
		s.Internal(c, err)
		return
	}
	key := requestKey(c)
	sub, err := s.ensureCustomer(c)
	if err != nil {
		s.stripeFailed(c, err)
		return
	}
	if sub.Paying() && sub.Plan == plan.ID && !sub.CancelAtPeriodEnd {
		s.RedirectWithFlash(c, "/billing", "plan_unchanged")
		return
	}
	price, err := s.Stripe.PriceForLookupKey(c, org.GateContext(), plan.StripeLookupKey)
	if err != nil {
		s.stripeFailed(c, err)
		return
	}
	card, err := s.Store.HasPaymentMethod(c, org.ID)
	if err != nil {
		s.Internal(c, err)
		return
	}
	var updated subprocessors.StripeSubscription
	flash := "subscribed"
	switch {
	case sub.Paying():
		updated, err = s.Stripe.ChangeSubscriptionPrice(c, org.GateContext(), sub.StripeSubscriptionID, price, plan.ID, key)
		flash = "plan_changed"
	case card:
		updated, err = s.Stripe.CreateSubscription(c, org.GateContext(), sub.StripeCustomerID, price, plan.ID, key)
	default:
		cs, err := s.Stripe.CreateCheckoutSession(c, org.GateContext(), subprocessors.CheckoutRequest{
			CustomerID: sub.StripeCustomerID, PriceID: price, PlanID: plan.ID,
			SuccessURL: s.billingURL("done=checkout"), CancelURL: s.billingURL(""), RequestKey: key,
		})
		if err != nil {
			s.stripeFailed(c, err)
			return
		}
		c.Redirect(http.StatusSeeOther, cs.URL)
		return
	}
	if err != nil {
		s.stripeFailed(c, err)
		return
	}
	if updated.PlanID == "" {
		updated.PlanID = plan.ID
	}
	if err := s.recordSubscriptionChange(c, sub, updated, "billing.plan_changed", plan.ID); err != nil {
		s.Internal(c, err)
		return
	}
	s.RedirectWithFlash(c, "/billing", flash)
}

// recordSubscriptionChange keeps what Stripe answered (the webhooks will
// say it again) and audits the owner's action.
func (s *Server) recordSubscriptionChange(c *gin.Context, sub *models.Subscription, updated subprocessors.StripeSubscription, action, detail string) error {
	a, org := site.CurrentAccount(c), site.CurrentOrg(c)
	return s.Store.Tx(c, func(tx *store.Store) error {
		if err := applySubscription(c, tx, sub, updated, time.Time{}); err != nil {
			return err
		}
		return s.Audit(tx, c, org.ID, a.ID, a.DataKeyID, action, site.Target("organization", org.ID), detail)
	})
}

// applySubscription writes a subscription's state from Stripe onto the
// organization's row; eventAt, when set, is the Stripe event's time, and an
// event older than the newest applied is ignored.
func applySubscription(ctx context.Context, tx *store.Store, row *models.Subscription, ss subprocessors.StripeSubscription, eventAt time.Time) error {
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

// updatePaymentMethod sends the owner to Stripe Checkout in setup mode (a
// SetupIntent) to add a card; the payment_method.attached webhook records
// its brand and last four and makes it the default.
func (s *Server) updatePaymentMethod(c *gin.Context) {
	if !s.requireStripe(c) {
		return
	}
	key := requestKey(c)
	sub, err := s.ensureCustomer(c)
	if err != nil {
		s.stripeFailed(c, err)
		return
	}
	cs, err := s.Stripe.CreateCheckoutSession(c, site.CurrentOrg(c).GateContext(), subprocessors.CheckoutRequest{
		CustomerID: sub.StripeCustomerID, SuccessURL: s.billingURL("done=card"), CancelURL: s.billingURL(""), RequestKey: key,
	})
	if err != nil {
		s.stripeFailed(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, cs.URL)
}

// billingPortal sends the owner to Stripe's Billing Portal.
func (s *Server) billingPortal(c *gin.Context) {
	if !s.requireStripe(c) {
		return
	}
	key := requestKey(c)
	sub, err := s.ensureCustomer(c)
	if err != nil {
		s.stripeFailed(c, err)
		return
	}
	url, err := s.Stripe.CreatePortalSession(c, site.CurrentOrg(c).GateContext(), sub.StripeCustomerID, s.billingURL(""), key)
	if err != nil {
		s.stripeFailed(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, url)
}

func (s *Server) setCancelAtPeriodEnd(c *gin.Context, cancel bool) {
	if !s.requireStripe(c) {
		return
	}
	org := site.CurrentOrg(c)
	sub, err := s.subscriptionOf(c, org.ID)
	if err != nil {
		s.Internal(c, err)
		return
	}
	if !sub.Paying() {
		s.billingPageWithError(c, http.StatusConflict, "There is no paid subscription to change.")
		return
	}
	updated, err := s.Stripe.SetCancelAtPeriodEnd(c, org.GateContext(), sub.StripeSubscriptionID, cancel, requestKey(c))
	if err != nil {
		s.stripeFailed(c, err)
		return
	}
	action, flash := "billing.cancel_scheduled", "cancel_scheduled"
	if !cancel {
		action, flash = "billing.resumed", "resumed"
	}
	if err := s.recordSubscriptionChange(c, sub, updated, action, ""); err != nil {
		s.Internal(c, err)
		return
	}
	s.RedirectWithFlash(c, "/billing", flash)
}

// scheduleCancellation ends the subscription with its paid period; when it
// ends, Stripe's customer.subscription.deleted starts the account's
// cancellation.
func (s *Server) scheduleCancellation(c *gin.Context) { s.setCancelAtPeriodEnd(c, true) }

func (s *Server) resumeSubscription(c *gin.Context) { s.setCancelAtPeriodEnd(c, false) }

// refreshBilling reads the subscription, the cards and the invoices from
// Stripe into the local mirror (the webhooks keep it current otherwise).
func (s *Server) refreshBilling(c *gin.Context) {
	if !s.requireStripe(c) {
		return
	}
	org := site.CurrentOrg(c)
	sub, err := s.subscriptionOf(c, org.ID)
	if err != nil {
		s.Internal(c, err)
		return
	}
	if sub == nil || sub.StripeCustomerID == "" {
		s.RedirectWithFlash(c, "/billing", "refreshed")
		return
	}
	oc := org.GateContext()
	var ss *subprocessors.StripeSubscription
	if sub.StripeSubscriptionID != "" {
		got, err := s.Stripe.GetSubscription(c, oc, sub.StripeSubscriptionID)
		if err != nil {
			s.stripeFailed(c, err)
			return
		}
		ss = &got
	}
	cards, err := s.Stripe.ListCards(c, oc, sub.StripeCustomerID)
	if err != nil {
		s.stripeFailed(c, err)
		return
	}
	invoices, err := s.Stripe.ListInvoices(c, oc, sub.StripeCustomerID, 100)
	if err != nil {
		s.stripeFailed(c, err)
		return
	}
	err = s.Store.Tx(c, func(tx *store.Store) error {
		if ss != nil {
			if err := applySubscription(c, tx, sub, *ss, time.Time{}); err != nil {
				return err
			}
		}
		if len(cards) > 0 {
			if err := upsertCard(c, tx, org, cards[0]); err != nil {
				return err
			}
		}
		for _, in := range invoices {
			if err := upsertInvoice(c, tx, org.ID, in); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.Internal(c, err)
		return
	}
	s.RedirectWithFlash(c, "/billing", "refreshed")
}

// upsertCard keeps the card on file: brand and last four digits, nothing
// else (policy §2.1).
func upsertCard(ctx context.Context, tx *store.Store, org *models.Organization, card subprocessors.StripeCard) error {
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
			return upsertCard(ctx, tx, org, card)
		}
		return err
	}
	return tx.SavePaymentMethod(ctx, org.ID, pm)
}

// upsertInvoice mirrors a Stripe invoice for the seven years of §8.
func upsertInvoice(ctx context.Context, tx *store.Store, orgID uint64, in subprocessors.StripeInvoice) error {
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

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
