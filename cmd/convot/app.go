package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/convot/convot/alerts"
	"github.com/convot/convot/assist"
	"github.com/convot/convot/handlers"
	"github.com/convot/convot/handlers/dashboard"
	"github.com/convot/convot/internal/backup"
	"github.com/convot/convot/internal/blob"
	"github.com/convot/convot/internal/config"
	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/internal/geoip"
	"github.com/convot/convot/internal/mail"
	"github.com/convot/convot/internal/ratelimit"
	"github.com/convot/convot/internal/realtime"
	"github.com/convot/convot/models"
	"github.com/convot/convot/outgoing"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/shopify"
	"github.com/convot/convot/store"
	"github.com/convot/convot/subprocessors"
)

// app is what the long-running commands share.
type app struct {
	cfg    *config.Config
	master *crypto.MasterKeys
	// store is every query of the commands and the activities.
	store  *store.Store
	keys   *models.KeyStore
	outbox *mail.Outbox
	// mail is the one path of every mail: suppressions and marketing
	// rules, then the gated Postmark client (Postmark's API with
	// POSTMARK_SERVER_TOKEN, else the outbox).
	mail mail.Sender
	// gate decides every flow of data to a subprocessor; its decisions are
	// recorded in the database for auditors.
	gate *policies.Gate
	// temporal is the client the HTTP server starts and signals workflows
	// with; temporalUI is where privacy officers follow them, served by
	// the Temporal UI server at temporalUIUpstream when Convot proxies it.
	temporal           client.Client
	temporalUI         string
	temporalUIUpstream *url.URL
	// blobs keeps attachments and backups (disk, or S3 when configured);
	// hub carries live events (in-process, or Redis across web nodes).
	blobs blob.Store
	hub   realtime.Hub
	// rateLimits are shared by the web nodes through Redis (redisScripts)
	// when REDIS_URL is set; nil counts them per node.
	rateLimits   ratelimit.Store
	redisScripts *subprocessors.RedisScripts
	// stripe is the gated billing client; nil when STRIPE_SECRET_KEY is
	// not set (billing off).
	stripe *subprocessors.Stripe
	// handlers is the HTTP server's state, drained at shutdown. openApp
	// hands it the database; httpServer completes it.
	handlers *handlers.Server
	// backupStore takes, shreds and restores the encrypted backups.
	backupStore *backup.Backups
	// webhooks posts signed webhooks to Customers' endpoints.
	webhooks *subprocessors.CustomerEndpoints
	// alerts raises the unusual-activity alerts (sign-ins, downloads,
	// gate denials).
	alerts *alerts.Monitor
}

// openCommand opens the app (see openApp) for command name, which takes
// no flags: args must be empty.
func openCommand(ctx context.Context, name string, args []string, dev bool, out io.Writer) (*app, error) {
	if err := flags(name, args, nil); err != nil {
		return nil, err
	}
	return openApp(ctx, dev, out)
}

// loadConfig reads the configuration and the master keys; dev (cfg.Dev)
// allows the development key in CONVOT_DATA_DIR when CONVOT_MASTER_KEY is
// not set.
func loadConfig(dev bool, out io.Writer) (*config.Config, *crypto.MasterKeys, error) {
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		return nil, nil, err
	}
	cfg.Dev = dev
	master, err := loadMasterKeys(cfg, out)
	if err != nil {
		return nil, nil, err
	}
	return cfg, master, nil
}

