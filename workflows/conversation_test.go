package workflows

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/convot/convot/internal/testenv"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

// t0 is when every test conversation starts.
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

const (
	testConversation = 42
	testOrganization = 7
)

// recorder stands in for the RecordConversationStatus activity.
type recorder struct {
	mu      sync.Mutex
	changes []ConversationStatusChange
	fail    int // fail this many calls first, with a retryable error
	calls   int
	ai      *aiFake
}

func (r *recorder) record(_ context.Context, ch ConversationStatusChange) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.fail > 0 {
		r.fail--
		return errors.New("database unavailable")
	}
	r.changes = append(r.changes, ch)
	return nil
}

func (r *recorder) recorded() []ConversationStatusChange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]ConversationStatusChange(nil), r.changes...)
}

func newEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *recorder) {
	t.Helper()
	env := testenv.WorkflowEnv(t0)
	Register(env)
	rec := &recorder{}
	env.RegisterActivityWithOptions(rec.record, activity.RegisterOptions{Name: ActivityRecordConversationStatus})
	rec.ai = &aiFake{}
	rec.ai.register(env)
	return env, rec
}

func input(period time.Duration) ConversationInput {
	return ConversationInput{ConversationID: testConversation, OrganizationID: testOrganization, InactivityPeriod: period}
}

// at runs fn at t0+d of workflow time.
func at(env *testsuite.TestWorkflowEnvironment, d time.Duration, fn func()) {
	env.RegisterDelayedCallback(fn, d)
}

func queryState(t *testing.T, env *testsuite.TestWorkflowEnvironment) ConversationState {
	t.Helper()
	return query[ConversationState](t, env, QueryStatus)
}

// execute runs the workflow until it is cancelled at t0+end, and checks it
// ended cancelled rather than failed.
func execute(t *testing.T, env *testsuite.TestWorkflowEnvironment, in ConversationInput, end time.Duration) {
	t.Helper()
	at(env, end, env.CancelWorkflow)
	env.ExecuteWorkflow(ConversationWorkflowType, in)
	require.True(t, env.IsWorkflowCompleted())
	err := env.GetWorkflowError()
	require.Error(t, err)
	require.True(t, temporal.IsCanceledError(err), "want cancelled, got %v", err)
}

func causes(s ConversationState) []string {
	var out []string
	for _, tr := range s.History {
		out = append(out, tr.Cause)
	}
	return out
}

func TestConversationWorkflowID(t *testing.T) {
	require.Equal(t, "conversation-42", ConversationWorkflowID(42))
	opts := ConversationStartOptions(ConversationInput{ConversationID: 42, OrganizationID: 7})
	require.Equal(t, "conversation-42", opts.ID)
	require.Equal(t, TaskQueue, opts.TaskQueue)
	org, _ := opts.TypedSearchAttributes.GetKeyword(ConvotOrgId)
	status, _ := opts.TypedSearchAttributes.GetKeyword(ConversationStatus)
	require.Equal(t, "7", org)
	require.Equal(t, ConversationOpen, status)
}

func TestAutoResolveAfterDefaultInactivityPeriod(t *testing.T) {
	env, rec := newEnv(t)
	at(env, 24*time.Hour-time.Minute, func() {
		s := queryState(t, env)
		require.Equal(t, ConversationOpen, s.Status, "resolved before 24h")
		require.Equal(t, t0.Add(24*time.Hour), s.AutoResolveAt)
		require.Equal(t, DefaultInactivityPeriod, s.InactivityPeriod)
		require.Empty(t, rec.recorded())
	})
	at(env, 24*time.Hour+time.Minute, func() {
		s := queryState(t, env)
		require.Equal(t, ConversationResolved, s.Status)
		require.Equal(t, t0.Add(24*time.Hour), s.ResolvedAt, "resolved at exactly 24h")
		require.True(t, s.AutoResolveAt.IsZero())
		require.Equal(t, []string{CauseStarted, CauseInactivity}, causes(s))
	})
	execute(t, env, input(0), 30*time.Hour)

	require.Equal(t, []ConversationStatusChange{{
		ConversationID: testConversation, OrganizationID: testOrganization,
		Status: ConversationResolved, Cause: CauseInactivity, At: t0.Add(24 * time.Hour),
	}}, rec.recorded())
}

