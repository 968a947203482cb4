// Package closure closes and reactivates Customers' accounts (policy §8):
// an owner closing theirs, or Stripe's billing ending it (the subscription
// ended or went unpaid), starts a cancellation workflow that keeps the
// organization's data 30 days, read-only, then deletes it; until then an
// owner, or a payment for an account billing closed, reactivates it. The
// workflow itself is in package workflows; this package starts, signals
// and reads it, and keeps the organization's row and audit trail in step.
package closure

import (
	"context"
	"errors"

	"github.com/convot/convot/workflows"
)

// Cancellations starts, reactivates and reads the account cancellation
// workflows. Temporal in every deployment; tests may stand in for it.
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
