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
	// Conversations is how many conversations one drain claims; Parallel
	// how many of their deliveries run side by side.
	Conversations, Parallel int
	// Defer is how long a signal that may wait (models.LifecycleSignal) may
	// wait for its conversation's next delivery. Zero: DefaultDefer;
	// negative: none waits.
	Defer time.Duration
	// Linger is how long a conversation delivered by this node waits
	// before its next delivery: the signals of a busy conversation
	// gather into one batch instead of one round trip each, while the
	// first signal after a quiet spell (what an automated answer waits
	// for) goes at once. Zero: DefaultLinger; negative: no wait.
	Linger time.Duration

	mu      sync.Mutex
	calls   int64                // DrainStats, since the last TakeStats
	sent    int64                //
	maxLag  time.Duration        //
	lastDue map[uint64]time.Time // conversation → when it may be delivered again
}

// DefaultLinger bounds a busy conversation to one lifecycle delivery per
// node every two seconds. The lifecycle's timers count in minutes and
// hours, so this delays nothing they decide; it is what an automated
// answer to a second message within two seconds may wait for.
const DefaultLinger = 2 * time.Second

// DefaultDefer is how late the lifecycle may hear of a contact's
// message that only moves its inactivity deadline. Deadlines are an hour
// or more away, so it moves none by more than this; meanwhile the
// message costs Temporal nothing, and a busy conversation's messages go
// in one delivery.
const DefaultDefer = 30 * time.Second

// DefaultParallel bounds the deliveries one node has in flight. More
// only queue inside Temporal: with 256 at once per node, a Temporal dev
// server took 10 s a call and the deliveries timed out, delivering
// nothing while the outbox grew.
const DefaultParallel = 16

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
	parallel := d.Parallel
	if parallel <= 0 {
		parallel = DefaultParallel
	}
	deferFor := d.Defer
	if deferFor == 0 {
		deferFor = DefaultDefer
	}
	deferredBefore := time.Now().Add(-max(deferFor, 0))
	return d.Store.DrainLifecycleSignals(ctx, convs, workflows.OutboxBatchPerConversation, d.lingering(), deferredBefore, func(rows []models.LifecycleSignal) []uint64 {
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
		slots := make(chan struct{}, parallel)
		for _, id := range order {
			slots <- struct{}{}
			wg.Go(func() {
				defer func() { <-slots }()
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
				d.delivered(id, len(rows), time.Since(rows[0].CreatedAt))
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

// delivered notes a conversation's delivery: the longest wait, and when
// it may be delivered again.
func (d *OutboxDrainer) delivered(convID uint64, signals int, lag time.Duration) {
	linger := d.Linger
	if linger == 0 {
		linger = DefaultLinger
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.maxLag = max(d.maxLag, lag)
	d.calls++
	d.sent += int64(signals)
	if linger > 0 {
		if d.lastDue == nil {
			d.lastDue = map[uint64]time.Time{}
		}
		d.lastDue[convID] = time.Now().Add(linger)
	}
}

// lingering lists the conversations this node delivered too recently to
// deliver again, and forgets those whose wait is over.
func (d *OutboxDrainer) lingering() []uint64 {
	now := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	var ids []uint64
	for id, due := range d.lastDue {
		if now.Before(due) {
			ids = append(ids, id)
		} else {
			delete(d.lastDue, id)
		}
	}
	return ids
}

// DrainStats is what a drainer delivered since the last TakeStats.
type DrainStats struct {
	Deliveries int64         // round trips to Temporal that succeeded
	Signals    int64         // the signals they carried
	MaxLag     time.Duration // the longest a delivered signal waited
}

// TakeStats returns what was delivered since the last call, and starts
// over.
func (d *OutboxDrainer) TakeStats() DrainStats {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := DrainStats{Deliveries: d.calls, Signals: d.sent, MaxLag: d.maxLag}
	d.calls, d.sent, d.maxLag = 0, 0, 0
	return st
}
