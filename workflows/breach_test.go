package workflows

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
)

const testIncident = 31

// breachFakes stands in for the breach activities; refuseLate makes the
// first late notice fail as if its reasons were missing.
type breachFakes struct {
	*fakes
	refuseLate int
}

func newBreachEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *breachFakes) {
	t.Helper()
	env, f := newObligationEnv(t)
	b := &breachFakes{fakes: f}
	env.RegisterActivityWithOptions(func(_ context.Context, in IncidentStepInput) error {
		b.add(ActivityRecordIncidentStep, in)
		return nil
	}, activity.RegisterOptions{Name: ActivityRecordIncidentStep})
	env.RegisterActivityWithOptions(func(_ context.Context, in EscalationInput) error {
		b.add(ActivityEscalateIncident, in)
		return nil
	}, activity.RegisterOptions{Name: ActivityEscalateIncident})
	env.RegisterActivityWithOptions(func(_ context.Context, id uint64) error {
		b.add(ActivityDraftAuthorityNotice, id)
		return nil
	}, activity.RegisterOptions{Name: ActivityDraftAuthorityNotice})
	env.RegisterActivityWithOptions(func(_ context.Context, in NoticeSentInput) error {
		b.mu.Lock()
		refuse := in.Late && b.refuseLate > 0
		if refuse {
			b.refuseLate--
		}
		b.mu.Unlock()
		if refuse {
			return temporal.NewNonRetryableApplicationError("no reasons", ErrDelayReasonsRequired, nil)
		}
		b.add(ActivityRecordNoticeSent, in)
		return nil
	}, activity.RegisterOptions{Name: ActivityRecordNoticeSent})
	env.RegisterActivityWithOptions(func(_ context.Context, id uint64) (int64, error) {
		b.add(ActivityNotifyAffectedUsers, id)
		return 42, nil
	}, activity.RegisterOptions{Name: ActivityNotifyAffectedUsers})
	return env, b
}

func breachInput() BreachInput {
	return BreachInput{IncidentID: testIncident, OrganizationID: testOrganization, AwareAt: t0}
}

func escalations(f *breachFakes) (stages []string, times []time.Duration) {
	for _, c := range f.of(ActivityEscalateIncident) {
		stages = append(stages, c.Arg.(EscalationInput).Stage)
		times = append(times, c.At.Sub(t0))
	}
	return
}

func stepNames(f *breachFakes) []string {
	var out []string
	for _, c := range f.of(ActivityRecordIncidentStep) {
		out = append(out, c.Arg.(IncidentStepInput).Step)
	}
	return out
}

func breachState(t *testing.T, env *testsuite.TestWorkflowEnvironment) BreachState {
	t.Helper()
	return query[BreachState](t, env, QueryBreachStatus)
}

// Without a notice, the officers are told at 24, 48 and 60 hours after
// awareness, in that order, and the incident is overdue at 72 hours; a
// notice sent afterwards is late and ends the escalations.
func TestBreachEscalationSequence(t *testing.T) {
	env, f := newBreachEnv(t)
	var atDue BreachState
	env.RegisterDelayedCallback(func() { atDue = breachState(t, env) }, 73*time.Hour)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(SignalBreachAssess, BreachAssessSignal{Risk: RiskLow, ActorID: 5})
		env.SignalWorkflow(SignalBreachNotified, BreachNoticeSentSignal{ActorID: 5})
	}, 80*time.Hour)
	runToEnd(t, env, BreachWorkflowType, breachInput())

	stages, times := escalations(f)
	require.Equal(t, []string{"24h", "48h", "60h", "72h"}, stages)
	require.Equal(t, []time.Duration{24 * time.Hour, 48 * time.Hour, 60 * time.Hour, 72 * time.Hour}, times)
	for _, c := range f.of(ActivityEscalateIncident) {
		require.Equal(t, t0.Add(72*time.Hour), c.Arg.(EscalationInput).DueAt)
	}
	require.Equal(t, BreachOverdue, atDue.Status)
	require.Equal(t, t0.Add(72*time.Hour), atDue.NoticeDueAt)
	require.Equal(t, []string{"24h", "48h", "60h", "72h"}, atDue.Escalations)

	sent := f.of(ActivityRecordNoticeSent)
	require.Len(t, sent, 1)
	require.True(t, sent[0].Arg.(NoticeSentInput).Late, "a notice after 72 hours is late")
	require.Equal(t, []string{StepWorkflowStarted, StepOverdue, StepAssessed, StepClosed}, stepNames(f))
	var final BreachState
	require.NoError(t, env.GetWorkflowResult(&final))
	require.Equal(t, BreachClosed, final.Status)
	require.True(t, final.NoticeLate)
}

