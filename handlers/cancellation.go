package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"golang.org/x/crypto/bcrypt"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// Cancellations starts, reactivates and reads the account cancellation
// workflows (policy §8: 30 days, then deletion). Temporal in every
// deployment; tests may stand in for it.
type Cancellations interface {
	// Start starts the organization's cancellation, or joins the one that
	// runs.
	Start(ctx context.Context, in workflows.CancellationInput) error
	// Reactivate asks the running cancellation to stop; ErrNotCancellable
	// when none is in its grace period.
	Reactivate(ctx context.Context, orgID, actorID uint64) error
	// Status reads the cancellation; ErrNoCancellation when none runs.
	Status(ctx context.Context, orgID uint64) (workflows.CancellationState, error)
}

var (
	// ErrNoCancellation: the organization has no cancellation running.
	ErrNoCancellation = errors.New("no cancellation running")
	// ErrNotCancellable: the cancellation is past its grace period.
	ErrNotCancellable = errors.New("the cancellation can no longer be reversed")
)

// TemporalCancellations runs the cancellation workflows on Temporal.
type TemporalCancellations struct {
	Client client.Client
	Now    func() time.Time
}

// Start implements Cancellations.
func (t TemporalCancellations) Start(ctx context.Context, in workflows.CancellationInput) error {
	now := time.Now
	if t.Now != nil {
		now = t.Now
	}
	_, err := t.Client.ExecuteWorkflow(ctx, workflows.CancellationStartOptions(in, now()), workflows.CancellationWorkflowType, in)
	return err
}

// Status implements Cancellations.
func (t TemporalCancellations) Status(ctx context.Context, orgID uint64) (workflows.CancellationState, error) {
	var st workflows.CancellationState
	// A query needs a worker; without one it would wait: a page does not.
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	v, err := t.Client.QueryWorkflow(ctx, workflows.CancellationWorkflowID(orgID), "", workflows.QueryStatus)
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return st, ErrNoCancellation
	}
	if err != nil {
		return st, err
	}
	err = v.Get(&st)
	return st, err
}

// Reactivate implements Cancellations.
func (t TemporalCancellations) Reactivate(ctx context.Context, orgID, actorID uint64) error {
	st, err := t.Status(ctx, orgID)
	if errors.Is(err, ErrNoCancellation) {
		return ErrNotCancellable
	}
	if err != nil {
		return err
	}
	if st.Status != workflows.CancellationGrace {
		return ErrNotCancellable
	}
	err = t.Client.SignalWorkflow(ctx, workflows.CancellationWorkflowID(orgID), "", workflows.SignalReactivate, workflows.ReactivateSignal{ActorID: actorID})
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return ErrNotCancellable
	}
	return err
}

// cancellations is the configured Cancellations, or nil.
func (s *Server) cancellations() Cancellations {
	if s.Cancellations != nil {
		return s.Cancellations
	}
	if s.Temporal != nil {
		return TemporalCancellations{Client: s.Temporal, Now: s.now}
	}
	return nil
}

// closeAccount is an owner closing the organization's account: the password
// confirms it; the Stripe subscription ends now; the cancellation workflow
// keeps the data 30 days, read-only, then deletes it.
func (s *Server) closeAccount(c *gin.Context) {
	a, org := site.CurrentAccount(c), site.CurrentOrg(c)
	if org.Status != models.OrgActive {
		s.RedirectWithFlash(c, "/billing", "closed")
		return
	}
	if bcrypt.CompareHashAndPassword([]byte(a.PasswordHash), []byte(c.PostForm("password"))) != nil {
		s.billingPageWithError(c, http.StatusUnauthorized, "Wrong password: the account was not closed.")
		return
	}
	cancellations := s.cancellations()
	if cancellations == nil {
		s.billingPageWithError(c, http.StatusServiceUnavailable, "Closing an account needs the workflow service, which is not configured here. Nothing was changed.")
		return
	}
	sub, err := s.subscriptionOf(c, org.ID)
	if err != nil {
		s.Internal(c, err)
		return
	}
	if sub.Paying() {
		if s.Stripe == nil {
			s.billingPageWithError(c, http.StatusServiceUnavailable, "Billing is not configured here, so the subscription cannot be ended. Nothing was changed.")
			return
		}
		if err := s.Stripe.CancelSubscription(c, org.GateContext(), sub.StripeSubscriptionID, "close-account"); err != nil {
			status, msg := billingErrorMessage(err)
			s.billingPageWithError(c, status, "The subscription could not be ended, so the account was not closed. "+msg)
			return
		}
	}
	in := workflows.CancellationInput{OrganizationID: org.ID, Reason: workflows.CancellationClosedByOwner, ActorID: a.ID}
	if err := cancellations.Start(c, in); err != nil {
		s.billingPageWithError(c, http.StatusServiceUnavailable, "The account could not be closed just now: the workflow service did not answer. Nothing was deleted; please try again.")
		return
	}
	deleteAt := s.now().Add(workflows.CancellationGracePeriod).UTC()
	err = s.Store.Tx(c, func(tx *store.Store) error {
		if err := tx.CloseOrganization(c, org.ID, s.now().UTC()); err != nil {
			return err
		}
		return s.Audit(tx, c, org.ID, a.ID, a.DataKeyID, "organization.closed", site.Target("organization", org.ID),
			fmt.Sprintf("%s; deletion on %s", workflows.CancellationClosedByOwner, deleteAt.Format(time.DateOnly)))
	})
	if err != nil {
		s.Internal(c, err)
		return
	}
	s.RedirectWithFlash(c, "/billing", "closed")
}

// reactivate signals the cancellation workflow, which cancels the deletion
// and makes the organization active again.
func (s *Server) reactivate(c *gin.Context) {
	a, org := site.CurrentAccount(c), site.CurrentOrg(c)
	if org.Status == models.OrgActive {
		s.RedirectWithFlash(c, "/billing", "reactivated")
		return
	}
	cancellations := s.cancellations()
	if cancellations == nil {
		s.billingPageWithError(c, http.StatusServiceUnavailable, "Reactivation needs the workflow service, which is not configured here.")
		return
	}
	switch err := cancellations.Reactivate(c, org.ID, a.ID); {
	case errors.Is(err, ErrNotCancellable):
		s.billingPageWithError(c, http.StatusConflict, "This account can no longer be reactivated: its grace period is over.")
		return
	case err != nil:
		s.billingPageWithError(c, http.StatusServiceUnavailable, "The account could not be reactivated just now: the workflow service did not answer. Please try again.")
		return
	}
	// The workflow makes the organization active; wait a moment for it so
	// the next page is writable.
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		// A row gone (deleted meanwhile) is not active: keep waiting.
		status, err := s.Store.OrganizationStatus(c, org.ID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			s.Internal(c, err)
			return
		}
		if status == models.OrgActive {
			s.RedirectWithFlash(c, "/billing", "reactivated")
			return
		}
		select {
		case <-c.Request.Context().Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	s.RedirectWithFlash(c, "/billing", "reactivating")
}