// openApp reads the configuration, the master key and the database, and
// applies migrations.
func openApp(ctx context.Context, dev bool, out io.Writer) (*app, error) {
	cfg, master, err := loadConfig(dev, out)
	if err != nil {
		return nil, err
	}
	if cfg.DatabaseURL == "" && !dev {
		slog.Warn("DATABASE_URL is not set: using SQLite in CONVOT_DATA_DIR, fit for one machine only")
	}
	db, keys, err := models.Setup(ctx, cfg.DatabaseURL, cfg.DataDir, master)
	if err != nil {
		return nil, err
	}
	st := store.New(db, keys)
	// The message path's statements plan once (store/generic_plans.go).
	if err := st.OpenGenericPlans(); err != nil {
		return nil, err
	}
	stateStore.Store(st) // the metrics' open privacy requests and backup age
	// Decisions of concurrent requests are committed together; denials
	// are counted by the unusual-activity alerts (watched once the mail
	// path they need exists, below).
	denials := &alerts.DenialWatch{Log: st.GroupDecisionLog()}
	gate, err := policies.NewGate(ctx, denials)
	if err != nil {
		return nil, fmt.Errorf("egress gate: %w", err)
	}
	if cfg.SentryDSN != "" {
		env := "production"
		if dev {
			env = "development"
		}
		if err := subprocessors.InitSentry(cfg.SentryDSN, gate, env, cfg.SentryTracesSampleRate, nil); err != nil {
			return nil, fmt.Errorf("SENTRY_DSN: %w", err)
		}
	}
	a := &app{cfg: cfg, master: master, store: st, keys: keys, gate: gate}
	if a.blobs, err = openBlobs(cfg, gate); err != nil {
		return nil, err
	}
	// The raw database goes where it is opened to the two that still take
	// it: the HTTP handlers and the backups (which copy whole tables).
	a.handlers = &handlers.Server{Store: st}
	if a.handlers.AI, err = assist.Configure(gate, assist.Options{
		AnthropicAPIKey: cfg.AnthropicAPIKey, OpenAIAPIKey: cfg.OpenAIAPIKey, Models: assist.ParseModels(cfg.AIModels),
		SelfHostedURL: cfg.AIBaseURL, SelfHostedAPIKey: cfg.AIAPIKey, SelfHostedModel: cfg.AIModel,
		SelfHostedModels: assist.ParseModels(cfg.AIFeatureModels),
	}); err != nil {
		return nil, err
	}
	a.backupStore = &backup.Backups{DB: db, Blobs: a.blobs, Master: master, Context: backup.StorageContext(cfg.Region)}
	if a.hub, err = openHub(cfg, gate); err != nil {
		return nil, err
	}
	if a.redisScripts, a.rateLimits, err = openRateLimits(cfg, master); err != nil {
		return nil, err
	}
	if cfg.StripeSecretKey != "" {
		a.stripe, err = subprocessors.NewStripe(gate, subprocessors.StripeConfig{BaseURL: cfg.StripeAPIURL, SecretKey: cfg.StripeSecretKey, Region: cfg.StripeRegion})
		if err != nil {
			return nil, fmt.Errorf("STRIPE_SECRET_KEY: %w", err)
		}
	}
	if dev || os.Getenv("POSTMARK_SERVER_TOKEN") == "" {
		if a.outbox, err = mail.NewOutbox(filepath.Join(cfg.DataDir, "outbox")); err != nil {
			return nil, err
		}
	}
	if cfg.PostmarkServerToken == "" && !dev {
		slog.Warn("POSTMARK_SERVER_TOKEN is not set: mail is kept in the outbox in CONVOT_DATA_DIR, not sent")
	}
	postmark, err := subprocessors.NewPostmark(gate, subprocessors.PostmarkConfig{ServerToken: cfg.PostmarkServerToken, Outbox: a.outbox})
	if err != nil {
		return nil, fmt.Errorf("POSTMARK_SERVER_TOKEN: %w", err)
	}
	a.mail = mail.NewMailer(postmark.MailSender(), cfg.MailFrom, st.Suppressions())
	// Unusual activity (policy §10): the per-IP counters name addresses
	// by a keyed hash, the same on every node.
	ipSecret, err := master.Derive(master.Current(), "convot alerts ip keys")
	if err != nil {
		return nil, err
	}
	a.alerts = &alerts.Monitor{Store: st, Thresholds: cfg.Alerts, Mail: a.mail, MailFrom: cfg.MailFrom,
		BaseURL: cfg.BaseURL.String(), IPSecret: ipSecret}
	denials.Watch(a.alerts)
	a.handlers.Alerts = a.alerts
	// Customers' webhook endpoints: gated, SSRF-guarded (private
	// addresses only in convot dev), 10 s an attempt.
	if a.webhooks, err = subprocessors.NewCustomerEndpoints(gate, subprocessors.CustomerEndpointsConfig{AllowPrivate: dev, Timeout: outgoing.AttemptTimeout}); err != nil {
		return nil, err
	}
	a.handlers.CustomerEndpoints = a.webhooks
	return a, nil
}

