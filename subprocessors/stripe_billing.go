package subprocessors

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/stripe/stripe-go/v76"

	"github.com/convot/convot/policies"
)

// The billing calls below send identifiers only (Stripe's customer,
// subscription, price and payment-method IDs, return URLs, and the
// organization's ID as metadata): category system.operations, about the
// Customer. Each asks the gate first and sends what the decision lets
// leave; a withheld identifier sends nothing. Every call that creates or
// changes something carries an idempotency key, so a retry (a double
// submit, a Temporal retry, the SDK's own network retries) has one effect.

// StripeSubscription is what Convot reads of a Stripe subscription.
type StripeSubscription struct {
	ID         string
	CustomerID string
	Status     string // incomplete, incomplete_expired, trialing, active, past_due, canceled, unpaid, paused
	ItemID     string // the first (only) subscription item
	PriceID    string
	// PriceLookupKey is the price's lookup key; PlanID the convot_plan
	// metadata Convot sets; OrganizationID the convot_org_id metadata.
	PriceLookupKey    string
	PlanID            string
	OrganizationID    uint64
	CurrentPeriodEnd  time.Time
	CancelAt          time.Time
	CancelAtPeriodEnd bool
	CanceledAt        time.Time
}

// StripeInvoice is what Convot mirrors of a Stripe invoice.
type StripeInvoice struct {
	ID              string
	CustomerID      string
	SubscriptionID  string
	Number          string
	Status          string // draft, open, paid, uncollectible, void
	Currency        string
	AmountDue       int64
	AmountPaid      int64
	AmountRemaining int64
	AttemptCount    int64
	PeriodStart     time.Time
	PeriodEnd       time.Time
	Created         time.Time
	PaidAt          time.Time
	HostedURL       string
	PDF             string
}

// StripeCard is a payment method as far as Convot may know it: brand and
// last four digits (policy §2.1). PaymentMethodID is for the call that
// makes it the default, never for storing.
type StripeCard struct {
	PaymentMethodID string
	CustomerID      string
	Brand           string // the card's brand, or the payment method's type when it is not a card
	Last4           string // empty when it is not a card
}

// CheckoutRequest asks for a Stripe Checkout session: with a price, one
// that subscribes the customer (mode subscription); without, one that
// collects a new card through a SetupIntent (mode setup).
type CheckoutRequest struct {
	CustomerID string
	PriceID    string
	PlanID     string
	SuccessURL string
	CancelURL  string
	// RequestKey tells one submitted form from another: the same key (a
	// double submit) returns the same session, a new one a new session.
	RequestKey string
}

// CheckoutSession is where to send the owner.
type CheckoutSession struct {
	ID  string
	URL string
}

// gateIDs asks the gate about a call that sends only identifiers and
// returns the values the decision lets leave; any withheld is a denial.
func (s *Stripe) gateIDs(ctx context.Context, org policies.OrgContext, subjectKind, what string, ids map[string]string) (map[string]string, error) {
	d, err := authorize(ctx, s.gate, policies.Flow{
		Subprocessor:      stripeSubprocessor,
		Purpose:           stripePurpose,
		Categories:        []string{"system.operations"},
		Organization:      org,
		Subject:           policies.SubjectContext{Kind: subjectKind},
		DestinationRegion: s.region,
	})
	if err != nil {
		return nil, fmt.Errorf("stripe %s: %w", what, err)
	}
	fields := map[string]policies.Field{}
	for k, v := range ids {
		fields[k] = policies.Field{Category: "system.operations", Value: v}
	}
	allowed := policies.Apply(d, fields)
	out := map[string]string{}
	for k := range ids {
		v, ok := appliedText(allowed, k)
		if !ok {
			return nil, fmt.Errorf("stripe %s: %w: the decision withholds %s: %s", what, ErrDenied, k, d.Reason)
		}
		out[k] = v
	}
	return out, nil
}

func requireIDs(what string, ids map[string]string) error {
	for k, v := range ids {
		if v == "" {
			return fmt.Errorf("subprocessors: stripe %s: empty %s", what, k)
		}
	}
	return nil
}

