// Package billing serves the billing page (owners: permission
// billing_manage): the plan and its limits against usage, subscribing and
// changing plan (directly with a card on file, else through Stripe
// Checkout), the card on file, cancelling at the end of the paid period,
// Stripe's Billing Portal, the invoices, and closing or reactivating the
// account. Every call to Stripe goes through the gated client in
// subprocessors; what is kept of it is package subscriptions', and closing
// an account is package closure's: this package reads the forms and
// answers in pages.
package billing

import (
	"regexp"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/closure"
	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/models"
	"github.com/convot/convot/plans"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/store"
	"github.com/convot/convot/subprocessors"
	"github.com/convot/convot/subscriptions"
)

// Handler is what the billing pages need. Stripe and Cancellations are
// read at each request, not once: the composition root (and a test) may
// configure billing after the routes are mounted.
type Handler struct {
	*site.Site
	// Stripe returns the gated billing client, or nil when billing is
	// off (its actions answer 503).
	Stripe func() *subprocessors.Stripe
	// Plans checks that a plan chosen has seats for the team.
	Plans *plans.Limits
	// Cancellations returns what runs account cancellations, or nil
	// (closing and reactivating answer 503).
	Cancellations func() closure.Cancellations
}

var flashes = map[string]string{
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

// The flash keys are the site's: RedirectWithFlash looks them up there.
func init() {
	for k, v := range flashes {
		site.FlashMessages[k] = v
	}
}

// accounts closes and reactivates with the clients configured now.
func (h *Handler) accounts() *closure.Accounts {
	return &closure.Accounts{Store: h.Store, Cancellations: h.Cancellations(), Stripe: h.Stripe(), Now: h.Now}
}

// pageURL is the billing page's address with query, for Stripe to send
// the owner back to.
func (h *Handler) pageURL(query string) string {
	return subscriptions.PageURL(h.Config.BaseURL, query)
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

// ensureCustomer returns the organization's subscription row, creating its
// Stripe customer (company name and the owner's email) first if needed.
func (h *Handler) ensureCustomer(c *gin.Context, stripe *subprocessors.Stripe) (*models.Subscription, error) {
	a, org := site.CurrentAccount(c), site.CurrentOrg(c)
	sub, err := subscriptions.Of(c, h.Store, org.ID)
	if err != nil || (sub != nil && sub.StripeCustomerID != "") {
		return sub, err
	}
	id, err := stripe.CreateCustomer(c, org.GateContext(), policies.SubjectContext{Kind: models.SubjectCustomer}, org.CompanyName, a.Email)
	if err != nil {
		return nil, err
	}
	now := h.Now().UTC()
	row := models.Subscription{OrganizationID: org.ID, StripeCustomerID: id, Plan: models.PlanFree, CreatedAt: now, UpdatedAt: now}
	err = h.Store.Tx(c, func(tx *store.Store) error {
		if sub != nil {
			return tx.ClaimStripeCustomer(c, org.ID, sub.ID, id)
		}
		return tx.CreateSubscription(c, &row)
	})
	if err != nil && !store.IsDuplicate(err) {
		return nil, err
	}
	return subscriptions.Of(c, h.Store, org.ID)
}

// recordSubscriptionChange keeps what Stripe answered (the webhooks will
// say it again) and audits the owner's action.
func (h *Handler) recordSubscriptionChange(c *gin.Context, sub *models.Subscription, updated subprocessors.StripeSubscription, action, detail string) error {
	a, org := site.CurrentAccount(c), site.CurrentOrg(c)
	return h.Store.Tx(c, func(tx *store.Store) error {
		if err := subscriptions.Apply(c, tx, sub, updated, time.Time{}); err != nil {
			return err
		}
		return h.Audit(tx, c, org.ID, a.ID, a.DataKeyID, action, site.Target("organization", org.ID), detail)
	})
}
