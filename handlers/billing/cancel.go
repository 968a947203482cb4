package billing

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
)

// cancelAtPeriodEnd ends the subscription with its paid period; when it
// ends, Stripe's customer.subscription.deleted starts the account's
// cancellation.
func (h *Handler) cancelAtPeriodEnd(c *gin.Context) { h.setCancelAtPeriodEnd(c, true) }

// resume takes back a cancellation at the end of the period.
func (h *Handler) resume(c *gin.Context) { h.setCancelAtPeriodEnd(c, false) }

func (h *Handler) setCancelAtPeriodEnd(c *gin.Context, cancel bool) {
	stripe, sub, ok := h.subscription(c)
	if !ok {
		return
	}
	org := site.CurrentOrg(c)
	if !sub.Paying() {
		h.pageWithError(c, http.StatusConflict, "There is no paid subscription to change.")
		return
	}
	updated, err := stripe.SetCancelAtPeriodEnd(c, org.GateContext(), sub.StripeSubscriptionID, cancel, requestKey(c))
	if err != nil {
		h.stripeFailed(c, err)
		return
	}
	action, flash := "billing.cancel_scheduled", "cancel_scheduled"
	if !cancel {
		action, flash = "billing.resumed", "resumed"
	}
	h.Finish(c, h.recordSubscriptionChange(c, sub, updated, action, ""), "/billing", flash)
}
