package billing

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/models"
	"github.com/convot/convot/plans"
	"github.com/convot/convot/subprocessors"
)

// choosePlan subscribes to a paid plan or changes to another: with a card
// on file directly, otherwise through Stripe Checkout.
func (h *Handler) choosePlan(c *gin.Context) {
	org := site.CurrentOrg(c)
	plan, ok := models.PlanByID(c.PostForm("plan"))
	if !ok || plan.StripeLookupKey == "" {
		h.pageWithError(c, http.StatusUnprocessableEntity, "Choose one of the paid plans. To return to the free plan, cancel the subscription.")
		return
	}
	stripe := h.requireStripe(c)
	if stripe == nil {
		return
	}
	if err := h.Plans.SeatsForPlan(c, org, plan); err != nil {
		if msg := plans.LimitMessage(err); msg != "" {
			h.pageWithError(c, http.StatusConflict, msg)
			return
		}
		h.Internal(c, err)
		return
	}
	key := requestKey(c)
	sub, err := h.ensureCustomer(c, stripe)
	if err != nil {
		h.stripeFailed(c, err)
		return
	}
	if sub.Paying() && sub.Plan == plan.ID && !sub.CancelAtPeriodEnd {
		h.RedirectWithFlash(c, "/billing", "plan_unchanged")
		return
	}
	price, err := stripe.PriceForLookupKey(c, org.GateContext(), plan.StripeLookupKey)
	if err != nil {
		h.stripeFailed(c, err)
		return
	}
	card, err := h.Store.HasPaymentMethod(c, org.ID)
	if err != nil {
		h.Internal(c, err)
		return
	}
	var updated subprocessors.StripeSubscription
	flash := "subscribed"
	switch {
	case sub.Paying():
		updated, err = stripe.ChangeSubscriptionPrice(c, org.GateContext(), sub.StripeSubscriptionID, price, plan.ID, key)
		flash = "plan_changed"
	case card:
		updated, err = stripe.CreateSubscription(c, org.GateContext(), sub.StripeCustomerID, price, plan.ID, key)
	default:
		cs, err := stripe.CreateCheckoutSession(c, org.GateContext(), subprocessors.CheckoutRequest{
			CustomerID: sub.StripeCustomerID, PriceID: price, PlanID: plan.ID,
			SuccessURL: h.pageURL("done=checkout"), CancelURL: h.pageURL(""), RequestKey: key,
		})
		if err != nil {
			h.stripeFailed(c, err)
			return
		}
		c.Redirect(http.StatusSeeOther, cs.URL)
		return
	}
	if err != nil {
		h.stripeFailed(c, err)
		return
	}
	if updated.PlanID == "" {
		updated.PlanID = plan.ID
	}
	h.Finish(c, h.recordSubscriptionChange(c, sub, updated, "billing.plan_changed", plan.ID), "/billing", flash)
}
