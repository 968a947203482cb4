package store

import (
	"errors"
	"testing"

	"github.com/convot/convot/models"
)

// Cross-tenant case of the lifecycle outbox: a signal is written only for
// the organization's own conversation.
func init() {
	isolationCases = append(isolationCases,
		isolationCase{"EnqueueLifecycleSignal", func(t *testing.T, f *fixture) {
			sig := &models.LifecycleSignal{ConversationID: f.A.Conversation.ID, InactivityHours: 24, Signal: "resolve", Arg: "null", CreatedAt: f.now}
			if err := f.store.EnqueueLifecycleSignal(f.ctx, f.B.Org.ID, sig); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B signalled A's conversation: %v", err)
			}
			if n, err := f.store.PendingLifecycleSignals(f.ctx); err != nil || n != 0 {
				t.Fatalf("%d signals written (%v)", n, err)
			}
			must(t, f.store.EnqueueLifecycleSignal(f.ctx, f.A.Org.ID, sig))
			if n, _ := f.store.PendingLifecycleSignals(f.ctx); n != 1 {
				t.Fatalf("A's own signal: %d written", n)
			}
		}},
	)
}
