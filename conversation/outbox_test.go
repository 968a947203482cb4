package conversation

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/convot/convot/internal/testdb"
	"github.com/convot/convot/internal/testenv"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// fakeTemporal records the signals it takes, per workflow (each signal of
// a batch as if it had come alone), and refuses every call while down is
// set.
type fakeTemporal struct {
	mu   sync.Mutex
	got  map[string][]any
	down bool
}

func (f *fakeTemporal) SignalWithStartWorkflow(_ context.Context, workflowID, _ string, arg any, _ client.StartWorkflowOptions, _ any, _ ...any) (client.WorkflowRun, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errors.New("temporal unavailable")
	}
	if f.got == nil {
		f.got = map[string][]any{}
	}
	for _, sig := range arg.(workflows.OutboxBatch).Signals {
		var one any
		switch {
		case sig.Message != nil:
			one = *sig.Message
		case sig.Assign != nil:
			one = *sig.Assign
		case sig.Snooze != nil:
			one = *sig.Snooze
		case sig.State != nil:
			one = *sig.State
		}
		f.got[workflowID] = append(f.got[workflowID], one)
	}
	return nil, nil
}

func (f *fakeTemporal) signals(convID uint64) []any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]any(nil), f.got[workflows.ConversationWorkflowID(convID)]...)
}

func outboxService(t testing.TB) (*Service, *models.Organization, func() *models.Conversation, *testdb.DB) {
	t.Helper()
	db := testdb.New(t)
	org := &models.Organization{CompanyName: "Outbox", Status: models.OrgActive, PublicKey: "pk_outbox_" + fmt.Sprint(time.Now().UnixNano()), InactivityHours: 3}
	if err := db.Create(org).Error; err != nil {
		t.Fatal(err)
	}
	key, err := db.Keys.NewKey(db.DB, "contact")
	if err != nil {
		t.Fatal(err)
	}
	s := &Service{Store: store.New(db.DB, db.Keys), Keys: db.Keys, LifecycleOutbox: true, Now: time.Now}
	newConv := func() *models.Conversation {
		now := time.Now().UTC()
		conv := &models.Conversation{OrganizationID: org.ID, ContactID: 1, DataKeyID: key, Channel: "widget", Status: models.ConversationOpen, LastMessageAt: now, CreatedAt: now}
		if err := db.Create(conv).Error; err != nil {
			t.Fatal(err)
		}
		return conv
	}
	return s, org, newConv, db
}

// outboxConversations is outboxService with n conversations made.
func outboxConversations(t testing.TB, n int) (*Service, *models.Organization, []*models.Conversation, *testdb.DB) {
	t.Helper()
	s, org, newConv, db := outboxService(t)
	convs := make([]*models.Conversation, n)
	for i := range convs {
		convs[i] = newConv()
	}
	return s, org, convs, db
}