func TestMessagePushesAutoResolve(t *testing.T) {
	env, rec := newEnv(t)
	at(env, 20*time.Hour, func() {
		env.SignalWorkflow(SignalMessage, MessageSignal{AuthorKind: AuthorOperator, MessageID: 9, At: t0.Add(20 * time.Hour)})
	})
	at(env, 24*time.Hour+time.Minute, func() {
		s := queryState(t, env)
		require.Equal(t, ConversationOpen, s.Status, "message at 20h did not push the auto-resolve")
		require.Equal(t, t0.Add(44*time.Hour), s.AutoResolveAt)
		require.Equal(t, t0.Add(20*time.Hour), s.LastActivityAt)
		require.Equal(t, t0.Add(20*time.Hour), s.LastMessageAt)
		require.Equal(t, uint64(9), s.LastMessageID)
	})
	at(env, 44*time.Hour-time.Minute, func() {
		require.Equal(t, ConversationOpen, queryState(t, env).Status)
	})
	at(env, 44*time.Hour+time.Minute, func() {
		s := queryState(t, env)
		require.Equal(t, ConversationResolved, s.Status)
		require.Equal(t, t0.Add(44*time.Hour), s.ResolvedAt)
	})
	execute(t, env, input(0), 50*time.Hour)

	changes := rec.recorded()
	require.Len(t, changes, 1, "an operator message on an open conversation is no status change")
	require.Equal(t, CauseInactivity, changes[0].Cause)
	require.Equal(t, t0.Add(44*time.Hour), changes[0].At)
}

func TestCustomInactivityPeriod(t *testing.T) {
	env, rec := newEnv(t)
	at(env, 2*time.Hour-time.Second, func() {
		s := queryState(t, env)
		require.Equal(t, ConversationOpen, s.Status)
		require.Equal(t, t0.Add(2*time.Hour), s.AutoResolveAt)
	})
	at(env, 2*time.Hour+time.Second, func() {
		s := queryState(t, env)
		require.Equal(t, ConversationResolved, s.Status)
		require.Equal(t, t0.Add(2*time.Hour), s.ResolvedAt)
	})
	execute(t, env, input(2*time.Hour), 3*time.Hour)
	require.Len(t, rec.recorded(), 1)
	require.Equal(t, t0.Add(2*time.Hour), rec.recorded()[0].At)
}

func TestSnoozeWakesUpAtTheGivenTime(t *testing.T) {
	env, rec := newEnv(t)
	until := t0.Add(30 * time.Hour) // beyond the 24h inactivity period
	at(env, time.Hour, func() {
		env.SignalWorkflow(SignalSnooze, SnoozeSignal{Until: until})
	})
	at(env, 2*time.Hour, func() {
		s := queryState(t, env)
		require.Equal(t, ConversationSnoozed, s.Status)
		require.Equal(t, until, s.SnoozedUntil)
		require.True(t, s.AutoResolveAt.IsZero(), "no auto-resolve while snoozed")
	})
	at(env, 30*time.Hour-time.Minute, func() {
		require.Equal(t, ConversationSnoozed, queryState(t, env).Status, "auto-resolved or woken while snoozed")
	})
	at(env, 30*time.Hour+time.Minute, func() {
		s := queryState(t, env)
		require.Equal(t, ConversationOpen, s.Status)
		require.True(t, s.SnoozedUntil.IsZero())
		require.Equal(t, t0.Add(54*time.Hour), s.AutoResolveAt, "inactivity period starts over at wake-up")
		require.Equal(t, []string{CauseStarted, CauseSnoozed, CauseSnoozeEnded}, causes(s))
		require.Equal(t, until, s.History[2].At)
	})
	execute(t, env, input(0), 31*time.Hour)

	require.Equal(t, []ConversationStatusChange{
		{ConversationID: testConversation, OrganizationID: testOrganization, Status: ConversationSnoozed, SnoozedUntil: until, Cause: CauseSnoozed, At: t0.Add(time.Hour)},
		{ConversationID: testConversation, OrganizationID: testOrganization, Status: ConversationOpen, Cause: CauseSnoozeEnded, At: until},
	}, rec.recorded())
}

