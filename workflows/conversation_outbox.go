package workflows

import (
	"slices"

	"go.temporal.io/sdk/workflow"
)

// Signals come from the lifecycle outbox (models.LifecycleSignal), which
// delivers each at least once: a node that dies after Temporal took a
// signal and before the row was deleted leaves it for another node to send
// again. Each signal carries its outbox row's ID, and a lifecycle ignores
// an ID it has already applied.

// outboxDedupeChange guards the ignoring of a second delivery: histories
// from before the outbox carry no IDs and never reach it, and a history
// recorded before this change replays applying every signal.
const outboxDedupeChange = "lifecycle-outbox-dedupe"

// maxDeliveredOutboxIDs bounds the IDs a lifecycle remembers. A repeated
// delivery comes within one drain batch of the first (at most
// OutboxBatchPerConversation signals of a conversation), far fewer.
const maxDeliveredOutboxIDs = 128

// OutboxBatchPerConversation is the most signals of one conversation a
// drain delivers in one batch.
const OutboxBatchPerConversation = 32

// StateSignal is the argument of the resolve, reopen and pending signals:
// only the outbox row it came from (none when sent directly).
type StateSignal struct {
	OutboxID uint64 `json:",omitempty"`
}

// delivered reports whether the signal from outbox row id was applied
// already (and must be ignored); otherwise it remembers id.
func (c *conversation) delivered(ctx workflow.Context, id uint64) bool {
	if id == 0 {
		return false // not from the outbox
	}
	if workflow.GetVersion(ctx, outboxDedupeChange, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return false
	}
	if slices.Contains(c.state.DeliveredOutboxIDs, id) {
		workflow.GetLogger(ctx).Info("signal delivered twice ignored", "OutboxID", id)
		return true
	}
	c.state.DeliveredOutboxIDs = append(c.state.DeliveredOutboxIDs, id)
	if extra := len(c.state.DeliveredOutboxIDs) - maxDeliveredOutboxIDs; extra > 0 {
		c.state.DeliveredOutboxIDs = append([]uint64(nil), c.state.DeliveredOutboxIDs[extra:]...)
	}
	return false
}

// OutboxBatch is the argument of SignalOutboxBatch: one conversation's
// outbox signals, oldest first.
type OutboxBatch struct {
	Signals []OutboxSignal
}

// OutboxSignal is one signal of a batch: its name and the argument that
// signal takes (the state signals' StateSignal holds only the outbox ID).
type OutboxSignal struct {
	Name    string
	Message *MessageSignal `json:",omitempty"`
	Assign  *AssignSignal  `json:",omitempty"`
	Snooze  *SnoozeSignal  `json:",omitempty"`
	State   *StateSignal   `json:",omitempty"`
}

// applyOutbox applies one signal of a batch as if it had come alone.
func (c *conversation) applyOutbox(ctx workflow.Context, sig OutboxSignal) {
	switch {
	case sig.Name == SignalMessage && sig.Message != nil:
		c.applyMessage(ctx, *sig.Message)
	case sig.Name == SignalAssign && sig.Assign != nil:
		c.applyAssign(ctx, *sig.Assign)
	case sig.Name == SignalSnooze && sig.Snooze != nil:
		c.applySnooze(ctx, *sig.Snooze)
	case sig.Name == SignalResolve && sig.State != nil:
		c.applyState(ctx, *sig.State, ConversationResolved, CauseResolved)
	case sig.Name == SignalReopen && sig.State != nil:
		c.applyState(ctx, *sig.State, ConversationOpen, CauseReopened)
	case sig.Name == SignalPending && sig.State != nil:
		c.applyState(ctx, *sig.State, ConversationPending, CauseMarkedPending)
	default:
		workflow.GetLogger(ctx).Warn("unknown signal in an outbox batch ignored", "Signal", sig.Name)
	}
}

func (c *conversation) applyMessage(ctx workflow.Context, m MessageSignal) {
	c.signals++
	if !c.delivered(ctx, m.OutboxID) {
		c.onMessage(ctx, m)
	}
}

func (c *conversation) applyAssign(ctx workflow.Context, a AssignSignal) {
	c.signals++
	if !c.delivered(ctx, a.OutboxID) {
		c.onAssign(ctx, a)
	}
}

func (c *conversation) applySnooze(ctx workflow.Context, sn SnoozeSignal) {
	c.signals++
	if !c.delivered(ctx, sn.OutboxID) {
		c.onSnooze(ctx, sn)
	}
}

// applyState moves the conversation to status (resolve, reopen, pending)
// unless it is there already.
func (c *conversation) applyState(ctx workflow.Context, sig StateSignal, status, cause string) {
	c.signals++
	if !c.delivered(ctx, sig.OutboxID) && c.state.Status != status {
		c.transition(ctx, status, cause)
	}
}