func outboxRows(t *testing.T, db *testdb.DB) int64 {
	t.Helper()
	var n int64
	if err := db.Model(&models.LifecycleSignal{}).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// A message and a status change write their signals with them; a drain
// delivers them in order with their outbox IDs and empties the outbox. A
// drain that fails keeps them for the next one (at least once), and a node
// that dies after the commit (here: no drain ever ran in its service)
// leaves them for any other node.
func TestLifecycleOutboxDeliversWhatWasCommitted(t *testing.T) {
	testenv.Require(t, "DATABASE_URL")
	ctx := context.Background()
	s, org, newConv, db := outboxService(t)
	conv := newConv()
	msg, _, err := s.Post(ctx, org, conv, Author{Kind: workflows.AuthorContact, ID: 1}, "hello", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Post(ctx, org, conv, Author{Kind: workflows.AuthorOperator, ID: 2}, "a private note", true, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.SetState(ctx, org, conv, workflows.SignalResolve, nil); err != nil {
		t.Fatal(err)
	}
	if n := outboxRows(t, db); n != 2 {
		t.Fatalf("%d signals in the outbox, want 2 (a note signals nothing)", n)
	}

	// Another node's drain, with Temporal down, then up.
	temporal := &fakeTemporal{down: true}
	d := &OutboxDrainer{Store: s.Store, Temporal: temporal}
	if _, err := d.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if n := outboxRows(t, db); n != 2 {
		t.Fatalf("a failed delivery dropped signals: %d left", n)
	}
	temporal.down = false
	if _, err := d.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	got := temporal.signals(conv.ID)
	if len(got) != 2 {
		t.Fatalf("delivered %v", got)
	}
	m, ok := got[0].(workflows.MessageSignal)
	if !ok || m.MessageID != msg.ID || m.AuthorKind != workflows.AuthorContact || m.OutboxID == 0 {
		t.Fatalf("first signal %#v", got[0])
	}
	if r, ok := got[1].(workflows.StateSignal); !ok || r.OutboxID <= m.OutboxID {
		t.Fatalf("second signal %#v", got[1])
	}
	if n := outboxRows(t, db); n != 0 {
		t.Fatalf("%d delivered signals left in the outbox", n)
	}
}

// Drains on several nodes at once, while messages are posted: every
// signal is delivered, each conversation's in the order of its messages,
// and none twice.
func TestLifecycleOutboxDrainsRaceSafely(t *testing.T) {
	testenv.Require(t, "DATABASE_URL")
	ctx := context.Background()
	const conversations, messages = 8, 25
	s, org, convs, db := outboxConversations(t, conversations)
	temporal := &fakeTemporal{}
	dctx, stop := context.WithCancel(ctx)
	var drains sync.WaitGroup
	for range 3 {
		d := &OutboxDrainer{Store: s.Store, Temporal: temporal, Idle: 5 * time.Millisecond, Conversations: 3, Defer: -1, Linger: -1}
		drains.Go(func() { d.Run(dctx) })
	}
	var posts sync.WaitGroup
	want := make([][]uint64, conversations)
	for i, conv := range convs {
		posts.Go(func() {
			c := *conv
			for range messages {
				m, _, err := s.Post(ctx, org, &c, Author{Kind: workflows.AuthorContact, ID: 1}, "hi", false, nil)
				if err != nil {
					t.Error(err)
					return
				}
				want[i] = append(want[i], m.ID)
			}
		})
	}
	posts.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for outboxRows(t, db) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	drains.Wait()
	for i, conv := range convs {
		var got []uint64
		for _, a := range temporal.signals(conv.ID) {
			got = append(got, a.(workflows.MessageSignal).MessageID)
		}
		if fmt.Sprint(got) != fmt.Sprint(want[i]) {
			t.Fatalf("conversation %d: delivered %v, want %v", conv.ID, got, want[i])
		}
	}
}

// A conversation's first signal goes at once; the signals that follow
// within the linger wait and go together in one batch, not one delivery
// each; a node without the linger (or another node) is not held back.
func TestLifecycleOutboxLingersOnBusyConversations(t *testing.T) {
	testenv.Require(t, "DATABASE_URL")
	ctx := context.Background()
	s, org, newConv, db := outboxService(t)
	conv, quiet := newConv(), newConv()
	post := func(c *models.Conversation) { // an operator's replies: never deferred
		t.Helper()
		if _, _, err := s.Post(ctx, org, c, Author{Kind: workflows.AuthorOperator, ID: 2}, "hi", false, nil); err != nil {
			t.Fatal(err)
		}
	}
	temporal := &countingTemporal{fakeTemporal: &fakeTemporal{}}
	d := &OutboxDrainer{Store: s.Store, Temporal: temporal, Linger: time.Hour}
	post(conv)
	if n, err := d.Drain(ctx); err != nil || n != 1 {
		t.Fatalf("first signal: claimed %d (%v)", n, err)
	}
	post(conv)
	post(conv)
	post(quiet)
	if n, err := d.Drain(ctx); err != nil || n != 1 {
		t.Fatalf("with one conversation lingering: claimed %d (%v), want the quiet one's signal alone", n, err)
	}
	if n := outboxRows(t, db); n != 2 {
		t.Fatalf("%d signals waiting, want the busy conversation's 2", n)
	}
	other := &OutboxDrainer{Store: s.Store, Temporal: temporal, Linger: -1}
	if n, err := other.Drain(ctx); err != nil || n != 2 {
		t.Fatalf("another node: claimed %d (%v)", n, err)
	}
	if got := len(temporal.signals(conv.ID)); got != 3 || temporal.calls != 3 {
		t.Fatalf("%d signals in %d deliveries, want 3 in 3 (the two waiting ones together)", got, temporal.calls)
	}
}

// countingTemporal counts the deliveries (calls), not the signals.
type countingTemporal struct {
	*fakeTemporal
	calls int
}

func (c *countingTemporal) SignalWithStartWorkflow(ctx context.Context, workflowID, name string, arg any, o client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	return c.fakeTemporal.SignalWithStartWorkflow(ctx, workflowID, name, arg, o, wf, args...)
}

// A contact's message after the conversation's first, with the automated
// answers off, waits (it only moves the inactivity deadline) until
// another signal of its conversation goes, or until the deferral runs
// out; the first and every operator's message go at once. With the
// answers on, none waits, and the signal says whether answers were off.
func TestLifecycleOutboxDefersWhatMayWait(t *testing.T) {
	testenv.Require(t, "DATABASE_URL")
	ctx := context.Background()
	s, org, newConv, db := outboxService(t)
	conv := newConv()
	visitor := func(c *models.Conversation, o *models.Organization) {
		t.Helper()
		if _, _, err := s.Post(ctx, o, c, Author{Kind: workflows.AuthorContact, ID: 1}, "hi", false, nil); err != nil {
			t.Fatal(err)
		}
	}
	temporal := &countingTemporal{fakeTemporal: &fakeTemporal{}}
	d := &OutboxDrainer{Store: s.Store, Temporal: temporal, Linger: -1, Defer: time.Hour}
	drain := func(want int) {
		t.Helper()
		if n, err := d.Drain(ctx); err != nil || n != want {
			t.Fatalf("claimed %d (%v), want %d", n, err, want)
		}
	}
	visitor(conv, org)
	drain(1) // the first: routing and indexing wait for it
	visitor(conv, org)
	visitor(conv, org)
	drain(0)
	if _, _, err := s.Post(ctx, org, conv, Author{Kind: workflows.AuthorOperator, ID: 2}, "hello", false, nil); err != nil {
		t.Fatal(err)
	}
	drain(3) // the reply takes the two waiting messages with it
	if temporal.calls != 2 {
		t.Fatalf("%d deliveries, want 2", temporal.calls)
	}
	got := temporal.signals(conv.ID)
	if m := got[0].(workflows.MessageSignal); !m.AnswersOff {
		t.Fatalf("signal %+v: answers were off", m)
	}

	visitor(conv, org)
	drain(0)
	d.Defer = -1 // the deferral ran out
	drain(1)

	on := *org
	on.AISettings = models.AIFeatureAutomatedAnswer + "=local"
	visitor(conv, &on)
	drain(1)
	last := temporal.signals(conv.ID)
	if m := last[len(last)-1].(workflows.MessageSignal); m.AnswersOff {
		t.Fatalf("signal %+v: answers were on", m)
	}
	if n := outboxRows(t, db); n != 0 {
		t.Fatalf("%d signals left", n)
	}
}