func TestSnoozeShorterThanInactivityPeriod(t *testing.T) {
	env, rec := newEnv(t)
	at(env, 10*time.Hour, func() {
		env.SignalWorkflow(SignalSnooze, SnoozeSignal{Until: t0.Add(12 * time.Hour)})
	})
	at(env, 12*time.Hour-time.Second, func() {
		require.Equal(t, ConversationSnoozed, queryState(t, env).Status)
	})
	at(env, 12*time.Hour+time.Second, func() {
		s := queryState(t, env)
		require.Equal(t, ConversationOpen, s.Status, "the wake-up waited for the old auto-resolve timer")
		require.Equal(t, t0.Add(36*time.Hour), s.AutoResolveAt)
	})
	at(env, 25*time.Hour, func() {
		// The auto-resolve timer of before the snooze (24h) is gone.
		require.Equal(t, ConversationOpen, queryState(t, env).Status)
	})
	execute(t, env, input(0), 26*time.Hour)
	require.Len(t, rec.recorded(), 2)
}

func TestContactMessageWakesSnoozedConversation(t *testing.T) {
	env, rec := newEnv(t)
	at(env, time.Hour, func() {
		env.SignalWorkflow(SignalSnooze, SnoozeSignal{Until: t0.Add(10 * time.Hour)})
	})
	at(env, 2*time.Hour, func() {
		env.SignalWorkflow(SignalMessage, MessageSignal{AuthorKind: AuthorOperator, MessageID: 1})
	})
	at(env, 2*time.Hour+time.Minute, func() {
		require.Equal(t, ConversationSnoozed, queryState(t, env).Status, "an operator message does not wake it")
		env.SignalWorkflow(SignalMessage, MessageSignal{AuthorKind: AuthorContact, MessageID: 2})
	})
	at(env, 3*time.Hour, func() {
		s := queryState(t, env)
		require.Equal(t, ConversationOpen, s.Status)
		require.True(t, s.SnoozedUntil.IsZero())
	})
	at(env, 11*time.Hour, func() {
		// The cancelled wake-up timer must not do anything at 10h.
		require.Equal(t, []string{CauseStarted, CauseSnoozed, CauseContactMessage}, causes(queryState(t, env)))
	})
	execute(t, env, input(0), 12*time.Hour)
	require.Len(t, rec.recorded(), 2)
}

func TestResolveThenContactMessageReopens(t *testing.T) {
	env, rec := newEnv(t)
	at(env, time.Hour, func() { env.SignalWorkflow(SignalResolve, nil) })
	at(env, 90*time.Minute, func() {
		s := queryState(t, env)
		require.Equal(t, ConversationResolved, s.Status)
		require.Equal(t, t0.Add(time.Hour), s.ResolvedAt)
		env.SignalWorkflow(SignalResolve, nil) // no-op
	})
	at(env, 2*time.Hour, func() {
		env.SignalWorkflow(SignalMessage, MessageSignal{AuthorKind: AuthorOperator, MessageID: 1})
	})
	at(env, 2*time.Hour+time.Minute, func() {
		require.Equal(t, ConversationResolved, queryState(t, env).Status, "only a contact's message reopens")
	})
	at(env, 3*time.Hour, func() {
		env.SignalWorkflow(SignalMessage, MessageSignal{AuthorKind: AuthorContact, MessageID: 2})
	})
	at(env, 3*time.Hour+time.Minute, func() {
		s := queryState(t, env)
		require.Equal(t, ConversationOpen, s.Status)
		require.True(t, s.ResolvedAt.IsZero())
		require.Equal(t, t0.Add(27*time.Hour), s.AutoResolveAt)
	})
	execute(t, env, input(0), 4*time.Hour)

	require.Equal(t, []ConversationStatusChange{
		{ConversationID: testConversation, OrganizationID: testOrganization, Status: ConversationResolved, Cause: CauseResolved, At: t0.Add(time.Hour)},
		{ConversationID: testConversation, OrganizationID: testOrganization, Status: ConversationOpen, Cause: CauseContactMessage, At: t0.Add(3 * time.Hour)},
	}, rec.recorded())
}

