package conversation

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/convot/convot/subprocessors"
	"github.com/convot/convot/workflows"
)

// LifecycleSignal is one thing a conversation's lifecycle workflow must
// hear: a message, an assignment, a snooze, a resolve or a reopen.
type LifecycleSignal struct {
	Input workflows.ConversationInput // starts the workflow if it is not running
	Name  string                      // workflows.SignalMessage, ...
	Arg   any
}

// Lifecycles delivers signals to conversation lifecycle workflows. Temporal
// in every deployment; tests record what would be sent.
type Lifecycles interface {
	Notify(LifecycleSignal)
}

// TemporalLifecycles signals conversation workflows off the request path:
// a message is acknowledged once committed, not once Temporal has heard of
// it. Signals of one conversation keep their order (one queue per shard,
// chosen by conversation ID); a failed signal is retried with backoff.
type TemporalLifecycles struct {
	client client.Client
	shards []chan LifecycleSignal
	wg     sync.WaitGroup
	stop   context.CancelFunc
	ctx    context.Context
	// drainUntil is when Close gives up on queued signals; written before
	// stop, read by the senders after it.
	drainUntil time.Time
}

const (
	lifecycleShards     = 8
	lifecycleQueueDepth = 4096
	lifecycleRetryFor   = 2 * time.Minute
)

// NewTemporalLifecycles starts the senders; Close drains them. The server
// builds one when it is given a Temporal client and no Lifecycles.
func NewTemporalLifecycles(c client.Client) *TemporalLifecycles {
	ctx, stop := context.WithCancel(context.Background())
	l := &TemporalLifecycles{client: c, ctx: ctx, stop: stop}
	for range lifecycleShards {
		ch := make(chan LifecycleSignal, lifecycleQueueDepth)
		l.shards = append(l.shards, ch)
		l.wg.Add(1)
		go l.send(ch)
	}
	return l
}

// Notify queues a signal. When the queue is full the caller waits: the
// conversation is committed either way, but its timers need the signal.
// After Close nothing is queued: the server has stopped taking requests.
func (l *TemporalLifecycles) Notify(sig LifecycleSignal) {
	if l.ctx.Err() != nil {
		slog.Error("conversation lifecycle not signalled: shutting down", "conversation", sig.Input.ConversationID, "signal", sig.Name)
		return
	}
	select {
	case l.shards[sig.Input.ConversationID%lifecycleShards] <- sig:
	case <-l.ctx.Done():
		slog.Error("conversation lifecycle not signalled: shutting down", "conversation", sig.Input.ConversationID, "signal", sig.Name)
	}
}

func (l *TemporalLifecycles) send(ch chan LifecycleSignal) {
	defer l.wg.Done()
	for {
		select {
		case sig := <-ch:
			l.deliver(sig, time.Now().Add(lifecycleRetryFor))
		case <-l.ctx.Done():
			// Deliver what is queued, retrying no later than the drain's
			// deadline, before stopping.
			for {
				select {
				case sig := <-ch:
					l.deliver(sig, l.drainUntil)
				default:
					return
				}
			}
		}
	}
}

// deliver signals, retrying with backoff until giveUp, or once shutting
// down until the drain's deadline.
func (l *TemporalLifecycles) deliver(sig LifecycleSignal, giveUp time.Time) {
	backoff := 100 * time.Millisecond
	limit := func() time.Time {
		if l.ctx.Err() != nil && l.drainUntil.Before(giveUp) {
			return l.drainUntil
		}
		return giveUp
	}
	for {
		attempt := time.Now().Add(10 * time.Second)
		if end := limit(); end.Before(attempt) {
			attempt = end
		}
		ctx, cancel := context.WithDeadline(context.Background(), attempt)
		_, err := l.client.SignalWithStartWorkflow(ctx, workflows.ConversationWorkflowID(sig.Input.ConversationID),
			sig.Name, sig.Arg, workflows.ConversationStartOptions(sig.Input), workflows.ConversationWorkflowType, sig.Input)
		cancel()
		if err == nil {
			return
		}
		if time.Now().Add(backoff).After(limit()) {
			// Only IDs are logged; the conversation row keeps its state.
			slog.Error("conversation lifecycle not signalled", "conversation", sig.Input.ConversationID, "signal", sig.Name, "err", err)
			subprocessors.CaptureWorkerError(context.Background(), err, workflows.ConversationWorkflowType)
			return
		}
		time.Sleep(backoff)
		backoff = min(backoff*2, 5*time.Second)
	}
}

// Close stops accepting signals and delivers what is queued, trying until
// ctx ends (a shutdown's deadline). Call it once the HTTP server has
// stopped taking requests.
func (l *TemporalLifecycles) Close(ctx context.Context) {
	l.drainUntil = time.Now().Add(lifecycleRetryFor)
	if d, ok := ctx.Deadline(); ok {
		l.drainUntil = d
	}
	l.stop()
	l.wg.Wait()
}