// A notice sent within 72 hours stops the escalations that were still to
// come and is not late.
func TestBreachNoticeInTimeStopsEscalations(t *testing.T) {
	env, f := newBreachEnv(t)
	at(env, 10*time.Hour, func() { env.SignalWorkflow(SignalBreachAssess, BreachAssessSignal{Risk: RiskLow, ActorID: 5}) })
	env.RegisterDelayedCallback(func() {
		s := breachState(t, env)
		require.Equal(t, BreachAssessed, s.Status)
		require.Equal(t, RiskLow, s.Risk)
		env.SignalWorkflow(SignalBreachNotified, BreachNoticeSentSignal{ActorID: 5})
	}, 30*time.Hour)
	runToEnd(t, env, BreachWorkflowType, breachInput())
	stages, _ := escalations(f)
	require.Equal(t, []string{"24h"}, stages)
	sent := f.of(ActivityRecordNoticeSent)
	require.Len(t, sent, 1)
	require.False(t, sent[0].Arg.(NoticeSentInput).Late)
	require.Equal(t, t0.Add(30*time.Hour), sent[0].At)
	require.Empty(t, f.of(ActivityNotifyAffectedUsers), "low risk: the users are not mailed")
	// Drafted at the start and again with the assessment.
	require.Len(t, f.of(ActivityDraftAuthorityNotice), 2)
}

// A high risk notifies the affected users at once (Art. 34), whether or
// not the authority's notice is sent yet.
func TestBreachHighRiskNotifiesTheAffectedUsers(t *testing.T) {
	env, f := newBreachEnv(t)
	at(env, 2*time.Hour, func() { env.SignalWorkflow(SignalBreachAssess, BreachAssessSignal{Risk: RiskHigh, ActorID: 5}) })
	env.RegisterDelayedCallback(func() {
		s := breachState(t, env)
		require.Equal(t, int64(42), s.UsersNotified)
		env.SignalWorkflow(SignalBreachNotified, BreachNoticeSentSignal{ActorID: 5})
	}, 5*time.Hour)
	runToEnd(t, env, BreachWorkflowType, breachInput())
	notified := f.of(ActivityNotifyAffectedUsers)
	require.Len(t, notified, 1)
	require.Equal(t, t0.Add(2*time.Hour), notified[0].At)
	require.Equal(t, uint64(testIncident), notified[0].Arg)
}

// A late notice marked sent without the reasons for the delay is refused
// and recorded as such; the workflow waits for one that has them.
func TestBreachLateNoticeNeedsReasons(t *testing.T) {
	env, f := newBreachEnv(t)
	f.refuseLate = 1
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(SignalBreachAssess, BreachAssessSignal{Risk: RiskLow})
		env.SignalWorkflow(SignalBreachNotified, BreachNoticeSentSignal{})
	}, 75*time.Hour)
	env.RegisterDelayedCallback(func() {
		require.Equal(t, BreachOverdue, breachState(t, env).Status)
		env.SignalWorkflow(SignalBreachNotified, BreachNoticeSentSignal{})
	}, 76*time.Hour)
	runToEnd(t, env, BreachWorkflowType, breachInput())
	require.Contains(t, stepNames(f), StepNoticeRefused)
	sent := f.of(ActivityRecordNoticeSent)
	require.Len(t, sent, 1)
	require.Equal(t, t0.Add(76*time.Hour), sent[0].At)
	require.True(t, sent[0].Arg.(NoticeSentInput).Late)
}

// An assessment of no risk needs no notice (Art. 33(1)): the incident is
// closed, documented, with no escalation.
func TestBreachNoRiskCloses(t *testing.T) {
	env, f := newBreachEnv(t)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(SignalBreachAssess, BreachAssessSignal{Risk: "severe"}) // unknown: ignored
		env.SignalWorkflow(SignalBreachAssess, BreachAssessSignal{Risk: RiskNone, ActorID: 5})
	}, time.Hour)
	runToEnd(t, env, BreachWorkflowType, breachInput())
	stages, _ := escalations(f)
	require.Empty(t, stages)
	require.Equal(t, []string{StepWorkflowStarted, StepAssessed, StepClosed}, stepNames(f))
}

// The Temporal UI finds the incident by organization, due date and status.
func TestBreachSearchAttributes(t *testing.T) {
	env, _ := newBreachEnv(t)
	var mu sync.Mutex
	var statuses []string
	var due time.Time
	env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		sa := args.Get(0).(temporal.SearchAttributes)
		st, _ := sa.GetKeyword(BreachStatus)
		d, _ := sa.GetTime(BreachNoticeDue)
		org, _ := sa.GetKeyword(ConvotOrgId)
		mu.Lock()
		defer mu.Unlock()
		statuses = append(statuses, st)
		due = d
		require.Equal(t, "7", org)
	}).Return()
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(SignalBreachAssess, BreachAssessSignal{Risk: RiskLow})
		env.SignalWorkflow(SignalBreachNotified, BreachNoticeSentSignal{})
	}, time.Hour)
	env.ExecuteWorkflow(BreachWorkflowType, breachInput())
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, t0.Add(72*time.Hour), due)
	require.Equal(t, []string{BreachOpen, BreachAssessed, BreachAuthorityNotified, BreachClosed}, statuses)
	require.Equal(t, "breach-31", BreachWorkflowID(31))
}

func TestBreachRefusesBadInput(t *testing.T) {
	env, _ := newBreachEnv(t)
	env.ExecuteWorkflow(BreachWorkflowType, BreachInput{IncidentID: 1})
	require.Error(t, env.GetWorkflowError())
}
