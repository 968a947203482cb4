package handlers

import (
	"testing"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"

	"github.com/convot/convot/activities"
	"github.com/convot/convot/internal/testenv"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// runPrivacyWorkflow runs a request's workflow on Temporal's test
// environment (time skipping) with the real activities over the test
// server's database, blob store and outbox, until it ends.
func runPrivacyWorkflow(t *testing.T, ts *testServer, in workflows.PrivacyRequestInput) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	env := testenv.WorkflowEnv(in.ReceivedAt)
	workflows.Register(env)
	activities.Register(env, &activities.Activities{Store: store.New(ts.db.DB, ts.db.Keys), Keys: ts.db.Keys, Mail: ts.outbox, MailFrom: ts.srv.Config.MailFrom,
		BaseURL: ts.URL, Blobs: ts.blobs})
	env.OnRequestCancelExternalWorkflow(mock.Anything, mock.Anything, mock.Anything).Return(nil).Maybe()
	env.ExecuteWorkflow(workflows.PrivacyRequestWorkflowType, in)
	if !env.IsWorkflowCompleted() {
		t.Fatal("the request workflow did not end")
	}
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	return env
}
