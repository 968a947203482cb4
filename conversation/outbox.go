package conversation

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/subprocessors"
	"github.com/convot/convot/workflows"
)

// The lifecycle outbox: with Service.LifecycleOutbox set, a change that
// concerns a conversation's lifecycle workflow writes its signal to the
// lifecycle_outbox table in the change's own transaction (recordLifecycle),
// and an OutboxDrainer on every node delivers it to Temporal and deletes
// it. A node killed after the commit loses no signal; a signal delivered
// twice is ignored by the workflow (workflows/conversation_outbox.go).

// recordLifecycle writes the signal of a change to the outbox inside its
// transaction tx, after the change updated the conversation's row. It does
// nothing without the outbox (notifyLifecycle signals after the commit).
func (s *Service) recordLifecycle(ctx context.Context, tx *store.Store, org *models.Organization, conv *models.Conversation, signal string, arg any) error {
	if !s.LifecycleOutbox {
		return nil
	}
	b, err := json.Marshal(arg)
	if err != nil {
		return err
	}
	return tx.EnqueueLifecycleSignal(ctx, org.ID, &models.LifecycleSignal{
		ConversationID: conv.ID, InactivityHours: int64(inactivityHours(org)),
		Signal: signal, Arg: string(b), CreatedAt: s.Now().UTC(),
	})
}

// Signaller is the part of the Temporal client the drain uses.
type Signaller interface {
	SignalWithStartWorkflow(ctx context.Context, workflowID, signalName string, signalArg any,
		options client.StartWorkflowOptions, workflow any, workflowArgs ...any) (client.WorkflowRun, error)
}

// OutboxDrainer delivers the lifecycle outbox to Temporal. Every node runs
// one; the store lets each conversation be drained by one node at a time,
// in order.
type OutboxDrainer struct {
	Store    *store.Store
	Temporal Signaller
	// Idle is the pause after a drain found nothing.
	Idle time.Duration
	// Conversations is how many conversations one drain claims, delivered
	// side by side.
	Conversations int

	mu     sync.Mutex
	maxLag time.Duration // since the last TakeMaxLag
}

// Run drains until ctx ends.
func (d *OutboxDrainer) Run(ctx context.Context) {
	idle := d.Idle
	if idle <= 0 {
		idle = 100 * time.Millisecond
	}
	failures := 0
	for ctx.Err() == nil {
		n, err := d.Drain(ctx)
		if err != nil && ctx.Err() == nil {
			failures++
			if failures == 1 || failures%100 == 0 {
				slog.Error("lifecycle outbox not drained", "err", err, "failures", failures)
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

// Drain delivers one batch and returns how many signals it claimed. A
// batch begun is finished even if ctx ends (a shutdown): what Temporal
// took is deleted, not left to be delivered twice.
func (d *OutboxDrainer) Drain(ctx context.Context) (int, error) {
	ctx = context.WithoutCancel(ctx)
	convs := d.Conversations
	if convs <= 0 {
		// Delivery waits on Temporal's round trips, not on this node's
		// CPU: at 1,000 messages/s over 600 conversations, 256 side by
		// side emptied the outbox 14.6 s after the last send, 64 in 21.6 s.
		convs = 256
	}
	return d.Store.DrainLifecycleSignals(ctx, convs, workflows.OutboxBatchPerConversation, func(rows []models.LifecycleSignal) []uint64 {
		byConv := map[uint64][]models.LifecycleSignal{}
		var order []uint64
		for _, r := range rows {
			if _, ok := byConv[r.ConversationID]; !ok {
				order = append(order, r.ConversationID)
			}
			byConv[r.ConversationID] = append(byConv[r.ConversationID], r)
		}
		var mu sync.Mutex
		var done []uint64
		var wg sync.WaitGroup
		for _, id := range order {
			wg.Go(func() {
				rows := byConv[id]
				if err := d.deliver(ctx, rows); err != nil {
					slog.Warn("lifecycle signals not delivered; retried by the next drain", "conversation", id, "signals", len(rows), "err", err)
					subprocessors.CaptureWorkerError(ctx, err, workflows.ConversationWorkflowType)
					return
				}
				mu.Lock()
				for _, r := range rows {
					done = append(done, r.ID)
				}
				mu.Unlock()
				d.noteLag(time.Since(rows[0].CreatedAt))
			})
		}
		wg.Wait()
		return done
	})
}

// deliver sends one conversation's signals (oldest first) in one
// OutboxBatch signal, starting its workflow if needed: one round trip to
// Temporal for the batch instead of one a row.
func (d *OutboxDrainer) deliver(ctx context.Context, rows []models.LifecycleSignal) error {
	batch := workflows.OutboxBatch{Signals: make([]workflows.OutboxSignal, 0, len(rows))}
	for _, r := range rows {
		sig, err := outboxSignal(r)
		if err != nil {
			return err
		}
		batch.Signals = append(batch.Signals, sig)
	}
	r := rows[len(rows)-1] // the newest row's settings start the workflow
	in := workflows.ConversationInput{
		ConversationID: r.ConversationID, OrganizationID: r.OrganizationID,
		InactivityPeriod: time.Duration(r.InactivityHours) * time.Hour,
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := d.Temporal.SignalWithStartWorkflow(ctx, workflows.ConversationWorkflowID(r.ConversationID),
		workflows.SignalOutboxBatch, batch, workflows.ConversationStartOptions(in), workflows.ConversationWorkflowType, in)
	return err
}

// outboxSignal is a row as the signal of a batch, with its outbox ID.
func outboxSignal(r models.LifecycleSignal) (workflows.OutboxSignal, error) {
	sig := workflows.OutboxSignal{Name: r.Signal}
	var err error
	switch r.Signal {
	case workflows.SignalMessage:
		sig.Message = &workflows.MessageSignal{}
		err = json.Unmarshal([]byte(r.Arg), sig.Message)
		sig.Message.OutboxID = r.ID
	case workflows.SignalAssign:
		sig.Assign = &workflows.AssignSignal{}
		err = json.Unmarshal([]byte(r.Arg), sig.Assign)
		sig.Assign.OutboxID = r.ID
	case workflows.SignalSnooze:
		sig.Snooze = &workflows.SnoozeSignal{}
		err = json.Unmarshal([]byte(r.Arg), sig.Snooze)
		sig.Snooze.OutboxID = r.ID
	case workflows.SignalResolve, workflows.SignalReopen, workflows.SignalPending:
		sig.State = &workflows.StateSignal{OutboxID: r.ID}
	default:
		err = fmt.Errorf("lifecycle outbox: unknown signal %q", r.Signal)
	}
	return sig, err
}

func (d *OutboxDrainer) noteLag(lag time.Duration) {
	d.mu.Lock()
	d.maxLag = max(d.maxLag, lag)
	d.mu.Unlock()
}

// TakeMaxLag returns the longest time a delivered signal waited in the
// outbox since the last call, and starts over.
func (d *OutboxDrainer) TakeMaxLag() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	lag := d.maxLag
	d.maxLag = 0
	return lag
}
