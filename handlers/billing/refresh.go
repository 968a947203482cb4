package billing

import (
	"time"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/subprocessors"
	"github.com/convot/convot/subscriptions"
)

// subscription is the Stripe client and the organization's subscription
// row (nil before it has one); false when it answered.
func (h *Handler) subscription(c *gin.Context) (*subprocessors.Stripe, *models.Subscription, bool) {
	stripe := h.requireStripe(c)
	if stripe == nil {
		return nil, nil, false
	}
	sub, err := subscriptions.Of(c, h.Store, site.CurrentOrg(c).ID)
	if err != nil {
		h.Internal(c, err)
		return nil, nil, false
	}
	return stripe, sub, true
}

// refresh reads the subscription, the cards and the invoices from Stripe
// into the local copy (the webhooks keep it current otherwise).
func (h *Handler) refresh(c *gin.Context) {
	stripe, sub, ok := h.subscription(c)
	if !ok {
		return
	}
	org := site.CurrentOrg(c)
	if sub == nil || sub.StripeCustomerID == "" {
		h.RedirectWithFlash(c, "/billing", "refreshed")
		return
	}
	oc := org.GateContext()
	var ss *subprocessors.StripeSubscription
	if sub.StripeSubscriptionID != "" {
		got, err := stripe.GetSubscription(c, oc, sub.StripeSubscriptionID)
		if err != nil {
			h.stripeFailed(c, err)
			return
		}
		ss = &got
	}
	cards, err := stripe.ListCards(c, oc, sub.StripeCustomerID)
	if err != nil {
		h.stripeFailed(c, err)
		return
	}
	invoices, err := stripe.ListInvoices(c, oc, sub.StripeCustomerID, 100)
	if err != nil {
		h.stripeFailed(c, err)
		return
	}
	err = h.Store.Tx(c, func(tx *store.Store) error {
		if ss != nil {
			if err := subscriptions.Apply(c, tx, sub, *ss, time.Time{}); err != nil {
				return err
			}
		}
		if len(cards) > 0 {
			if err := subscriptions.SaveCard(c, tx, org, cards[0]); err != nil {
				return err
			}
		}
		for _, in := range invoices {
			if err := subscriptions.SaveInvoice(c, tx, org.ID, in); err != nil {
				return err
			}
		}
		return nil
	})
	h.Finish(c, err, "/billing", "refreshed")
}