// PriceForLookupKey returns the ID of the active price with a lookup key
// (each paid plan names one). Nothing about a person leaves.
func (s *Stripe) PriceForLookupKey(ctx context.Context, org policies.OrgContext, lookupKey string) (string, error) {
	ids := map[string]string{"lookup_key": lookupKey}
	if err := requireIDs("price lookup", ids); err != nil {
		return "", err
	}
	sent, err := s.gateIDs(ctx, org, "none", "price lookup", ids)
	if err != nil {
		return "", err
	}
	params := &stripe.PriceListParams{LookupKeys: []*string{stripe.String(sent["lookup_key"])}, Active: stripe.Bool(true)}
	params.Context = ctx
	params.Limit = stripe.Int64(1)
	it := s.api.Prices.List(params)
	for it.Next() {
		if p := it.Price(); p != nil && p.ID != "" {
			return p.ID, nil
		}
	}
	if err := it.Err(); err != nil {
		return "", fmt.Errorf("subprocessors: stripe price lookup: %w", stripeScrubbedError(err))
	}
	return "", fmt.Errorf("subprocessors: stripe price lookup: no active price with lookup key %q", lookupKey)
}

// CreateCheckoutSession starts Stripe Checkout for a subscription or, with
// no price, for collecting a card (SetupIntent).
func (s *Stripe) CreateCheckoutSession(ctx context.Context, org policies.OrgContext, req CheckoutRequest) (CheckoutSession, error) {
	ids := map[string]string{"customer": req.CustomerID, "success_url": req.SuccessURL, "cancel_url": req.CancelURL}
	if err := requireIDs("checkout", ids); err != nil {
		return CheckoutSession{}, err
	}
	if req.PriceID != "" {
		ids["price"] = req.PriceID
	}
	sent, err := s.gateIDs(ctx, org, "customer", "checkout", ids)
	if err != nil {
		return CheckoutSession{}, err
	}
	orgID := strconv.FormatUint(org.ID, 10)
	params := &stripe.CheckoutSessionParams{
		Customer:          stripe.String(sent["customer"]),
		SuccessURL:        stripe.String(sent["success_url"]),
		CancelURL:         stripe.String(sent["cancel_url"]),
		ClientReferenceID: stripe.String(orgID),
	}
	params.Context = ctx
	params.AddMetadata("convot_org_id", orgID)
	mode := "setup"
	if price := sent["price"]; price != "" {
		mode = "subscription"
		params.Mode = stripe.String(string(stripe.CheckoutSessionModeSubscription))
		params.LineItems = []*stripe.CheckoutSessionLineItemParams{{Price: stripe.String(price), Quantity: stripe.Int64(1)}}
		params.SubscriptionData = &stripe.CheckoutSessionSubscriptionDataParams{
			Metadata: map[string]string{"convot_org_id": orgID, "convot_plan": req.PlanID},
		}
	} else {
		params.Mode = stripe.String(string(stripe.CheckoutSessionModeSetup))
		params.PaymentMethodTypes = []*string{stripe.String("card")}
		params.SetupIntentData = &stripe.CheckoutSessionSetupIntentDataParams{Metadata: map[string]string{"convot_org_id": orgID}}
	}
	params.SetIdempotencyKey(stripeIdempotencyKey("checkout", org.ID, mode, sent["customer"], sent["price"], req.PlanID, sent["success_url"], sent["cancel_url"], req.RequestKey))
	cs, err := s.api.CheckoutSessions.New(params)
	if err != nil {
		return CheckoutSession{}, fmt.Errorf("subprocessors: stripe checkout: %w", stripeScrubbedError(err))
	}
	if cs.URL == "" {
		return CheckoutSession{}, errors.New("subprocessors: stripe checkout: the response holds no URL")
	}
	return CheckoutSession{ID: cs.ID, URL: cs.URL}, nil
}

// CreatePortalSession returns a link to Stripe's Billing Portal for the
// customer: invoices, payment methods, cancellation.
func (s *Stripe) CreatePortalSession(ctx context.Context, org policies.OrgContext, customerID, returnURL, requestKey string) (string, error) {
	ids := map[string]string{"customer": customerID, "return_url": returnURL}
	if err := requireIDs("billing portal", ids); err != nil {
		return "", err
	}
	sent, err := s.gateIDs(ctx, org, "customer", "billing portal", ids)
	if err != nil {
		return "", err
	}
	params := &stripe.BillingPortalSessionParams{Customer: stripe.String(sent["customer"]), ReturnURL: stripe.String(sent["return_url"])}
	params.Context = ctx
	params.SetIdempotencyKey(stripeIdempotencyKey("portal", org.ID, sent["customer"], sent["return_url"], requestKey))
	ps, err := s.api.BillingPortalSessions.New(params)
	if err != nil {
		return "", fmt.Errorf("subprocessors: stripe billing portal: %w", stripeScrubbedError(err))
	}
	if ps.URL == "" {
		return "", errors.New("subprocessors: stripe billing portal: the response holds no URL")
	}
	return ps.URL, nil
}

