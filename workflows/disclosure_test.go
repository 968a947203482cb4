package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"
)

func newDisclosureEnv(t *testing.T, gateAllows bool) (*testsuite.TestWorkflowEnvironment, *fakes) {
	t.Helper()
	env, f := newObligationEnv(t)
	for _, name := range []string{ActivityRecordDisclosureStep, ActivityEscalateDisclosure} {
		env.RegisterActivityWithOptions(func(_ context.Context, in DisclosureStepInput) error {
			f.add(name, in)
			return nil
		}, activity.RegisterOptions{Name: name})
	}
	env.RegisterActivityWithOptions(func(_ context.Context, in DisclosureStepInput) (DisclosureOutcome, error) {
		f.add(ActivityDiscloseData, in)
		if !gateAllows {
			return DisclosureOutcome{Reason: "the disclosure is not approved by a privacy officer"}, nil
		}
		return DisclosureOutcome{Allowed: true, Fields: 2, Digest: "abc"}, nil
	}, activity.RegisterOptions{Name: ActivityDiscloseData})
	env.RegisterActivityWithOptions(func(_ context.Context, in DisclosureStepInput) (DisclosureOutcome, error) {
		f.add(ActivityNotifyDisclosureSubjects, in)
		return DisclosureOutcome{Notified: 3}, nil
	}, activity.RegisterOptions{Name: ActivityNotifyDisclosureSubjects})
	return env, f
}

func disclosureSteps(f *fakes) []string {
	var out []string
	for _, c := range f.of(ActivityRecordDisclosureStep) {
		out = append(out, c.Arg.(DisclosureStepInput).Step)
	}
	return out
}

// Nothing is disclosed before an officer approves; a request undecided at
// its deadline escalates then; after approval the data is disclosed and
// then the people concerned are notified.
func TestDisclosureWaitsForApprovalEscalatesAndNotifies(t *testing.T) {
	env, f := newDisclosureEnv(t, true)
	due := t0.Add(10 * 24 * time.Hour)
	var before DisclosureState
	env.RegisterDelayedCallback(func() {
		before = query[DisclosureState](t, env, QueryDisclosureStatus)
		require.Empty(t, f.of(ActivityDiscloseData), "nothing disclosed before approval")
	}, 9*24*time.Hour)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(SignalDisclosureApprove, DisclosureDecision{ActorID: 12})
	}, 11*24*time.Hour)
	runToEnd(t, env, DisclosureWorkflowType, DisclosureInput{DisclosureID: 5, OrganizationID: testOrganization, DueAt: due})

	require.Equal(t, DisclosureReceived, before.Status)
	esc := f.of(ActivityEscalateDisclosure)
	require.Len(t, esc, 1)
	require.Equal(t, due, esc[0].At, "escalated at the response deadline")
	require.Equal(t, []string{"recorded", "approved"}, disclosureSteps(f))
	require.Len(t, f.of(ActivityDiscloseData), 1)
	require.Equal(t, uint64(12), f.of(ActivityDiscloseData)[0].Arg.(DisclosureStepInput).ActorID)
	require.Len(t, f.of(ActivityNotifyDisclosureSubjects), 1)
	var final DisclosureState
	require.NoError(t, env.GetWorkflowResult(&final))
	require.Equal(t, DisclosureClosed, final.Status)
	require.Equal(t, int64(3), final.Notified)
}

// A refused request discloses nothing and notifies nobody.
func TestDisclosureRefusedDisclosesNothing(t *testing.T) {
	env, f := newDisclosureEnv(t, true)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(SignalDisclosureRefuse, DisclosureDecision{ActorID: 12})
	}, time.Hour)
	runToEnd(t, env, DisclosureWorkflowType, DisclosureInput{DisclosureID: 6, OrganizationID: testOrganization, DueAt: t0.Add(24 * time.Hour)})
	require.Empty(t, f.of(ActivityDiscloseData))
	require.Empty(t, f.of(ActivityNotifyDisclosureSubjects))
	require.Empty(t, f.of(ActivityEscalateDisclosure), "decided before the deadline")
	var final DisclosureState
	require.NoError(t, env.GetWorkflowResult(&final))
	require.Equal(t, DisclosureRefused, final.Status)
}

// When the gate refuses the disclosure, nobody is told of a disclosure
// that did not happen.
func TestDisclosureDeniedByTheGateNotifiesNobody(t *testing.T) {
	env, f := newDisclosureEnv(t, false)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(SignalDisclosureApprove, DisclosureDecision{ActorID: 12})
	}, time.Hour)
	runToEnd(t, env, DisclosureWorkflowType, DisclosureInput{DisclosureID: 7, OrganizationID: testOrganization, DueAt: t0.Add(24 * time.Hour)})
	require.Empty(t, f.of(ActivityNotifyDisclosureSubjects))
	var final DisclosureState
	require.NoError(t, env.GetWorkflowResult(&final))
	require.Equal(t, DisclosureRefused, final.Status)
	require.Contains(t, final.GateReason, "not approved")
}