// Waiting on the contact: pending until the contact writes, which opens
// the conversation; an operator's message leaves it pending; silence still
// resolves it after the inactivity period.
func TestPendingUntilTheContactWrites(t *testing.T) {
	env, rec := newEnv(t)
	at(env, time.Hour, func() { env.SignalWorkflow(SignalPending, nil) })
	at(env, 2*time.Hour, func() {
		require.Equal(t, ConversationPending, queryState(t, env).Status)
		env.SignalWorkflow(SignalPending, nil) // no change
		env.SignalWorkflow(SignalMessage, MessageSignal{AuthorKind: AuthorOperator, MessageID: 1})
	})
	at(env, 2*time.Hour+time.Minute, func() {
		require.Equal(t, ConversationPending, queryState(t, env).Status, "only a contact's message opens it")
	})
	at(env, 3*time.Hour, func() {
		env.SignalWorkflow(SignalMessage, MessageSignal{AuthorKind: AuthorContact, MessageID: 2})
	})
	at(env, 3*time.Hour+time.Minute, func() { require.Equal(t, ConversationOpen, queryState(t, env).Status) })
	at(env, 4*time.Hour, func() { env.SignalWorkflow(SignalPending, nil) })
	execute(t, env, input(0), 30*time.Hour)
	var got []string
	for _, ch := range rec.recorded() {
		got = append(got, ch.Status+"/"+ch.Cause)
	}
	require.Equal(t, []string{"pending/" + CauseMarkedPending, "open/" + CauseContactMessage, "pending/" + CauseMarkedPending, "resolved/" + CauseInactivity}, got)
}

func TestReopenSignal(t *testing.T) {
	env, rec := newEnv(t)
	at(env, time.Hour, func() { env.SignalWorkflow(SignalResolve, nil) })
	at(env, 5*time.Hour, func() { env.SignalWorkflow(SignalReopen, nil) })
	at(env, 5*time.Hour+time.Minute, func() {
		s := queryState(t, env)
		require.Equal(t, ConversationOpen, s.Status)
		require.Equal(t, t0.Add(29*time.Hour), s.AutoResolveAt)
	})
	at(env, 29*time.Hour+time.Minute, func() {
		require.Equal(t, ConversationResolved, queryState(t, env).Status)
	})
	execute(t, env, input(0), 30*time.Hour)
	var got []string
	for _, ch := range rec.recorded() {
		got = append(got, ch.Cause)
	}
	require.Equal(t, []string{CauseResolved, CauseReopened, CauseInactivity}, got)
}

func TestAssignAndUnassign(t *testing.T) {
	env, rec := newEnv(t)
	at(env, time.Hour, func() { env.SignalWorkflow(SignalAssign, AssignSignal{AssigneeID: 501}) })
	at(env, 61*time.Minute, func() {
		require.Equal(t, uint64(501), queryState(t, env).AssigneeID)
		env.SignalWorkflow(SignalAssign, AssignSignal{AssigneeID: 501}) // no change
	})
	at(env, 2*time.Hour, func() { env.SignalWorkflow(SignalAssign, AssignSignal{AssigneeID: 0}) })
	at(env, 121*time.Minute, func() {
		s := queryState(t, env)
		require.Zero(t, s.AssigneeID)
		require.Equal(t, ConversationOpen, s.Status)
		require.Equal(t, []string{CauseStarted, CauseAssigned, CauseUnassigned}, causes(s))
		require.Equal(t, uint64(501), s.History[1].AssigneeID)
	})
	execute(t, env, input(0), 3*time.Hour)

	require.Equal(t, []ConversationStatusChange{
		{ConversationID: testConversation, OrganizationID: testOrganization, Status: ConversationOpen, AssigneeID: 501, Cause: CauseAssigned, At: t0.Add(time.Hour)},
		{ConversationID: testConversation, OrganizationID: testOrganization, Status: ConversationOpen, Cause: CauseUnassigned, At: t0.Add(2 * time.Hour)},
	}, rec.recorded())
}

