package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/convot/convot/internal/testenv"
)

// On a real Temporal server: a vulnerability report and a disclosure
// request run with their start options, and a staff member finds each by
// ProcessKind and ProcessStatus with the shared due date (DsrDeadline), as
// in the Temporal UI; their payloads are IDs only.
func TestVulnerabilityAndDisclosureOnDevServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := testenv.TemporalDevServer(t, ctx, client.Options{})
	require.NoError(t, RegisterSearchAttributes(ctx, c, "default"))

	w := worker.New(c, TaskQueue, worker.Options{})
	Register(w)
	for _, name := range []string{ActivityAcknowledgeVulnerability, ActivityEscalateVulnerability, ActivityRecordVulnerabilityStep, ActivityInformVulnerabilityReporter} {
		w.RegisterActivityWithOptions(func(context.Context, VulnStepInput) error { return nil }, activity.RegisterOptions{Name: name})
	}
	for _, name := range []string{ActivityRecordDisclosureStep, ActivityEscalateDisclosure} {
		w.RegisterActivityWithOptions(func(context.Context, DisclosureStepInput) error { return nil }, activity.RegisterOptions{Name: name})
	}
	for _, name := range []string{ActivityDiscloseData, ActivityNotifyDisclosureSubjects} {
		w.RegisterActivityWithOptions(func(context.Context, DisclosureStepInput) (DisclosureOutcome, error) {
			return DisclosureOutcome{Allowed: true, Fields: 1, Notified: 1}, nil
		}, activity.RegisterOptions{Name: name})
	}
	require.NoError(t, w.Start())
	defer w.Stop()

	vin := VulnerabilityInput{ReportID: 41, ReceivedAt: time.Now().UTC()}
	vrun, err := c.ExecuteWorkflow(ctx, VulnerabilityStartOptions(vin), VulnerabilityWorkflowType, vin)
	require.NoError(t, err)
	require.Equal(t, "vulnerability-report-41", vrun.GetID())
	din := DisclosureInput{DisclosureID: 42, OrganizationID: 5, DueAt: time.Now().UTC().Add(24 * time.Hour)}
	drun, err := c.ExecuteWorkflow(ctx, DisclosureStartOptions(din), DisclosureWorkflowType, din)
	require.NoError(t, err)

	find := func(query, id string) {
		t.Helper()
		require.Eventually(t, func() bool {
			resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: "default", Query: query})
			return err == nil && len(resp.GetExecutions()) == 1 && resp.GetExecutions()[0].GetExecution().GetWorkflowId() == id
		}, 20*time.Second, 100*time.Millisecond, "%s not found by %s", id, query)
	}
	find(`ProcessKind="vulnerability_report" AND ProcessStatus="acknowledged"`, vrun.GetID())
	find(`ProcessKind="disclosure" AND ProcessStatus="received" AND ConvotOrgId="5"`, drun.GetID())

	require.NoError(t, c.SignalWorkflow(ctx, vrun.GetID(), "", SignalVulnTriaged, VulnSignal{ActorID: 3, Severity: "medium"}))
	require.NoError(t, c.SignalWorkflow(ctx, vrun.GetID(), "", SignalVulnClosed, VulnSignal{ActorID: 3, Outcome: "duplicate"}))
	var vs VulnState
	require.NoError(t, vrun.Get(ctx, &vs))
	require.Equal(t, VulnClosed, vs.Status)
	find(`ProcessKind="vulnerability_report" AND ProcessStatus="closed"`, vrun.GetID())

	require.NoError(t, c.SignalWorkflow(ctx, drun.GetID(), "", SignalDisclosureApprove, DisclosureDecision{ActorID: 4}))
	var ds DisclosureState
	require.NoError(t, drun.Get(ctx, &ds))
	require.Equal(t, DisclosureClosed, ds.Status)
	find(`ProcessKind="disclosure" AND ProcessStatus="closed"`, drun.GetID())
}
