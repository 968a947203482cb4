package closure

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/convot/convot/workflows"
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