func TestSearchAttributesUpserted(t *testing.T) {
	env, _ := newEnv(t)
	type upsert struct {
		org, status string
		size        int
	}
	var mu sync.Mutex
	var upserts []upsert
	env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		sa := args.Get(0).(temporal.SearchAttributes)
		org, _ := sa.GetKeyword(ConvotOrgId)
		status, _ := sa.GetKeyword(ConversationStatus)
		mu.Lock()
		upserts = append(upserts, upsert{org, status, sa.Size()})
		mu.Unlock()
	}).Return()
	at(env, time.Hour, func() { env.SignalWorkflow(SignalSnooze, SnoozeSignal{Until: t0.Add(2 * time.Hour)}) })
	at(env, 3*time.Hour, func() { env.SignalWorkflow(SignalResolve, nil) })
	execute(t, env, input(0), 4*time.Hour)

	require.Equal(t, []upsert{
		{"7", ConversationOpen, 2},     // start
		{"7", ConversationSnoozed, 2},  // snooze
		{"7", ConversationOpen, 2},     // wake-up
		{"7", ConversationResolved, 2}, // resolve
	}, upserts)
}

func TestRecordingIsRetried(t *testing.T) {
	env, rec := newEnv(t)
	rec.fail = 2
	at(env, time.Hour, func() { env.SignalWorkflow(SignalResolve, nil) })
	execute(t, env, input(0), 2*time.Hour)
	require.Equal(t, 3, rec.calls)
	require.Len(t, rec.recorded(), 1)
	require.Equal(t, ConversationResolved, rec.recorded()[0].Status)
}

func TestBadSignalsAreIgnored(t *testing.T) {
	env, rec := newEnv(t)
	at(env, time.Hour, func() {
		env.SignalWorkflow(SignalMessage, MessageSignal{AuthorKind: "robot", MessageID: 1})
		env.SignalWorkflow(SignalSnooze, SnoozeSignal{Until: t0}) // in the past
	})
	at(env, 2*time.Hour, func() {
		s := queryState(t, env)
		require.Equal(t, ConversationOpen, s.Status)
		require.Zero(t, s.LastMessageID)
		require.Equal(t, t0.Add(24*time.Hour), s.AutoResolveAt)
	})
	execute(t, env, input(0), 3*time.Hour)
	require.Empty(t, rec.recorded())
}

func TestInvalidInput(t *testing.T) {
	for name, in := range map[string]ConversationInput{
		"no conversation": {OrganizationID: 1},
		"no organization": {ConversationID: 1},
		"snoozed":         {ConversationID: 1, OrganizationID: 1, Status: ConversationSnoozed},
		"unknown status":  {ConversationID: 1, OrganizationID: 1, Status: "closed"},
		"negative period": {ConversationID: 1, OrganizationID: 1, InactivityPeriod: -time.Hour},
	} {
		t.Run(name, func(t *testing.T) {
			env, _ := newEnv(t)
			env.ExecuteWorkflow(ConversationWorkflowType, in)
			require.True(t, env.IsWorkflowCompleted())
			var appErr *temporal.ApplicationError
			require.ErrorAs(t, env.GetWorkflowError(), &appErr)
			require.Equal(t, "InvalidInput", appErr.Type())
		})
	}
}

func TestStartResolved(t *testing.T) {
	env, rec := newEnv(t)
	at(env, 48*time.Hour, func() {
		require.Equal(t, ConversationResolved, queryState(t, env).Status)
		env.SignalWorkflow(SignalMessage, MessageSignal{AuthorKind: AuthorContact, MessageID: 3})
	})
	at(env, 49*time.Hour, func() {
		require.Equal(t, ConversationOpen, queryState(t, env).Status)
	})
	in := input(0)
	in.Status = ConversationResolved
	execute(t, env, in, 50*time.Hour)
	require.Len(t, rec.recorded(), 1)
}

func continuedInput(t *testing.T, env *testsuite.TestWorkflowEnvironment) ConversationInput {
	t.Helper()
	require.True(t, env.IsWorkflowCompleted())
	var can *workflow.ContinueAsNewError
	require.ErrorAs(t, env.GetWorkflowError(), &can)
	require.Equal(t, ConversationWorkflowType, can.WorkflowType.Name)
	var next ConversationInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	return next
}