// openBlobs is the S3 bucket when one is configured, else a directory.
func openBlobs(cfg *config.Config, gate *policies.Gate) (blob.Store, error) {
	if cfg.S3Bucket == "" {
		return blob.NewDisk(filepath.Join(cfg.DataDir, "blobs"))
	}
	b, err := subprocessors.NewS3Blobs(gate, subprocessors.S3Config{
		Endpoint: cfg.S3Endpoint, UsePathStyle: cfg.S3Endpoint != "",
		Region: cfg.AWSRegion, Bucket: cfg.S3Bucket,
		AccessKeyID: cfg.AWSAccessKeyID, SecretAccessKey: cfg.AWSSecretAccessKey,
	})
	if err != nil {
		return nil, fmt.Errorf("CONVOT_S3_BUCKET: %w", err)
	}
	return blob.NewS3(b), nil
}

// openHub fans out through Redis when REDIS_URL is set, else in-process.
func openHub(cfg *config.Config, gate *policies.Gate) (realtime.Hub, error) {
	if cfg.RedisURL == "" {
		return realtime.NewLocal(), nil
	}
	f, err := subprocessors.NewRedisFanout(gate, subprocessors.RedisConfig{URL: cfg.RedisURL, Region: cfg.Region})
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	return realtime.NewRedis(f), nil
}

// openRateLimits keeps the rate limits in Redis when REDIS_URL is set, so
// that a budget is one for all web nodes; nil leaves them per node.
func openRateLimits(cfg *config.Config, master *crypto.MasterKeys) (*subprocessors.RedisScripts, ratelimit.Store, error) {
	if cfg.RedisURL == "" {
		return nil, nil, nil
	}
	// Every node derives the same key for the HMACs that name the buckets.
	secret, err := master.Derive(master.Current(), "convot rate limit keys")
	if err != nil {
		return nil, nil, err
	}
	scripts, err := subprocessors.NewRedisScripts(cfg.RedisURL)
	if err != nil {
		return nil, nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	limits, err := ratelimit.NewRedis(scripts, secret, ratelimit.RedisOptions{})
	if err != nil {
		_ = scripts.Close() // the error returned is the one that matters
		return nil, nil, err
	}
	return scripts, limits, nil
}

// close releases the app's connections once its command is done; what
// fails here can no longer fail the command, so it is logged.
func (a *app) close() {
	// Errors and transactions still buffered for Sentry are sent (or
	// given up) before the process ends.
	if a.cfg.SentryDSN != "" && !subprocessors.FlushSentry(2*time.Second) {
		slog.Warn("Sentry events not all sent at shutdown")
	}
	if a.hub != nil {
		if err := a.hub.Close(); err != nil {
			slog.Warn("closing the realtime hub", "err", err)
		}
	}
	if err := a.store.Close(); err != nil {
		slog.Warn("closing the database", "err", err)
	}
	if a.redisScripts != nil {
		if err := a.redisScripts.Close(); err != nil {
			slog.Warn("closing the rate limits' Redis connection", "err", err)
		}
	}
}

// loadMasterKeys takes CONVOT_MASTER_KEY; in dev, a key kept in the data
// directory (generated on first run) stands in for it.
func loadMasterKeys(cfg *config.Config, out io.Writer) (*crypto.MasterKeys, error) {
	if cfg.MasterKey != "" {
		return crypto.ParseMasterKeys(cfg.MasterKey)
	}
	if !cfg.Dev {
		return nil, errors.New("CONVOT_MASTER_KEY is not set: generate one with `convot keys generate` and keep it in your secret store")
	}
	path := filepath.Join(cfg.DataDir, "master.key")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, err
		}
		key := crypto.GenerateMasterKey(1)
		if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
			return nil, err
		}
		_, _ = fmt.Fprintf(out, "WARNING: generated a development master key in %s (mode 0600).\n         Production reads CONVOT_MASTER_KEY from a secret store; losing the key loses the data.\n", path)
		return crypto.ParseMasterKeys(key)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return crypto.ParseMasterKeys(strings.TrimSpace(string(b)))
}