// CreateSubscription subscribes a customer that has a card on file to a
// price directly. It fails (card declined, authentication required) rather
// than leaving an incomplete subscription behind.
func (s *Stripe) CreateSubscription(ctx context.Context, org policies.OrgContext, customerID, priceID, planID, requestKey string) (StripeSubscription, error) {
	ids := map[string]string{"customer": customerID, "price": priceID}
	if err := requireIDs("create subscription", ids); err != nil {
		return StripeSubscription{}, err
	}
	sent, err := s.gateIDs(ctx, org, "customer", "create subscription", ids)
	if err != nil {
		return StripeSubscription{}, err
	}
	params := &stripe.SubscriptionParams{
		Customer:        stripe.String(sent["customer"]),
		Items:           []*stripe.SubscriptionItemsParams{{Price: stripe.String(sent["price"])}},
		PaymentBehavior: stripe.String("error_if_incomplete"),
	}
	params.Context = ctx
	params.AddMetadata("convot_org_id", strconv.FormatUint(org.ID, 10))
	params.AddMetadata("convot_plan", planID)
	params.SetIdempotencyKey(stripeIdempotencyKey("subscription-create", org.ID, sent["customer"], sent["price"], planID, requestKey))
	sub, err := s.api.Subscriptions.New(params)
	if err != nil {
		return StripeSubscription{}, fmt.Errorf("subprocessors: stripe create subscription: %w", stripeScrubbedError(err))
	}
	return subscriptionOf(sub), nil
}

// GetSubscription reads a subscription.
func (s *Stripe) GetSubscription(ctx context.Context, org policies.OrgContext, subscriptionID string) (StripeSubscription, error) {
	ids := map[string]string{"subscription": subscriptionID}
	if err := requireIDs("get subscription", ids); err != nil {
		return StripeSubscription{}, err
	}
	sent, err := s.gateIDs(ctx, org, "customer", "get subscription", ids)
	if err != nil {
		return StripeSubscription{}, err
	}
	params := &stripe.SubscriptionParams{}
	params.Context = ctx
	sub, err := s.api.Subscriptions.Get(sent["subscription"], params)
	if err != nil {
		return StripeSubscription{}, fmt.Errorf("subprocessors: stripe get subscription: %w", stripeScrubbedError(err))
	}
	return subscriptionOf(sub), nil
}

// ChangeSubscriptionPrice moves a subscription to another price (a plan
// change), prorated. It reads the subscription for its item first.
func (s *Stripe) ChangeSubscriptionPrice(ctx context.Context, org policies.OrgContext, subscriptionID, priceID, planID, requestKey string) (StripeSubscription, error) {
	current, err := s.GetSubscription(ctx, org, subscriptionID)
	if err != nil {
		return StripeSubscription{}, err
	}
	ids := map[string]string{"subscription": subscriptionID, "item": current.ItemID, "price": priceID}
	if err := requireIDs("change subscription", ids); err != nil {
		return StripeSubscription{}, err
	}
	sent, err := s.gateIDs(ctx, org, "customer", "change subscription", ids)
	if err != nil {
		return StripeSubscription{}, err
	}
	params := &stripe.SubscriptionParams{
		Items:             []*stripe.SubscriptionItemsParams{{ID: stripe.String(sent["item"]), Price: stripe.String(sent["price"])}},
		ProrationBehavior: stripe.String("create_prorations"),
		CancelAtPeriodEnd: stripe.Bool(false),
		PaymentBehavior:   stripe.String("error_if_incomplete"),
	}
	params.Context = ctx
	params.AddMetadata("convot_plan", planID)
	params.SetIdempotencyKey(stripeIdempotencyKey("subscription-price", org.ID, sent["subscription"], sent["item"], sent["price"], planID, requestKey))
	sub, err := s.api.Subscriptions.Update(sent["subscription"], params)
	if err != nil {
		return StripeSubscription{}, fmt.Errorf("subprocessors: stripe change subscription: %w", stripeScrubbedError(err))
	}
	return subscriptionOf(sub), nil
}

