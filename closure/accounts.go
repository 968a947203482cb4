package closure

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/subprocessors"
	"github.com/convot/convot/subscriptions"
	"github.com/convot/convot/workflows"
)

// Why an account was not closed or reactivated; the transports say it in
// their own words.
var (
	// ErrClosedAlready: the organization is not active (closed or being
	// deleted); closing it again changes nothing.
	ErrClosedAlready = errors.New("the account is closed already")
	// ErrWrongPassword: the owner's password did not confirm the closing.
	ErrWrongPassword = errors.New("wrong password")
	// ErrNoWorkflows: no workflow service is configured, so no
	// cancellation can be started or reversed.
	ErrNoWorkflows = errors.New("no workflow service is configured")
	// ErrNoBilling: the organization pays, but billing is not configured,
	// so its subscription cannot be ended.
	ErrNoBilling = errors.New("billing is not configured")
	// ErrSubscriptionNotEnded wraps Stripe's refusal to end the
	// subscription: the account stays open.
	ErrSubscriptionNotEnded = errors.New("the subscription could not be ended")
	// ErrWorkflowsUnavailable wraps the workflow service's failure to
	// start or signal a cancellation: nothing was changed.
	ErrWorkflowsUnavailable = errors.New("the workflow service did not answer")
)

// Accounts closes and reactivates organizations' accounts.
type Accounts struct {
	Store *store.Store
	// Cancellations runs the cancellation workflows; nil: ErrNoWorkflows.
	Cancellations Cancellations
	// Stripe ends a paying subscription when its owner closes the account;
	// nil: billing is off.
	Stripe *subprocessors.Stripe
	// Now is the clock of the closing and of its deletion date.
	Now func() time.Time
}

// Closing is an owner's request to close their organization's account.
type Closing struct {
	Owner *models.Account
	Org   *models.Organization
	// Password is what the owner typed to confirm it.
	Password string
	// IP and UserAgent are the request's, for the audit event.
	IP, UserAgent string
}

// Close closes an organization's account: the owner's password confirms
// it; a paying subscription ends at Stripe now; the cancellation workflow
// keeps the data 30 days, read-only, then deletes it. The organization is
// closed, and the event audited, in one transaction once the workflow
// runs. It returns the day of deletion.
func (a *Accounts) Close(ctx context.Context, req Closing) (time.Time, error) {
	owner, org := req.Owner, req.Org
	if org.Status != models.OrgActive {
		return time.Time{}, ErrClosedAlready
	}
	if bcrypt.CompareHashAndPassword([]byte(owner.PasswordHash), []byte(req.Password)) != nil {
		return time.Time{}, ErrWrongPassword
	}
	if a.Cancellations == nil {
		return time.Time{}, ErrNoWorkflows
	}
	sub, err := subscriptions.Of(ctx, a.Store, org.ID)
	if err != nil {
		return time.Time{}, err
	}
	if sub.Paying() {
		if a.Stripe == nil {
			return time.Time{}, ErrNoBilling
		}
		if err := a.Stripe.CancelSubscription(ctx, org.GateContext(), sub.StripeSubscriptionID, "close-account"); err != nil {
			return time.Time{}, fmt.Errorf("%w: %w", ErrSubscriptionNotEnded, err)
		}
	}
	in := workflows.CancellationInput{OrganizationID: org.ID, Reason: workflows.CancellationClosedByOwner, ActorID: owner.ID}
	if err := a.Cancellations.Start(ctx, in); err != nil {
		return time.Time{}, fmt.Errorf("%w: %w", ErrWorkflowsUnavailable, err)
	}
	now := a.Now().UTC()
	deleteAt := now.Add(workflows.CancellationGracePeriod)
	err = a.Store.Tx(ctx, func(tx *store.Store) error {
		if err := tx.CloseOrganization(ctx, org.ID, now); err != nil {
			return err
		}
		return tx.CreateAuditEvent(ctx, &models.AuditEvent{
			OrganizationID: org.ID, ActorID: owner.ID, DataKeyID: owner.DataKeyID, Action: "organization.closed",
			Target: fmt.Sprintf("organization:%d", org.ID),
			Detail: fmt.Sprintf("%s; deletion on %s", workflows.CancellationClosedByOwner, deleteAt.Format(time.DateOnly)),
			IP:     req.IP, UserAgent: req.UserAgent, CreatedAt: a.Now().UTC(),
		})
	})
	return deleteAt, err
}

// reactivationWait is how long Reactivate waits for the workflow to make
// the organization active, so that the owner's next page is writable.
const reactivationWait = 3 * time.Second

// Reactivate asks the organization's cancellation to stop (an owner,
// actorID, in its grace period), and waits a moment for the workflow to
// make the organization active: active is false when it has not yet.
// ErrNotCancellable when the grace period is over.
func (a *Accounts) Reactivate(ctx context.Context, org *models.Organization, actorID uint64) (active bool, err error) {
	if org.Status == models.OrgActive {
		return true, nil
	}
	if a.Cancellations == nil {
		return false, ErrNoWorkflows
	}
	switch err := a.Cancellations.Reactivate(ctx, org.ID, actorID); {
	case errors.Is(err, ErrNotCancellable):
		return false, err
	case err != nil:
		return false, fmt.Errorf("%w: %w", ErrWorkflowsUnavailable, err)
	}
	deadline := time.Now().Add(reactivationWait)
	for time.Now().Before(deadline) {
		// A row gone (deleted meanwhile) is not active: keep waiting.
		status, err := a.Store.OrganizationStatus(ctx, org.ID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return false, err
		}
		if status == models.OrgActive {
			return true, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return false, nil
}

// CancelForBilling starts the cancellation of an account whose billing
// ended (reason: workflows.CancellationSubscriptionEnded or
// CancellationUnpaid). Starting twice joins the running one.
func (a *Accounts) CancelForBilling(ctx context.Context, orgID uint64, reason string) error {
	if a.Cancellations == nil {
		return errors.New("no workflow service to start the cancellation with")
	}
	if err := a.Cancellations.Start(ctx, workflows.CancellationInput{OrganizationID: orgID, Reason: reason}); err != nil {
		return fmt.Errorf("start cancellation: %w", err)
	}
	return nil
}

// ReactivateOnPayment reactivates an account that Stripe's billing closed
// (the subscription went unpaid, or ended) once its subscription bills
// again, for instance when the owner paid the open invoice in the grace
// period. An account its owner closed stays closed until an owner
// reactivates it; one past its grace period cannot be.
func (a *Accounts) ReactivateOnPayment(ctx context.Context, orgID uint64) error {
	if a.Cancellations == nil {
		return errors.New("no workflow service to reactivate with")
	}
	st, err := a.Cancellations.Status(ctx, orgID)
	switch {
	case errors.Is(err, ErrNoCancellation):
		return nil
	case err != nil:
		return fmt.Errorf("cancellation status: %w", err)
	case st.Reason == workflows.CancellationClosedByOwner || st.Status != workflows.CancellationGrace:
		return nil
	}
	// The actor is Stripe's payment (0), not a person.
	if err := a.Cancellations.Reactivate(ctx, orgID, 0); err != nil && !errors.Is(err, ErrNotCancellable) {
		return fmt.Errorf("reactivate: %w", err)
	}
	return nil
}
