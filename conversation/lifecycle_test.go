package conversation

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/convot/convot/workflows"
)

// signalRecorder is the part of Temporal's client the lifecycle senders
// use: it records signal-with-starts, slowly, or fails them all.
type signalRecorder struct {
	client.Client
	delay time.Duration
	fail  bool

	mu   sync.Mutex
	sent []string
}

func (r *signalRecorder) SignalWithStartWorkflow(ctx context.Context, workflowID, signalName string, signalArg any, _ client.StartWorkflowOptions, _ any, _ ...any) (client.WorkflowRun, error) {
	select {
	case <-time.After(r.delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if r.fail {
		return nil, errors.New("temporal unavailable")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, workflowID+" "+signalName+" "+signalArg.(string))
	return nil, nil
}

func (r *signalRecorder) signals() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.sent...)
}

func lifecycleSignal(conv uint64, arg string) LifecycleSignal {
	return LifecycleSignal{Input: workflows.ConversationInput{ConversationID: conv}, Name: workflows.SignalMessage, Arg: arg}
}

// Shutting down delivers every signal queued before it, in order; a signal
// after it is not queued to be lost silently (and does not block).
func TestLifecyclesDrainAtShutdown(t *testing.T) {
	rec := &signalRecorder{delay: 5 * time.Millisecond}
	l := NewTemporalLifecycles(rec)
	want := []string{}
	for i := range 40 {
		arg := string(rune('A' + i%26))
		l.Notify(lifecycleSignal(7, arg))
		want = append(want, workflows.ConversationWorkflowID(7)+" "+workflows.SignalMessage+" "+arg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l.Close(ctx)
	got := rec.signals()
	if len(got) != len(want) {
		t.Fatalf("%d of %d queued signals delivered at shutdown", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("signal %d: %q, want %q (order kept per conversation)", i, got[i], want[i])
		}
	}
	l.Notify(lifecycleSignal(7, "late"))
	if len(rec.signals()) != len(want) {
		t.Fatal("a signal after shutdown was sent")
	}
}

// With Temporal unreachable, shutdown gives up at its deadline instead of
// retrying each queued signal for minutes.
func TestLifecyclesShutdownKeepsItsDeadline(t *testing.T) {
	rec := &signalRecorder{fail: true}
	l := NewTemporalLifecycles(rec)
	for i := range 20 {
		l.Notify(lifecycleSignal(uint64(i), "x"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	done := make(chan struct{})
	go func() { l.Close(ctx); close(done) }()
	select {
	case <-done:
	case <-time.After(lifecycleRetryFor / 4):
		t.Fatal("shutdown did not keep its deadline")
	}
}