// SetCancelAtPeriodEnd schedules the subscription to end when the paid
// period does (cancel true), or takes the schedule back (false).
func (s *Stripe) SetCancelAtPeriodEnd(ctx context.Context, org policies.OrgContext, subscriptionID string, cancel bool, requestKey string) (StripeSubscription, error) {
	ids := map[string]string{"subscription": subscriptionID}
	if err := requireIDs("schedule cancellation", ids); err != nil {
		return StripeSubscription{}, err
	}
	sent, err := s.gateIDs(ctx, org, "customer", "schedule cancellation", ids)
	if err != nil {
		return StripeSubscription{}, err
	}
	params := &stripe.SubscriptionParams{CancelAtPeriodEnd: stripe.Bool(cancel)}
	params.Context = ctx
	params.SetIdempotencyKey(stripeIdempotencyKey("subscription-cancel-at-period-end", org.ID, sent["subscription"], strconv.FormatBool(cancel), requestKey))
	sub, err := s.api.Subscriptions.Update(sent["subscription"], params)
	if err != nil {
		return StripeSubscription{}, fmt.Errorf("subprocessors: stripe schedule cancellation: %w", stripeScrubbedError(err))
	}
	return subscriptionOf(sub), nil
}

// CancelSubscription ends a subscription now, without a final invoice or
// proration (the account is being closed). A subscription Stripe no longer
// has, or one already canceled, counts as canceled.
func (s *Stripe) CancelSubscription(ctx context.Context, org policies.OrgContext, subscriptionID, requestKey string) error {
	ids := map[string]string{"subscription": subscriptionID}
	if err := requireIDs("cancel subscription", ids); err != nil {
		return err
	}
	sent, err := s.gateIDs(ctx, org, "customer", "cancel subscription", ids)
	if err != nil {
		return err
	}
	params := &stripe.SubscriptionCancelParams{InvoiceNow: stripe.Bool(false), Prorate: stripe.Bool(false)}
	params.Context = ctx
	params.SetIdempotencyKey(stripeIdempotencyKey("subscription-cancel", org.ID, sent["subscription"], requestKey))
	if _, err := s.api.Subscriptions.Cancel(sent["subscription"], params); err != nil {
		var se *stripe.Error
		if errors.As(err, &se) && (se.Code == stripe.ErrorCodeResourceMissing || se.HTTPStatusCode == http.StatusNotFound) {
			return nil
		}
		return fmt.Errorf("subprocessors: stripe cancel subscription: %w", stripeScrubbedError(err))
	}
	return nil
}

// ListInvoices returns the customer's invoices, newest first, at most limit.
func (s *Stripe) ListInvoices(ctx context.Context, org policies.OrgContext, customerID string, limit int) ([]StripeInvoice, error) {
	ids := map[string]string{"customer": customerID}
	if err := requireIDs("list invoices", ids); err != nil {
		return nil, err
	}
	sent, err := s.gateIDs(ctx, org, "customer", "list invoices", ids)
	if err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	params := &stripe.InvoiceListParams{Customer: stripe.String(sent["customer"])}
	params.Context = ctx
	params.Limit = stripe.Int64(int64(limit))
	params.Single = true // one page: the newest invoices
	var out []StripeInvoice
	it := s.api.Invoices.List(params)
	for it.Next() {
		out = append(out, invoiceOf(it.Invoice()))
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("subprocessors: stripe list invoices: %w", stripeScrubbedError(err))
	}
	return out, nil
}

// ListCards returns the customer's cards: brand and last four only.
func (s *Stripe) ListCards(ctx context.Context, org policies.OrgContext, customerID string) ([]StripeCard, error) {
	ids := map[string]string{"customer": customerID}
	if err := requireIDs("list payment methods", ids); err != nil {
		return nil, err
	}
	sent, err := s.gateIDs(ctx, org, "customer", "list payment methods", ids)
	if err != nil {
		return nil, err
	}
	params := &stripe.PaymentMethodListParams{Customer: stripe.String(sent["customer"]), Type: stripe.String("card")}
	params.Context = ctx
	params.Limit = stripe.Int64(10)
	params.Single = true
	var out []StripeCard
	it := s.api.PaymentMethods.List(params)
	for it.Next() {
		out = append(out, cardOf(it.PaymentMethod()))
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("subprocessors: stripe list payment methods: %w", stripeScrubbedError(err))
	}
	return out, nil
}