func TestContinueAsNewCarriesTheState(t *testing.T) {
	env, rec := newEnv(t)
	// An assignment and 1004 messages: the 1000th signal ends the run, and
	// the five already waiting with it in the same workflow task are handled
	// before it continues as new. The test environment takes at most 1000
	// signals per callback, hence the batches, a second apart.
	const lastMessage = maxSignalsPerRun + 4
	last := t0.Add(time.Hour + 9*time.Second)
	at(env, time.Hour, func() { env.SignalWorkflow(SignalAssign, AssignSignal{AssigneeID: 501}) })
	for batch := range 10 {
		from, to := batch*100+1, batch*100+100
		if batch == 9 {
			to = lastMessage
		}
		at(env, time.Hour+time.Duration(batch)*time.Second, func() {
			for id := from; id <= to; id++ {
				m := MessageSignal{AuthorKind: AuthorOperator, MessageID: uint64(id)}
				if id >= maxSignalsPerRun-1 && id < lastMessage {
					// Buffered: delivered with the next workflow task.
					env.SignalWorkflowSkippingWorkflowTask(SignalMessage, m)
				} else {
					env.SignalWorkflow(SignalMessage, m)
				}
			}
		})
	}
	env.ExecuteWorkflow(ConversationWorkflowType, input(3*time.Hour))
	next := continuedInput(t, env)

	require.NotNil(t, next.Carried)
	require.Equal(t, uint64(lastMessage), next.Carried.LastMessageID, "a signal was lost")
	require.Equal(t, uint64(501), next.Carried.AssigneeID)
	require.Equal(t, ConversationOpen, next.Status)
	require.Equal(t, 3*time.Hour, next.InactivityPeriod)
	require.Equal(t, last, next.Carried.LastActivityAt)
	require.Equal(t, []string{CauseStarted, CauseAssigned}, causes(*next.Carried))
	require.Len(t, rec.recorded(), 1)

	// The next run goes on where the first stopped: auto-resolve three
	// hours after the last message, not after its own start.
	env2, rec2 := newEnv(t)
	env2.SetStartTime(last)
	at(env2, time.Minute, func() {
		s := queryState(t, env2)
		require.Equal(t, uint64(501), s.AssigneeID)
		require.Equal(t, last.Add(3*time.Hour), s.AutoResolveAt)
	})
	at(env2, 3*time.Hour+time.Minute, func() {
		s := queryState(t, env2)
		require.Equal(t, ConversationResolved, s.Status)
		require.Equal(t, last.Add(3*time.Hour), s.ResolvedAt)
		require.Equal(t, []string{CauseStarted, CauseAssigned, CauseInactivity}, causes(s))
	})
	execute(t, env2, next, 5*time.Hour)
	require.Len(t, rec2.recorded(), 1)
	require.Equal(t, uint64(501), rec2.recorded()[0].AssigneeID)
}

func TestContinueAsNewWhenSuggested(t *testing.T) {
	env, _ := newEnv(t)
	env.SetContinueAsNewSuggested(true)
	at(env, time.Hour, func() { env.SignalWorkflow(SignalAssign, AssignSignal{AssigneeID: 8}) })
	env.ExecuteWorkflow(ConversationWorkflowType, input(0))
	next := continuedInput(t, env)
	require.Equal(t, uint64(8), next.Carried.AssigneeID)
}

func TestHistoryIsBounded(t *testing.T) {
	env, _ := newEnv(t)
	at(env, time.Hour, func() {
		for i := range maxTransitions + 10 {
			env.SignalWorkflow(SignalAssign, AssignSignal{AssigneeID: uint64(i%2 + 1)})
		}
	})
	at(env, 2*time.Hour, func() {
		s := queryState(t, env)
		require.Len(t, s.History, maxTransitions)
		require.Equal(t, 11, s.HistoryDropped) // the start and 10 assignments
		require.Equal(t, uint64(2), s.AssigneeID)
	})
	execute(t, env, input(0), 3*time.Hour)
}
