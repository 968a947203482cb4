package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/convot/convot/activities"
	"github.com/convot/convot/assist"
	"github.com/convot/convot/conversation"
	"github.com/convot/convot/internal/config"
	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/internal/payloads"
	"github.com/convot/convot/internal/tracing"
	"github.com/convot/convot/subprocessors"
	"github.com/convot/convot/workflows"
)

// payloadCodec encrypts every Temporal payload with keys derived from the
// master key versions (DESIGN.md invariant 3).
func payloadCodec(master *crypto.MasterKeys) (*payloads.Codec, error) {
	keys := map[uint32][]byte{}
	for _, v := range master.Versions() {
		k, err := master.Derive(v, fmt.Sprintf("convot temporal payloads v%d", v))
		if err != nil {
			return nil, err
		}
		keys[v] = k
	}
	return payloads.NewCodec(master.Current(), keys)
}

func temporalOptions(cfg *config.Config, master *crypto.MasterKeys, address string) (client.Options, error) {
	codec, err := payloadCodec(master)
	if err != nil {
		return client.Options{}, err
	}
	opts := client.Options{
		HostPort:      address,
		Namespace:     cfg.TemporalNamespace,
		DataConverter: payloads.DataConverter(codec),
		Logger:        tlog.NewStructuredLogger(slog.Default().With("component", "temporal")),
		// The SDK's metrics, on the admin listener's /metrics.
		MetricsHandler: sdkMetrics,
	}
	// Workflows and activities are traced when tracing is on.
	if opts.Interceptors, err = tracing.TemporalInterceptors(); err != nil {
		return client.Options{}, err
	}
	if opts.ConnectionOptions.TLS, err = temporalTLS(cfg, address); err != nil {
		return client.Options{}, err
	}
	if cfg.TemporalAPIKey != "" {
		opts.Credentials = client.NewAPIKeyStaticCredentials(cfg.TemporalAPIKey)
	}
	return opts, nil
}

// temporalTLS is the TLS configuration of the Temporal client: nil (plain
// gRPC, the dev server) unless a TEMPORAL_TLS_* setting or an API key is
// given; then TLS 1.2+, the client certificate for mTLS when given, and
// the frontend verified against TEMPORAL_TLS_CA or the system roots.
func temporalTLS(cfg *config.Config, address string) (*tls.Config, error) {
	if cfg.TemporalTLSCert == "" && cfg.TemporalTLSCA == "" && cfg.TemporalAPIKey == "" && cfg.TemporalTLSServerName == "" {
		return nil, nil
	}
	t := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: cfg.TemporalTLSServerName}
	if t.ServerName == "" {
		if host, _, err := net.SplitHostPort(address); err == nil {
			t.ServerName = host
		}
	}
	if cfg.TemporalTLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TemporalTLSCert, cfg.TemporalTLSKey)
		if err != nil {
			return nil, fmt.Errorf("TEMPORAL_TLS_CERT/TEMPORAL_TLS_KEY: %w", err)
		}
		t.Certificates = []tls.Certificate{cert}
	}
	if cfg.TemporalTLSCA != "" {
		pem, err := os.ReadFile(cfg.TemporalTLSCA)
		if err != nil {
			return nil, fmt.Errorf("TEMPORAL_TLS_CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("TEMPORAL_TLS_CA: no PEM certificate in the file")
		}
		t.RootCAs = pool
	}
	return t, nil
}

// dialTemporal connects to TEMPORAL_ADDRESS, failing at start when it is
// unreachable.
func dialTemporal(ctx context.Context, cfg *config.Config, master *crypto.MasterKeys) (client.Client, error) {
	return dialTemporalAt(ctx, cfg, master, cfg.TemporalAddress)
}

func dialTemporalAt(ctx context.Context, cfg *config.Config, master *crypto.MasterKeys, address string) (client.Client, error) {
	opts, err := temporalOptions(cfg, master, address)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("TEMPORAL_ADDRESS %s: %w", address, err)
	}
	return c, nil
}

// newWorker registers every workflow and activity on the task queue.
func newWorker(c client.Client, a *app) worker.Worker {
	w := worker.New(c, workflows.TaskQueue, worker.Options{})
	workflows.Register(w)
	acts := &activities.Activities{Store: a.store, Keys: a.keys, MailFrom: a.cfg.MailFrom, BaseURL: a.cfg.BaseURL.String(),
		Blobs: a.blobs, Stripe: a.stripe}
	// Every mail goes the one path (suppressions, the gated Postmark client).
	acts.Mail, acts.InboundDomain = a.mail, a.cfg.InboundDomain
	acts.Backups = a.backups()
	acts.Hub = a.hub
	if a.handlers != nil {
		acts.Assist = assist.NewService(a.store, a.handlers.AI)
	}
	// The bot's answers and handovers: committed, then live. The bot's
	// messages signal no lifecycle (it runs inside one).
	acts.Conversations = &conversation.Service{Store: a.store, Keys: a.keys, Hub: a.hub, Blobs: a.blobs, Now: time.Now}
	acts.Disclosures = &subprocessors.Disclosures{Gate: a.gate, Mail: a.mail, From: a.cfg.MailFrom}
	acts.Webhooks = a.webhooks
	// Data-subject requests: Convot's privacy officer (the privacy address)
	// hears of requests where Convot is the controller; notices link the
	// workflow in the Temporal UI.
	ui := a.temporalUI
	if ui == "" {
		ui = a.cfg.TemporalUIURL
	}
	acts.Privacy = activities.PrivacySettings{Officer: a.cfg.PrivacyAddress, TemporalUIURL: ui, Namespace: a.cfg.TemporalNamespace, Hub: a.hub,
		Subprocessors: a.cfg.Configured()}
	activities.Register(w, acts)
	return w
}
