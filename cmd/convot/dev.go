package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/convot/convot/handlers/codec"
	"github.com/convot/convot/internal/devstack"
	"github.com/convot/convot/workflows"
)

// runDev runs everything on one machine with embedded defaults.
func runDev(ctx context.Context, args []string, out io.Writer) error {
	var addr string
	if err := flags("dev", args, devFlags(&addr)); err != nil {
		return err
	}
	a, err := openApp(ctx, true, out)
	if err != nil {
		return err
	}
	defer a.close()
	stopTracing, err := startTracing(ctx, a.cfg, "convot-dev")
	if err != nil {
		return err
	}
	defer stopTracing()
	a.cfg.HTTPAddr = devHTTPAddr(addr, os.Getenv("CONVOT_HTTP_ADDR"))
	ln, err := a.listen()
	if err != nil {
		return err
	}
	// For the returns before serveHTTP, whose server closes ln itself (this
	// second Close then fails, harmlessly).
	defer func() { _ = ln.Close() }()

	address, uiURL := a.cfg.TemporalAddress, a.cfg.TemporalUIURL
	var temporalGone <-chan struct{} // closed if supervision gives up
	var temporalErr func() error
	if address == "" {
		cli, err := devstack.FindTemporalCLI(ctx, os.Getenv, out)
		if err != nil {
			return err
		}
		attrs := map[string]string{}
		for name, kind := range workflows.SearchAttributes {
			attrs[name] = kind.String() // Keyword, Datetime, ...
		}
		_, _ = fmt.Fprintln(out, "starting the Temporal dev server...")
		temporal, err := devstack.StartTemporal(ctx, devstack.TemporalOptions{
			CLIPath: cli, DataDir: a.cfg.DataDir, IP: "127.0.0.1",
			Port: a.cfg.TemporalPort, UIPort: a.cfg.TemporalUIPort, Namespace: a.cfg.TemporalNamespace,
			// The UI is served under Convot's origin (codec.UIPath, proxied
			// behind the dashboard session): its codec calls to /codec are
			// same-origin, whatever host the officer typed.
			SearchAttributes: attrs, UIPublicPath: codec.UIPath, UICodecEndpoint: "/codec",
		})
		if err != nil {
			return fmt.Errorf("start the Temporal dev server: %w", err)
		}
		defer func() {
			if err := temporal.Stop(10 * time.Second); err != nil {
				slog.Warn("stopping the Temporal dev server", "err", err)
			}
		}()
		upstream, err := url.Parse(temporal.UIURL())
		if err != nil {
			return err
		}
		a.temporalUIUpstream = upstream
		address, uiURL = temporal.Address(), strings.TrimSuffix(a.cfg.BaseURL.String(), "/")+codec.UIPath
		temporalGone, temporalErr = temporal.Done(), temporal.Err
	} else {
		a.temporalUIUpstream = a.cfg.TemporalUIUpstream
	}
	c, err := dialTemporalAt(ctx, a.cfg, a.master, address)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := workflows.RegisterSearchAttributes(ctx, c, a.cfg.TemporalNamespace); err != nil {
		return fmt.Errorf("register search attributes: %w", err)
	}
	a.temporal, a.temporalUI = c, uiURL

	email, password, err := seedOwner(ctx, a.store)
	if err != nil {
		return fmt.Errorf("seed owner: %w", err)
	}
	srv, err := a.httpServer()
	if err != nil {
		return err
	}
	w := newWorker(c, a)
	if err := w.Start(); err != nil {
		return fmt.Errorf("start the Temporal worker: %w", err)
	}
	defer w.Stop()
	if err := ensureSchedules(ctx, c); err != nil {
		return err
	}

	dashboard := "http://" + displayAddr(ln.Addr())
	if a.temporalUIUpstream != nil {
		// Under the dashboard's origin, for its signed-in officers.
		uiURL = dashboard + codec.UIPath + "/"
	}
	_, _ = fmt.Fprintf(out, "\nConvot is running.\n  Dashboard:    %s\n  Temporal UI:  %s\n  Dev mailbox:  %s/dev/mailbox\n  Data:         %s\n", dashboard, uiURL, dashboard, a.cfg.DataDir)
	if email != "" {
		_, _ = fmt.Fprintf(out, "  Owner login:  %s / %s   (shown once; only its hash is stored)\n", email, password)
	}
	_, _ = fmt.Fprintln(out, "Press Ctrl-C to stop.")

	stopAdmin, err := startAdmin(ctx, a.cfg, adminServer{readyz: srv.Handler})
	if err != nil {
		return err
	}
	defer stopAdmin()

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.serveHTTP(gctx, srv, ln) })
	if temporalGone != nil {
		g.Go(func() error {
			select {
			case <-temporalGone:
				return fmt.Errorf("the Temporal dev server stopped for good: %w (see %s/temporal.log)", temporalErr(), a.cfg.DataDir)
			case <-gctx.Done():
				return nil
			}
		})
	}
	err = g.Wait()
	_, _ = fmt.Fprintln(out, "\nstopping...")
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// devDefaultHTTPAddr is where `convot dev` listens unless told otherwise:
// loopback only, since it serves a seeded owner and the dev mailbox.
const devDefaultHTTPAddr = "127.0.0.1:8080"

// devHTTPAddr is the --addr flag, else CONVOT_HTTP_ADDR when set, else
// devDefaultHTTPAddr.
func devHTTPAddr(flagAddr, envAddr string) string {
	for _, a := range []string{flagAddr, strings.TrimSpace(envAddr)} {
		if a != "" {
			return a
		}
	}
	return devDefaultHTTPAddr
}

func displayAddr(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// devFlags are dev's flags (also listed by `convot dev --help`).
func devFlags(addr *string) func(*flag.FlagSet) {
	return func(fs *flag.FlagSet) {
		fs.StringVar(addr, "addr", "", "listen address (default "+devDefaultHTTPAddr+", or CONVOT_HTTP_ADDR)")
	}
}
