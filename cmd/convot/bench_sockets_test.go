package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/convot/convot/internal/testenv"
)

// A tiny run of `convot bench sockets` (its client in this process): the
// sockets open, every posted message reaches its operators' and its
// visitor's sockets (the command fails otherwise), and the report names
// the figures. Nothing is timed.
func TestBenchSocketsTinyRun(t *testing.T) {
	testenv.Require(t, "DATABASE_URL")
	saved, settle, drain := startSocketClient, socketBenchSettle, socketBenchDrain
	t.Cleanup(func() { startSocketClient, socketBenchSettle, socketBenchDrain = saved, settle, drain })
	socketBenchSettle, socketBenchDrain = 100*time.Millisecond, 500*time.Millisecond
	startSocketClient = func(ctx context.Context) (io.WriteCloser, io.Reader, func() error, error) {
		inR, inW := io.Pipe()
		outR, outW := io.Pipe()
		done := make(chan error, 1)
		go func() {
			err := socketBenchClient(ctx, inR, outW)
			_ = outW.CloseWithError(err)
			done <- err
		}()
		return inW, outR, func() error { return <-done }, nil
	}
	for _, post := range []string{"widget", "hub"} {
		var out bytes.Buffer
		err := runBench(context.Background(), []string{"sockets", "-visitors", "4", "-operators", "2", "-orgs", "2", "-messages", "8", "-rate", "100", "-hub", "local", "-post", post}, &out)
		if err != nil {
			t.Fatalf("-post %s: %v\n%s", post, err, out.String())
		}
		for _, want := range []string{"6 sockets open, 0 failed", "KB/socket", "posted → operator socket", "(8 deliveries)", "0 closed by the node"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("-post %s: no %q in\n%s", post, want, out.String())
			}
		}
	}
}
