package testenv

import (
	"context"
	"log/slog"
	"os"
	"testing"

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
		opts.Logger = log.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
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
