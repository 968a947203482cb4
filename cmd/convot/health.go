package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/convot/convot/internal/config"
	"github.com/convot/convot/internal/metrics"
)

// runHealthcheck asks this container's own Convot whether it is alive: a
// GET of /healthz on the admin listener (CONVOT_ADMIN_ADDR) or, without
// one, on the HTTP listener. It exists because the distroless image has
// no curl; compose's healthchecks run it. Exit status 0 means healthy.
func runHealthcheck(ctx context.Context, args []string, out io.Writer) error {
	var path string
	var timeout time.Duration
	if err := flags("healthcheck", args, healthcheckFlags(&path, &timeout)); err != nil {
		return err
	}
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		return err
	}
	target, insecure := healthcheckURL(cfg, path)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	// The probe talks to its own process on loopback: the certificate
	// names the public host, not 127.0.0.1.
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: insecure, MinVersion: tls.VersionTLS12}}} //nolint:gosec // loopback probe of our own listener
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", target, err)
	}
	defer func() { _ = resp.Body.Close() }() // only the status is wanted
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", target, resp.Status)
	}
	_, _ = fmt.Fprintf(out, "%s: %s\n", target, resp.Status)
	return nil
}

// healthcheckURL is the loopback URL of path on the admin listener, else
// on the HTTP listener (https when it terminates TLS).
func healthcheckURL(cfg *config.Config, path string) (string, bool) {
	addr, scheme := cfg.AdminAddr, "http"
	if addr == "" {
		addr = cfg.HTTPAddr
		if cfg.TLSCert != "" {
			scheme = "https"
		}
	}
	_, port, _ := net.SplitHostPort(addr) // validated by config.Load
	return scheme + "://" + net.JoinHostPort("127.0.0.1", port) + path, scheme == "https"
}

// adminServer serves the admin listener (CONVOT_ADMIN_ADDR) of serve and
// worker: /healthz while the process runs, /readyz when ready answers nil,
// /metrics for Prometheus.
// It never faces the public: compose does not publish it.
type adminServer struct {
	ready func(ctx context.Context) error
	// readyz, when set, answers /readyz instead (the web node's own
	// readiness handler, with its JSON of each dependency).
	readyz http.Handler
}

func (s adminServer) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.Handle("/metrics", metrics.Handler())
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if s.readyz != nil {
			s.readyz.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if s.ready != nil {
			if err := s.ready(ctx); err != nil {
				// No detail: the error may name hosts; the log has it.
				slog.Warn("admin readiness check failed", "err", err)
				http.Error(w, "not ready", http.StatusServiceUnavailable)
				return
			}
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ready\n")
	})
	return mux
}

// startAdmin binds CONVOT_ADMIN_ADDR (when set) and serves it until ctx
// ends; the returned stop waits for it to close.
func startAdmin(ctx context.Context, cfg *config.Config, s adminServer) (stop func(), err error) {
	if cfg.AdminAddr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", cfg.AdminAddr)
	if err != nil {
		return nil, fmt.Errorf("CONVOT_ADMIN_ADDR %s: %w", cfg.AdminAddr, err)
	}
	srv := &http.Server{Handler: s.handler(), ReadHeaderTimeout: config.ReadHeaderTimeout}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("admin listener stopped", "addr", cfg.AdminAddr, "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		_ = srv.Close() // the process is stopping: nothing to drain on /healthz
	}()
	slog.Info("admin listener", "addr", ln.Addr().String())
	return func() { _ = srv.Close(); <-done }, nil
}

// temporalReady is a readiness check of a Temporal client.
func temporalReady(c client.Client) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := c.CheckHealth(ctx, &client.CheckHealthRequest{})
		return err
	}
}

// healthcheckFlags are healthcheck's flags (also listed by its --help).
func healthcheckFlags(path *string, timeout *time.Duration) func(*flag.FlagSet) {
	return func(fs *flag.FlagSet) {
		fs.StringVar(path, "path", "/healthz", "path to GET: /healthz (alive) or /readyz (every dependency up)")
		fs.DurationVar(timeout, "timeout", 3*time.Second, "how long to wait for the answer")
	}
}
