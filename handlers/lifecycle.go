package handlers

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
}

const (
	lifecycleShards     = 8
	lifecycleQueueDepth = 4096
	lifecycleRetryFor   = 2 * time.Minute
)

// NewTemporalLifecycles starts the senders; Close drains them.
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
func (l *TemporalLifecycles) Notify(sig LifecycleSignal) {
	select {
	case l.shards[sig.Input.ConversationID%lifecycleShards] <- sig:
	case <-l.ctx.Done():
	}
}

func (l *TemporalLifecycles) send(ch chan LifecycleSignal) {
	defer l.wg.Done()
	for {
		select {
		case sig := <-ch:
			l.deliver(sig)
		case <-l.ctx.Done():
			// Drain what is queued, briefly, before stopping.
			deadline := time.After(5 * time.Second)
			for {
				select {
				case sig := <-ch:
					l.deliver(sig)
				case <-deadline:
					return
				default:
					return
				}
			}
		}
	}
}

func (l *TemporalLifecycles) deliver(sig LifecycleSignal) {
	backoff := 100 * time.Millisecond
	giveUp := time.Now().Add(lifecycleRetryFor)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := l.client.SignalWithStartWorkflow(ctx, workflows.ConversationWorkflowID(sig.Input.ConversationID),
			sig.Name, sig.Arg, workflows.ConversationStartOptions(sig.Input), workflows.ConversationWorkflowType, sig.Input)
		cancel()
		if err == nil {
			return
		}
		if time.Now().Add(backoff).After(giveUp) {
			// Only IDs are logged; the conversation row keeps its state.
			slog.Error("conversation lifecycle not signalled", "conversation", sig.Input.ConversationID, "signal", sig.Name, "err", err)
			subprocessors.CaptureWorkerError(context.Background(), err, workflows.ConversationWorkflowType)
			return
		}
		time.Sleep(backoff)
		backoff = min(backoff*2, 5*time.Second)
	}
}

// Close stops accepting signals and delivers what is queued.
func (l *TemporalLifecycles) Close() {
	l.stop()
	l.wg.Wait()
}
