package dsr

import (
	"context"

	"go.temporal.io/sdk/client"

	"github.com/convot/convot/workflows"
)

// Workflows starts, signals and queries request workflows: Temporal in
// every deployment; a recorder in tests that need no workflow to run.
type Workflows interface {
	Start(ctx context.Context, in workflows.PrivacyRequestInput) error
	Signal(ctx context.Context, requestID uint64, signal string, arg any) error
	Progress(ctx context.Context, requestID uint64) (workflows.DsrProgress, error)
}

// TemporalWorkflows runs request workflows on Temporal.
type TemporalWorkflows struct{ Client client.Client }

// Start starts the request's workflow; starting it again joins the first.
func (t TemporalWorkflows) Start(ctx context.Context, in workflows.PrivacyRequestInput) error {
	_, err := t.Client.ExecuteWorkflow(ctx, workflows.PrivacyRequestStartOptions(in), workflows.PrivacyRequestWorkflowType, in)
	return err
}

// Signal sends a signal to the request's workflow.
func (t TemporalWorkflows) Signal(ctx context.Context, requestID uint64, signal string, arg any) error {
	return t.Client.SignalWorkflow(ctx, workflows.PrivacyRequestWorkflowID(requestID), "", signal, arg)
}

// Progress queries the request's steps.
func (t TemporalWorkflows) Progress(ctx context.Context, requestID uint64) (workflows.DsrProgress, error) {
	var p workflows.DsrProgress
	v, err := t.Client.QueryWorkflow(ctx, workflows.PrivacyRequestWorkflowID(requestID), "", workflows.QueryDsrProgress)
	if err != nil {
		return p, err
	}
	return p, v.Get(&p)
}
