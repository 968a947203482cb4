package billing

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/closure"
	"github.com/convot/convot/handlers/site"
)

// closeAccount is an owner closing the organization's account, confirmed
// by their password (package closure: the subscription ends now, the data
// is kept 30 days, read-only, then deleted).
func (h *Handler) closeAccount(c *gin.Context) {
	_, err := h.accounts().Close(c, closure.Closing{
		Owner: site.CurrentAccount(c), Org: site.CurrentOrg(c), Password: c.PostForm("password"),
		IP: c.ClientIP(), UserAgent: site.Truncate(c.Request.UserAgent(), 500),
	})
	switch {
	case err == nil, errors.Is(err, closure.ErrClosedAlready):
		h.RedirectWithFlash(c, "/billing", "closed")
	case errors.Is(err, closure.ErrWrongPassword):
		h.pageWithError(c, http.StatusUnauthorized, "Wrong password: the account was not closed.")
	case errors.Is(err, closure.ErrNoWorkflows):
		h.pageWithError(c, http.StatusServiceUnavailable, "Closing an account needs the workflow service, which is not configured here. Nothing was changed.")
	case errors.Is(err, closure.ErrNoBilling):
		h.pageWithError(c, http.StatusServiceUnavailable, "Billing is not configured here, so the subscription cannot be ended. Nothing was changed.")
	case errors.Is(err, closure.ErrSubscriptionNotEnded):
		status, msg := stripeErrorMessage(err)
		h.pageWithError(c, status, "The subscription could not be ended, so the account was not closed. "+msg)
	case errors.Is(err, closure.ErrWorkflowsUnavailable):
		h.pageWithError(c, http.StatusServiceUnavailable, "The account could not be closed just now: the workflow service did not answer. Nothing was deleted; please try again.")
	default:
		h.Internal(c, err)
	}
}

// reactivate is an owner reactivating a closed account in its grace
// period: the cancellation workflow cancels the deletion and makes the
// organization active again, which the next page shows when it was quick.
func (h *Handler) reactivate(c *gin.Context) {
	// The request's own context: the wait ends when the owner leaves.
	active, err := h.accounts().Reactivate(c.Request.Context(), site.CurrentOrg(c), site.CurrentAccount(c).ID)
	switch {
	case err == nil && active:
		h.RedirectWithFlash(c, "/billing", "reactivated")
	case err == nil:
		h.RedirectWithFlash(c, "/billing", "reactivating")
	case errors.Is(err, closure.ErrNoWorkflows):
		h.pageWithError(c, http.StatusServiceUnavailable, "Reactivation needs the workflow service, which is not configured here.")
	case errors.Is(err, closure.ErrNotCancellable):
		h.pageWithError(c, http.StatusConflict, "This account can no longer be reactivated: its grace period is over.")
	case errors.Is(err, closure.ErrWorkflowsUnavailable):
		h.pageWithError(c, http.StatusServiceUnavailable, "The account could not be reactivated just now: the workflow service did not answer. Please try again.")
	case c.Request.Context().Err() != nil:
		// The owner left while we waited: no one reads an answer.
	default:
		h.Internal(c, err)
	}
}
