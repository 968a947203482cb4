package billing

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/subprocessors"
)

// requireStripe is the configured Stripe client; without one it answers
// 503 and returns nil.
func (h *Handler) requireStripe(c *gin.Context) *subprocessors.Stripe {
	stripe := h.Stripe()
	if stripe == nil {
		h.pageWithError(c, http.StatusServiceUnavailable, "Billing is not configured in this deployment (STRIPE_SECRET_KEY is not set).")
	}
	return stripe
}

// stripeFailed shows the billing page with what a failed Stripe call
// means for the owner.
func (h *Handler) stripeFailed(c *gin.Context, err error) {
	status, msg := stripeErrorMessage(err)
	h.pageWithError(c, status, msg)
}

// stripeErrorMessage turns a failed Stripe call into a status and a
// message an owner can act on.
func stripeErrorMessage(err error) (int, string) {
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

// requestRef is Stripe's request ID, for support to find the call.
func requestRef(se *subprocessors.StripeError) string {
	if se.RequestID == "" {
		return ""
	}
	return " (reference " + se.RequestID + ")"
}

// cardMessage says why a card was declined and what to do next.
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
