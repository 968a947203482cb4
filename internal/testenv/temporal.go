package testenv

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
)

// TemporalDevServer starts the Temporal CLI's dev server (TEMPORAL_CLI,
// under the rule of Require) for the test and returns a client of its
// default namespace; both stop when the test ends. opts may set the data
// converter or identity; its namespace is "default" and, unless opts has
// one, its logger reports errors only.
func TemporalDevServer(t testing.TB, ctx context.Context, opts client.Options) client.Client {
	t.Helper()
	cli := Require(t, "TEMPORAL_CLI")
	opts.Namespace = "default"
	if opts.Logger == nil {
		opts.Logger = errorsOnly()
	}
	srv, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{ExistingPath: cli, LogLevel: "error", ClientOptions: &opts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Errorf("stop the Temporal dev server: %v", err)
		}
	})
	return srv.Client()
}

// WorkflowEnv returns Temporal's test workflow environment (time skipping)
// with its clock at start (the zero time: now) and a logger that reports
// errors only; the caller registers the workflows and activities.
func WorkflowEnv(start time.Time) *testsuite.TestWorkflowEnvironment {
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(errorsOnly())
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(start)
	return env
}

func errorsOnly() log.Logger {
	return log.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
}

// ActivityEnv returns Temporal's test activity environment with activity
// registered and a logger that reports errors only.
func ActivityEnv(activity any) *testsuite.TestActivityEnvironment {
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(errorsOnly())
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(activity)
	return env
}

// ActivityResult runs activity on env with args and returns its result,
// failing the test if it fails or its result does not decode.
func ActivityResult[R any](t testing.TB, env *testsuite.TestActivityEnvironment, activity any, args ...any) R {
	t.Helper()
	v, err := env.ExecuteActivity(activity, args...)
	if err != nil {
		t.Fatal(err)
	}
	var res R
	if err := v.Get(&res); err != nil {
		t.Fatal(err)
	}
	return res
}
