package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/convot/convot/internal/config"
	"github.com/convot/convot/internal/tracing"
)

// runServe runs the HTTP server only: web nodes are stateless and scale
// horizontally behind a load balancer.
func runServe(ctx context.Context, args []string, out io.Writer) error {
	a, err := openCommand(ctx, "serve", args, false, out)
	if err != nil {
		return err
	}
	defer a.close()
	stopTracing, err := startTracing(ctx, a.cfg, "convot-serve")
	if err != nil {
		return err
	}
	defer stopTracing()
	address := a.temporalAddress()
	opts, err := temporalOptions(a.cfg, a.master, address)
	if err != nil {
		return err
	}
	// Lazy: the web node starts even while Temporal is still coming up.
	c, err := client.NewLazyClient(opts)
	if err != nil {
		return fmt.Errorf("TEMPORAL_ADDRESS %s: %w", address, err)
	}
	defer c.Close()
	a.temporal, a.temporalUI, a.temporalUIUpstream = c, a.cfg.TemporalUIURL, a.cfg.TemporalUIUpstream
	ln, err := a.listen()
	if err != nil {
		return err
	}
	srv, err := a.httpServer()
	if err != nil {
		return err
	}
	stopAdmin, err := startAdmin(ctx, a.cfg, adminServer{readyz: srv.Handler})
	if err != nil {
		_ = ln.Close() // not served: the error above is the one to report
		return err
	}
	defer stopAdmin()
	slog.Info("serving", "addr", ln.Addr().String(), "base_url", a.cfg.BaseURL.String())
	return a.serveHTTP(ctx, srv, ln)
}

// runWorker runs the Temporal workers only.
func runWorker(ctx context.Context, args []string, out io.Writer) error {
	a, err := openCommand(ctx, "worker", args, false, out)
	if err != nil {
		return err
	}
	defer a.close()
	stopTracing, err := startTracing(ctx, a.cfg, "convot-worker")
	if err != nil {
		return err
	}
	defer stopTracing()
	address := a.temporalAddress()
	c, err := dialTemporalAt(ctx, a.cfg, a.master, address)
	if err != nil {
		return err
	}
	defer c.Close()
	w := newWorker(c, a)
	if err := w.Start(); err != nil {
		return err
	}
	defer w.Stop()
	if err := ensureSchedules(ctx, c); err != nil {
		return err
	}
	stopAdmin, err := startAdmin(ctx, a.cfg, adminServer{ready: temporalReady(c)})
	if err != nil {
		return err
	}
	defer stopAdmin()
	slog.Info("worker running", "temporal", address, "namespace", a.cfg.TemporalNamespace)
	<-ctx.Done()
	return nil
}

// startTracing exports traces when OTEL_EXPORTER_OTLP_ENDPOINT is set
// (internal/tracing); the returned function flushes what is buffered.
func startTracing(ctx context.Context, cfg *config.Config, service string) (func(), error) {
	shutdown, err := tracing.Setup(ctx, cfg.OTLPEndpoint, service)
	if err != nil {
		return nil, err
	}
	return func() {
		flush, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := shutdown(flush); err != nil {
			slog.Warn("traces not flushed", "err", err)
		}
	}, nil
}

// temporalAddress is TEMPORAL_ADDRESS, or Temporal's default port here.
func (a *app) temporalAddress() string {
	if a.cfg.TemporalAddress != "" {
		return a.cfg.TemporalAddress
	}
	return "localhost:7233"
}