// SetDefaultPaymentMethod makes a payment method the customer's default for
// invoices (and so for the subscription).
func (s *Stripe) SetDefaultPaymentMethod(ctx context.Context, org policies.OrgContext, customerID, paymentMethodID, requestKey string) error {
	ids := map[string]string{"customer": customerID, "payment_method": paymentMethodID}
	if err := requireIDs("set default payment method", ids); err != nil {
		return err
	}
	sent, err := s.gateIDs(ctx, org, "customer", "set default payment method", ids)
	if err != nil {
		return err
	}
	params := &stripe.CustomerParams{InvoiceSettings: &stripe.CustomerInvoiceSettingsParams{DefaultPaymentMethod: stripe.String(sent["payment_method"])}}
	params.Context = ctx
	params.SetIdempotencyKey(stripeIdempotencyKey("default-payment-method", org.ID, sent["customer"], sent["payment_method"], requestKey))
	if _, err := s.api.Customers.Update(sent["customer"], params); err != nil {
		return fmt.Errorf("subprocessors: stripe set default payment method: %w", stripeScrubbedError(err))
	}
	return nil
}

func unixTime(sec int64) time.Time {
	if sec <= 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0).UTC()
}

func subscriptionOf(sub *stripe.Subscription) StripeSubscription {
	if sub == nil {
		return StripeSubscription{}
	}
	out := StripeSubscription{
		ID:                sub.ID,
		Status:            string(sub.Status),
		CurrentPeriodEnd:  unixTime(sub.CurrentPeriodEnd),
		CancelAt:          unixTime(sub.CancelAt),
		CancelAtPeriodEnd: sub.CancelAtPeriodEnd,
		CanceledAt:        unixTime(sub.CanceledAt),
		PlanID:            sub.Metadata["convot_plan"],
	}
	if id, err := strconv.ParseUint(sub.Metadata["convot_org_id"], 10, 64); err == nil {
		out.OrganizationID = id
	}
	if sub.Customer != nil {
		out.CustomerID = sub.Customer.ID
	}
	if sub.Items != nil && len(sub.Items.Data) > 0 && sub.Items.Data[0] != nil {
		item := sub.Items.Data[0]
		out.ItemID = item.ID
		if item.Price != nil {
			out.PriceID, out.PriceLookupKey = item.Price.ID, item.Price.LookupKey
		}
	}
	return out
}

func invoiceOf(in *stripe.Invoice) StripeInvoice {
	if in == nil {
		return StripeInvoice{}
	}
	out := StripeInvoice{
		ID:              in.ID,
		Number:          in.Number,
		Status:          string(in.Status),
		Currency:        string(in.Currency),
		AmountDue:       in.AmountDue,
		AmountPaid:      in.AmountPaid,
		AmountRemaining: in.AmountRemaining,
		AttemptCount:    in.AttemptCount,
		PeriodStart:     unixTime(in.PeriodStart),
		PeriodEnd:       unixTime(in.PeriodEnd),
		Created:         unixTime(in.Created),
		HostedURL:       in.HostedInvoiceURL,
		PDF:             in.InvoicePDF,
	}
	if in.Customer != nil {
		out.CustomerID = in.Customer.ID
	}
	if in.Subscription != nil {
		out.SubscriptionID = in.Subscription.ID
	}
	if in.StatusTransitions != nil {
		out.PaidAt = unixTime(in.StatusTransitions.PaidAt)
	}
	return out
}

func cardOf(pm *stripe.PaymentMethod) StripeCard {
	if pm == nil {
		return StripeCard{}
	}
	out := StripeCard{PaymentMethodID: pm.ID, Brand: string(pm.Type)}
	if pm.Customer != nil {
		out.CustomerID = pm.Customer.ID
	}
	if pm.Card != nil {
		out.Brand, out.Last4 = string(pm.Card.Brand), pm.Card.Last4
	}
	return out
}