// httpServer builds the HTTP server for the dashboard and APIs.
func (a *app) httpServer() (*http.Server, error) {
	sender := a.mail
	if sender == nil {
		return nil, errors.New("no mail sender configured")
	}
	codec, err := payloadCodec(a.master)
	if err != nil {
		return nil, err
	}
	// The widget's visitors get a country only with a GeoIP database.
	geo, err := geoip.Open(a.cfg.GeoIPDB)
	if err != nil {
		return nil, err
	}
	s := a.handlers // Store from openApp
	s.Config, s.Mail, s.Outbox, s.PayloadCodec = a.cfg, sender, devOutbox(a), codec
	s.TemporalUIURL, s.Temporal, s.Hub, s.Blobs, s.Stripe, s.GeoIP = a.temporalUI, a.temporal, a.hub, a.blobs, a.stripe, geo
	s.TemporalUIUpstream = a.temporalUIUpstream
	s.RateLimits = a.rateLimits
	a.alerts.GeoIP = geo // sign-ins from a new country
	if a.cfg.ShopifyAPIKey != "" && a.cfg.ShopifyAPISecret != "" {
		client, err := subprocessors.NewShopify(a.gate, subprocessors.ShopifyConfig{})
		if err != nil {
			return nil, err
		}
		s.Shopify = shopify.NewApp(a.store, client, a.cfg.ShopifyAPIKey, a.cfg.ShopifyAPISecret, strings.TrimRight(a.cfg.BaseURL.String(), "/")+"/settings/shopify/callback")
		if a.temporal != nil {
			s.Shopify.Workflows = shopify.TemporalWorkflows{Client: a.temporal}
		}
	}
	h, err := handlers.New(s)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{
		Addr: a.cfg.HTTPAddr, Handler: h,
		ReadHeaderTimeout: config.ReadHeaderTimeout,
		ErrorLog:          slog.NewLogLogger(slog.Default().Handler(), slog.LevelWarn),
	}
	if a.cfg.TLSCert != "" {
		srv.TLSConfig = serverTLSConfig()
	}
	return srv, nil
}

func devOutbox(a *app) *mail.Outbox {
	if a.cfg.Dev {
		return a.outbox
	}
	return nil
}

// listen binds the HTTP address before anything is announced, so a port in
// use is a clear error at start.
func (a *app) listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", a.cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("CONVOT_HTTP_ADDR %s: %w", a.cfg.HTTPAddr, err)
	}
	return ln, nil
}

// serveHTTP runs srv on ln until ctx ends, then shuts it down gracefully.
func (a *app) serveHTTP(ctx context.Context, srv *http.Server, ln net.Listener) error {
	errc := make(chan error, 1)
	go func() {
		if a.cfg.TLSCert != "" {
			errc <- srv.ServeTLS(ln, a.cfg.TLSCert, a.cfg.TLSKey)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), config.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(shutdown)
	// No request is left to acknowledge a message: deliver the lifecycle
	// signals of those acknowledged.
	if a.handlers != nil {
		a.handlers.Close(shutdown)
	}
	return err
}

// seedOwner creates a first organization and owner when the database has no
// account, and returns the login to print (once: the password is random
// and only its hash is kept).
func seedOwner(ctx context.Context, st *store.Store) (email, password string, err error) {
	if exists, err := st.AnyAccount(ctx); err != nil || exists {
		return "", "", err
	}
	email, password = "owner@convot.localhost", crypto.RandomToken(12)
	hash, err := dashboard.HashPassword(password)
	if err != nil {
		return "", "", err
	}
	err = st.Tx(ctx, func(tx *store.Store) error {
		org := models.Organization{PublicKey: crypto.RandomToken(16), CompanyName: "Convot Dev", Region: "eu", Status: models.OrgActive}
		if err := tx.CreateOrganization(ctx, &org); err != nil {
			return err
		}
		owner := models.Account{OrganizationID: org.ID, FullName: "Dev Owner", DisplayName: "Dev", Email: email,
			PasswordHash: hash, Role: models.RoleOwner, TimeZone: "UTC", Language: "en", Status: "active",
			CreatedAt: time.Now().UTC()}
		return tx.CreateAccount(ctx, &owner)
	})
	return email, password, err
}
