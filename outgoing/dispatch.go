package outgoing

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// Starter is the part of the Temporal client the dispatcher uses.
type Starter interface {
	ExecuteWorkflow(ctx context.Context, options client.StartWorkflowOptions, workflow any, args ...any) (client.WorkflowRun, error)
}

// Dispatcher starts a WebhookDelivery workflow for each delivery in the
// outbox (webhook_deliveries not started), oldest first: the events were
// written with the changes they announce, so the request that made them
// never waits on an endpoint, and a node killed after the commit loses
// none. Every web node runs one; the store hands a row to one node.
type Dispatcher struct {
	Store    *store.Store
	Temporal Starter
	// RetryWaits is the schedule given to each workflow (RetryWaits when
	// nil; tests shorten it).
	RetryWaits []time.Duration
	// Idle is the pause after a drain found nothing.
	Idle time.Duration
}

// Run drains until ctx ends.
func (d *Dispatcher) Run(ctx context.Context) {
	idle := d.Idle
	if idle <= 0 {
		idle = 500 * time.Millisecond
	}
	failures := 0
	for ctx.Err() == nil {
		n, err := d.Drain(ctx)
		if err != nil && ctx.Err() == nil {
			failures++
			if failures == 1 || failures%100 == 0 {
				slog.Error("webhook outbox not drained", "err", err, "failures", failures)
			}
		} else {
			failures = 0
		}
		if n > 0 && err == nil {
			continue
		}
		select {
		case <-ctx.Done():
		case <-time.After(idle):
		}
	}
}

// Drain starts the workflows of one batch and returns how many rows it
// claimed. A batch begun is finished even if ctx ends.
func (d *Dispatcher) Drain(ctx context.Context) (int, error) {
	ctx = context.WithoutCancel(ctx)
	waits := d.RetryWaits
	if waits == nil {
		waits = RetryWaits
	}
	return d.Store.ClaimWebhookDeliveries(ctx, 100, func(rows []models.WebhookDelivery) []uint64 {
		var done []uint64
		for _, r := range rows {
			in := workflows.WebhookDeliveryInput{DeliveryID: r.ID, OrganizationID: r.OrganizationID, EndpointID: r.EndpointID, RetryWaits: waits}
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_, err := d.Temporal.ExecuteWorkflow(sctx, workflows.WebhookDeliveryStartOptions(in, r.Attempts), workflows.WebhookDeliveryWorkflowType, in)
			cancel()
			var started *serviceerror.WorkflowExecutionAlreadyStarted
			if err != nil && !asAlreadyStarted(err, &started) {
				slog.Warn("webhook delivery not started; retried by the next drain", "delivery", r.ID, "err", err)
				continue
			}
			done = append(done, r.ID)
		}
		return done
	})
}

func asAlreadyStarted(err error, target **serviceerror.WorkflowExecutionAlreadyStarted) bool {
	return errors.As(err, target)
}
