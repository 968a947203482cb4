package billing

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/models"
	"github.com/convot/convot/subprocessors"
)

// customer is what a trip to a Stripe page needs: the client, the
// organization's subscription row with its Stripe customer (created first
// if needed) and the request's idempotency key. False when it answered.
func (h *Handler) customer(c *gin.Context) (*subprocessors.Stripe, *models.Subscription, string, bool) {
	stripe := h.requireStripe(c)
	if stripe == nil {
		return nil, nil, "", false
	}
	key := requestKey(c)
	sub, err := h.ensureCustomer(c, stripe)
	if err != nil {
		h.stripeFailed(c, err)
		return nil, nil, "", false
	}
	return stripe, sub, key, true
}

// updateCard sends the owner to Stripe Checkout in setup mode (a
// SetupIntent) to add a card; the payment_method.attached webhook records
// its brand and last four and makes it the default.
func (h *Handler) updateCard(c *gin.Context) {
	stripe, sub, key, ok := h.customer(c)
	if !ok {
		return
	}
	cs, err := stripe.CreateCheckoutSession(c, site.CurrentOrg(c).GateContext(), subprocessors.CheckoutRequest{
		CustomerID: sub.StripeCustomerID, SuccessURL: h.pageURL("done=card"), CancelURL: h.pageURL(""), RequestKey: key,
	})
	if err != nil {
		h.stripeFailed(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, cs.URL)
}

// portal sends the owner to Stripe's Billing Portal (invoices, cards).
func (h *Handler) portal(c *gin.Context) {
	stripe, sub, key, ok := h.customer(c)
	if !ok {
		return
	}
	url, err := stripe.CreatePortalSession(c, site.CurrentOrg(c).GateContext(), sub.StripeCustomerID, h.pageURL(""), key)
	if err != nil {
		h.stripeFailed(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, url)
}
