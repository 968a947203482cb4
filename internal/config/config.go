// Package config reads Convot's settings from the environment. Every setting
// is declared once in Settings, so the help text and the validation cannot
// drift apart.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/convot/convot/internal/crypto"
)

// Setting documents one environment variable.
type Setting struct {
	Name    string
	Default string
	Usage   string
	// Commands lists the subcommands that read it; empty means all.
	Commands []string
}

// Settings is every environment variable Convot reads.
var Settings = []Setting{
	{Name: "CONVOT_DATA_DIR", Default: "./data", Usage: "directory for the embedded defaults: SQLite file, blobs, mail outbox, dev master key, Temporal dev database", Commands: dbCommands},
	{Name: "DATABASE_URL", Usage: "PostgreSQL URL (postgres://user:pass@host:5432/db?sslmode=disable); empty means SQLite in CONVOT_DATA_DIR (dev only)", Commands: dbCommands},
	{Name: "REDIS_URL", Usage: "Redis URL (redis://host:6379/0) for real-time fan-out and rate limits shared across web nodes; empty means in-process", Commands: appCommands},
	{Name: "TEMPORAL_ADDRESS", Usage: "Temporal frontend host:port; in dev, empty means start a Temporal dev server as a child process", Commands: temporalCommands},
	{Name: "TEMPORAL_NAMESPACE", Default: "default", Usage: "Temporal namespace", Commands: temporalCommands},
	{Name: "TEMPORAL_TLS_CERT", Usage: "client certificate file (PEM) for mTLS to Temporal (Temporal Cloud, a secured cluster); with TEMPORAL_TLS_KEY", Commands: temporalCommands},
	{Name: "TEMPORAL_TLS_KEY", Usage: "private key file (PEM) of TEMPORAL_TLS_CERT", Commands: temporalCommands},
	{Name: "TEMPORAL_TLS_CA", Usage: "CA certificate file (PEM) that signed the Temporal frontend's certificate; empty means the system roots (any TEMPORAL_TLS_* or TEMPORAL_API_KEY turns TLS on)", Commands: temporalCommands},
	{Name: "TEMPORAL_TLS_SERVER_NAME", Usage: "server name expected in the Temporal frontend's certificate; empty means the host of TEMPORAL_ADDRESS", Commands: temporalCommands},
	{Name: "TEMPORAL_API_KEY", Usage: "Temporal Cloud API key, sent as a bearer token over TLS", Commands: temporalCommands},
	{Name: "TEMPORAL_UI_URL", Usage: "Temporal web UI URL shown to privacy officers; empty means CONVOT_BASE_URL/temporal when CONVOT_TEMPORAL_UI_URL is set (dev sets it)", Commands: runCommands},
	{Name: "CONVOT_TEMPORAL_UI_URL", Usage: "internal address of the Temporal UI server (http://temporal-ui:8080), run with the public path /temporal and the codec endpoint /codec; Convot serves it at /temporal/ to signed-in officers and auditors only; empty means none (dev runs its own)", Commands: []string{"dev", "serve", "worker"}},
	{Name: "TEMPORAL_CLI", Usage: "path to the Temporal CLI binary used by dev, and by bench when TEMPORAL_ADDRESS is unset (else PATH, else built once with go install)", Commands: []string{"dev", "bench"}},
	{Name: "CONVOT_MASTER_KEY", Usage: "versioned key-encryption keys, newest first: 'v2:BASE64,v1:BASE64' (32 bytes each); dev generates one into CONVOT_DATA_DIR", Commands: dbCommands},
	{Name: "CONVOT_BASE_URL", Default: "http://localhost:8080", Usage: "public URL of the dashboard, used in links sent by email", Commands: runCommands},
	{Name: "CONVOT_HTTP_ADDR", Default: ":8080", Usage: "listen address of the HTTP server; `convot dev` listens on 127.0.0.1:8080 unless it is set (or --addr)", Commands: listenCommands},
	{Name: "CONVOT_ADMIN_ADDR", Usage: "listen address of the admin listener of `serve`, `worker` and `dev` (/healthz, /readyz, Prometheus /metrics), kept off the public port, e.g. 127.0.0.1:9090; empty means none (`convot healthcheck` then probes CONVOT_HTTP_ADDR)", Commands: []string{"serve", "worker", "dev", "healthcheck"}},
	{Name: "CONVOT_TLS_CERT", Usage: "TLS certificate file; with CONVOT_TLS_KEY the server speaks TLS 1.2+ only", Commands: listenCommands},
	{Name: "CONVOT_TLS_KEY", Usage: "TLS private key file", Commands: webCommands},
	{Name: "CONVOT_TEMPORAL_PORT", Default: "7233", Usage: "gRPC port of the dev Temporal server", Commands: []string{"dev"}},
	{Name: "CONVOT_TEMPORAL_UI_PORT", Default: "8233", Usage: "web UI port of the dev Temporal server", Commands: []string{"dev"}},
	{Name: "CONVOT_MAX_BODY_BYTES", Default: "1048576", Usage: "largest request body the dashboard accepts, in bytes", Commands: webCommands},
	{Name: "CONVOT_MAIL_FROM", Default: "Convot <no-reply@convot.io>", Usage: "sender of transactional mail", Commands: appCommands},
	{Name: "CONVOT_S3_BUCKET", Usage: "S3 bucket for attachments and backups (AWS); empty means the local disk in CONVOT_DATA_DIR", Commands: appCommands},
	{Name: "CONVOT_S3_ENDPOINT", Usage: "S3-compatible endpoint URL (path-style); empty means AWS's endpoint for AWS_REGION", Commands: appCommands},
	{Name: "AWS_REGION", Default: "eu-central-1", Usage: "AWS region of CONVOT_S3_BUCKET", Commands: appCommands},
	{Name: "AWS_ACCESS_KEY_ID", Usage: "AWS access key for CONVOT_S3_BUCKET", Commands: appCommands},
	{Name: "AWS_SECRET_ACCESS_KEY", Usage: "AWS secret key for CONVOT_S3_BUCKET", Commands: appCommands},
	{Name: "CONVOT_REGION", Default: "eu", Usage: "region this deployment's Redis runs in (us, eu, uk or ch); organizations of another region are refused by the egress gate", Commands: appCommands},
	{Name: "CONVOT_GEOIP_DB", Usage: "MaxMind-format country database (.mmdb) for the widget's visitor country; empty means no country is recorded", Commands: webCommands},
	{Name: "STRIPE_SECRET_KEY", Usage: "Stripe secret key for billing; empty means billing is off", Commands: appCommands},
	{Name: "STRIPE_WEBHOOK_SECRET", Usage: "signing secret (whsec_...) of the Stripe webhook endpoint /webhooks/stripe, created with Stripe API version 2023-10-16; empty means Stripe webhooks are refused", Commands: webCommands},
	{Name: "STRIPE_API_URL", Usage: "Stripe API base URL; empty means api.stripe.com (set it to a stripe-mock for development)", Commands: appCommands},
	{Name: "STRIPE_REGION", Default: "us", Usage: "where the Stripe account processes data: us, or eu for an account with Stripe's European entity", Commands: appCommands},
	{Name: "POSTMARK_SERVER_TOKEN", Usage: "Postmark server token for email; empty means the outbox on disk", Commands: appCommands},
	{Name: "POSTMARK_INBOUND_USER", Usage: "HTTP basic-auth user Postmark sends with inbound mail and bounce webhooks (/webhooks/postmark/...); empty means the webhooks refuse every request", Commands: webCommands},
	{Name: "POSTMARK_INBOUND_PASSWORD", Usage: "HTTP basic-auth password of the Postmark webhooks, at least 16 characters", Commands: webCommands},
	{Name: "CONVOT_INBOUND_DOMAIN", Default: "inbound.convot.localhost", Usage: "domain whose mail Postmark receives: conversation mail says Reply-To reply+TOKEN@ this domain", Commands: runCommands},
	{Name: "CONVOT_PRIVACY_ADDRESS", Default: "privacy@convot.io", Usage: "address for privacy requests (policy §9, §14): inbound mail to it becomes a data-subject request", Commands: runCommands},
	{Name: "CONVOT_SECURITY_ADDRESS", Default: "security@convot.io", Usage: "address for security vulnerability reports (policy §10, §14): inbound mail to it becomes a tracked vulnerability report", Commands: webCommands},
	{Name: "CONVOT_SUPPORT_ADDRESS", Default: "support@convot.io", Usage: "Convot's general support address (policy §14): inbound mail to it becomes a support ticket", Commands: webCommands},
	{Name: "CONVOT_STAFF", Usage: "the email of your staff account, the default of --staff of `convot support` and `convot security`: the audit log records which staff member acted", Commands: []string{"support", "security"}},
	{Name: "SHOPIFY_API_KEY", Usage: "Shopify app API key (client ID); empty means the Shopify app is off", Commands: runCommands},
	{Name: "SHOPIFY_API_SECRET", Usage: "Shopify app API secret: signs installs, OAuth callbacks and webhooks (/webhooks/shopify); the app is off unless both the key and the secret are set", Commands: runCommands},
	{Name: "ANTHROPIC_API_KEY", Usage: "Anthropic API key for AI features; empty means the local deterministic provider", Commands: appCommands},
	{Name: "OPENAI_API_KEY", Usage: "OpenAI API key for language detection, translation and embeddings; empty means the local provider", Commands: appCommands},
	{Name: "CONVOT_AI_MODELS", Default: "anthropic=claude-sonnet-4-5,openai_chat=gpt-4o-mini,openai_embeddings=text-embedding-3-small", Usage: "models of the AI subprocessors: anthropic=…,openai_chat=…,openai_embeddings=…", Commands: appCommands},
	{Name: "CONVOT_AI_BASE_URL", Usage: "self-hosted OpenAI-compatible endpoint (Ollama, vLLM, llama.cpp server), e.g. http://ollama:11434/v1/; Convot's own infrastructure, not a subprocessor", Commands: appCommands},
	{Name: "CONVOT_AI_API_KEY", Usage: "bearer token of the self-hosted endpoint, if it wants one", Commands: appCommands},
	{Name: "CONVOT_AI_MODEL", Usage: "the self-hosted endpoint's model for every chat feature (summary, suggested_reply, automated_answer, translation, language_detection)", Commands: appCommands},
	{Name: "CONVOT_AI_FEATURE_MODELS", Usage: "the self-hosted endpoint's model per feature, overriding CONVOT_AI_MODEL: summary=…,embeddings=nomic-embed-text,…", Commands: appCommands},
	{Name: "SENTRY_DSN", Usage: "Sentry DSN; empty means errors are not sent anywhere", Commands: appCommands},
	{Name: "CONVOT_SENTRY_TRACES_SAMPLE_RATE", Default: "0", Usage: "share of HTTP requests sent to Sentry as performance transactions (0 to 1), scrubbed through the egress gate like errors; 0 sends none", Commands: appCommands},
	{Name: "OTEL_EXPORTER_OTLP_ENDPOINT", Usage: "OpenTelemetry collector (OTLP over HTTP, e.g. http://otel-collector:4318): traces of HTTP requests, workflows and activities are exported there, and the other standard OTEL_EXPORTER_OTLP_* variables apply; empty means no tracing at all", Commands: runCommands},
	{Name: "CONVOT_ALERT_FAILED_SIGN_INS_ACCOUNT", Default: "10/1h", Usage: "security alert (policy §10): this many failed sign-ins to one account within the window (COUNT/DURATION, or off)", Commands: runCommands},
	{Name: "CONVOT_ALERT_FAILED_SIGN_INS_IP", Default: "20/1h", Usage: "security alert: this many failed sign-ins from one IP address to an organization's accounts within the window (COUNT/DURATION, or off)", Commands: runCommands},
	{Name: "CONVOT_ALERT_GATE_DENIALS", Default: "50/1h", Usage: "security alert: this many egress gate denials for one organization within the window (COUNT/DURATION, or off)", Commands: runCommands},
	{Name: "CONVOT_ALERT_BULK_DOWNLOADS", Default: "100/1h", Usage: "security alert: this many downloads of exports and files by one account within the window (COUNT/DURATION, or off)", Commands: runCommands},
	{Name: "CONVOT_ALERT_NEW_COUNTRY", Default: "on", Usage: "security alert: a sign-in from a country not seen for that account in 12 months (needs CONVOT_GEOIP_DB; on or off)", Commands: runCommands},
	{Name: "CONVOT_LOG_LEVEL", Default: "info", Usage: "debug, info, warn or error"},
}

// temporalCommands are the subcommands that dial Temporal.
var temporalCommands = []string{"dev", "serve", "worker", "migrate", "bench", "backup"}

// Which commands read which settings, for each command's --help: a
// setting without Commands (CONVOT_LOG_LEVEL) is read by every command.
var (
	// appCommands open the whole app (database, blobs, Redis, the
	// subprocessors' clients, AI).
	appCommands = []string{"dev", "serve", "worker", "keys", "policy", "backup", "billing", "support", "security", "staff", "bench", "search", "audit"}
	// dbCommands read the database and the master key: the app's, and
	// migrate.
	dbCommands = append([]string{"migrate"}, appCommands...)
	// runCommands run the long-lived processes (web and worker).
	runCommands = []string{"dev", "serve", "worker", "bench"}
	// webCommands serve HTTP.
	webCommands = []string{"dev", "serve", "bench"}
	// listenCommands know the HTTP listener: the web ones and healthcheck.
	listenCommands = []string{"dev", "serve", "bench", "healthcheck"}
)

// Config is the validated configuration.
type Config struct {
	DataDir           string
	DatabaseURL       string
	RedisURL          string
	TemporalAddress   string
	TemporalNamespace string
	TemporalUIURL     string
	// TemporalUIUpstream is CONVOT_TEMPORAL_UI_URL: the Temporal UI
	// server Convot proxies at /temporal; nil for none.
	TemporalUIUpstream *url.URL
	TemporalCLI        string
	// Temporal beyond the dev server: mTLS client certificate, CA, server
	// name and Temporal Cloud API key.
	TemporalTLSCert, TemporalTLSKey, TemporalTLSCA string
	TemporalTLSServerName, TemporalAPIKey          string
	AdminAddr                                      string
	MasterKey                                      string
	BaseURL                                        *url.URL
	HTTPAddr                                       string
	TLSCert, TLSKey                                string
	TemporalPort                                   int
	TemporalUIPort                                 int
	MaxBodyBytes                                   int64
	MailFrom                                       string
	// The email channel: the inbound domain of reply addresses, the
	// privacy address, and the basic-auth credentials of Postmark's
	// webhooks.
	InboundDomain           string
	PrivacyAddress          string
	SecurityAddress         string
	SupportAddress          string
	PostmarkInboundUser     string
	PostmarkInboundPassword string
	// Subprocessor credentials; an empty one means that subprocessor is
	// not configured in this deployment.
	S3Bucket, StripeSecretKey, PostmarkServerToken  string
	S3Endpoint, AWSRegion, AWSAccessKeyID           string
	AWSSecretAccessKey                              string
	Region                                          string
	GeoIPDB                                         string
	ShopifyAPIKey, AnthropicAPIKey, OpenAIAPIKey    string
	ShopifyAPISecret                                string
	SentryDSN                                       string
	StripeWebhookSecret, StripeAPIURL, StripeRegion string
	LogLevel                                        string

	// SentryTracesSampleRate is the share of requests traced to Sentry.
	SentryTracesSampleRate float64
	// OTLPEndpoint turns OpenTelemetry tracing on (OTEL_EXPORTER_OTLP_ENDPOINT).
	OTLPEndpoint string
	// Alerts are the thresholds of the unusual-activity alerts.
	Alerts AlertThresholds

	// AI models and the self-hosted endpoint (CONVOT_AI_*).
	AIModels, AIBaseURL, AIAPIKey, AIModel, AIFeatureModels string
	// Dev is true under `convot dev`: secure cookies follow TLS, the dev
	// mailbox is served, and a missing master key is generated.
	Dev bool
}

// Load reads and validates the environment. The error is one line naming the
// setting at fault.
func Load(getenv func(string) string) (*Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	get := func(name string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		for _, s := range Settings {
			if s.Name == name {
				return s.Default
			}
		}
		return ""
	}
	c := &Config{
		DataDir:                 get("CONVOT_DATA_DIR"),
		DatabaseURL:             get("DATABASE_URL"),
		RedisURL:                get("REDIS_URL"),
		TemporalAddress:         get("TEMPORAL_ADDRESS"),
		TemporalNamespace:       get("TEMPORAL_NAMESPACE"),
		TemporalUIURL:           get("TEMPORAL_UI_URL"),
		TemporalCLI:             get("TEMPORAL_CLI"),
		TemporalTLSCert:         get("TEMPORAL_TLS_CERT"),
		TemporalTLSKey:          get("TEMPORAL_TLS_KEY"),
		TemporalTLSCA:           get("TEMPORAL_TLS_CA"),
		TemporalTLSServerName:   get("TEMPORAL_TLS_SERVER_NAME"),
		TemporalAPIKey:          get("TEMPORAL_API_KEY"),
		AdminAddr:               get("CONVOT_ADMIN_ADDR"),
		MasterKey:               get("CONVOT_MASTER_KEY"),
		HTTPAddr:                get("CONVOT_HTTP_ADDR"),
		TLSCert:                 get("CONVOT_TLS_CERT"),
		TLSKey:                  get("CONVOT_TLS_KEY"),
		MailFrom:                get("CONVOT_MAIL_FROM"),
		S3Bucket:                get("CONVOT_S3_BUCKET"),
		S3Endpoint:              get("CONVOT_S3_ENDPOINT"),
		AWSRegion:               get("AWS_REGION"),
		AWSAccessKeyID:          get("AWS_ACCESS_KEY_ID"),
		AWSSecretAccessKey:      get("AWS_SECRET_ACCESS_KEY"),
		Region:                  get("CONVOT_REGION"),
		GeoIPDB:                 get("CONVOT_GEOIP_DB"),
		StripeSecretKey:         get("STRIPE_SECRET_KEY"),
		StripeWebhookSecret:     get("STRIPE_WEBHOOK_SECRET"),
		StripeAPIURL:            get("STRIPE_API_URL"),
		StripeRegion:            get("STRIPE_REGION"),
		PostmarkServerToken:     get("POSTMARK_SERVER_TOKEN"),
		InboundDomain:           strings.ToLower(get("CONVOT_INBOUND_DOMAIN")),
		PrivacyAddress:          strings.ToLower(get("CONVOT_PRIVACY_ADDRESS")),
		SecurityAddress:         strings.ToLower(get("CONVOT_SECURITY_ADDRESS")),
		SupportAddress:          strings.ToLower(get("CONVOT_SUPPORT_ADDRESS")),
		PostmarkInboundUser:     get("POSTMARK_INBOUND_USER"),
		PostmarkInboundPassword: get("POSTMARK_INBOUND_PASSWORD"),
		ShopifyAPIKey:           get("SHOPIFY_API_KEY"),
		ShopifyAPISecret:        get("SHOPIFY_API_SECRET"),
		AnthropicAPIKey:         get("ANTHROPIC_API_KEY"),
		OpenAIAPIKey:            get("OPENAI_API_KEY"),
		AIModels:                get("CONVOT_AI_MODELS"),
		AIBaseURL:               get("CONVOT_AI_BASE_URL"),
		AIAPIKey:                get("CONVOT_AI_API_KEY"),
		AIModel:                 get("CONVOT_AI_MODEL"),
		AIFeatureModels:         get("CONVOT_AI_FEATURE_MODELS"),
		SentryDSN:               get("SENTRY_DSN"),
		OTLPEndpoint:            get("OTEL_EXPORTER_OTLP_ENDPOINT"),
		LogLevel:                get("CONVOT_LOG_LEVEL"),
	}
	var err error
	if c.DataDir, err = filepath.Abs(c.DataDir); err != nil {
		return nil, fmt.Errorf("CONVOT_DATA_DIR: %w", err)
	}
	if c.DatabaseURL != "" {
		u, err := url.Parse(c.DatabaseURL)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
			return nil, errors.New("DATABASE_URL: want postgres://user:password@host:5432/dbname")
		}
	}
	if c.RedisURL != "" {
		u, err := url.Parse(c.RedisURL)
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
			return nil, errors.New("REDIS_URL: want redis://host:6379/0")
		}
	}
	if c.TemporalAddress != "" {
		if _, _, err := net.SplitHostPort(c.TemporalAddress); err != nil {
			return nil, errors.New("TEMPORAL_ADDRESS: want host:port, e.g. localhost:7233")
		}
	}
	if (c.TemporalTLSCert == "") != (c.TemporalTLSKey == "") {
		return nil, errors.New("TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY: set both or neither")
	}
	for _, f := range []string{c.TemporalTLSCert, c.TemporalTLSKey, c.TemporalTLSCA} {
		if f != "" {
			if _, err := os.Stat(f); err != nil {
				return nil, fmt.Errorf("TEMPORAL_TLS_CERT/TEMPORAL_TLS_KEY/TEMPORAL_TLS_CA: %w", err)
			}
		}
	}
	if c.AdminAddr != "" {
		if _, _, err := net.SplitHostPort(c.AdminAddr); err != nil {
			return nil, errors.New("CONVOT_ADMIN_ADDR: want host:port or :port, e.g. :9090")
		}
	}
	if c.MasterKey != "" {
		if _, err := crypto.ParseMasterKeys(c.MasterKey); err != nil {
			return nil, fmt.Errorf("CONVOT_MASTER_KEY: %w", err)
		}
	}
	base, err := url.Parse(get("CONVOT_BASE_URL"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, errors.New("CONVOT_BASE_URL: want an absolute http(s) URL such as https://app.example.com")
	}
	base.Path = strings.TrimSuffix(base.Path, "/")
	c.BaseURL = base
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		return nil, errors.New("CONVOT_HTTP_ADDR: want host:port or :port, e.g. :8080")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return nil, errors.New("CONVOT_TLS_CERT and CONVOT_TLS_KEY: set both or neither")
	}
	for _, f := range []string{c.TLSCert, c.TLSKey} {
		if f != "" {
			if _, err := os.Stat(f); err != nil {
				return nil, fmt.Errorf("CONVOT_TLS_CERT/CONVOT_TLS_KEY: %w", err)
			}
		}
	}
	if v := get("CONVOT_TEMPORAL_UI_URL"); v != "" {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return nil, errors.New("CONVOT_TEMPORAL_UI_URL: want the UI server's scheme://host:port alone, e.g. http://temporal-ui:8080 (its public path is /temporal)")
		}
		u.Path = ""
		c.TemporalUIUpstream = u
		if c.TemporalUIURL == "" {
			c.TemporalUIURL = strings.TrimSuffix(c.BaseURL.String(), "/") + "/temporal"
		}
	}
	if c.TemporalPort, err = port(get("CONVOT_TEMPORAL_PORT")); err != nil {
		return nil, fmt.Errorf("CONVOT_TEMPORAL_PORT: %w", err)
	}
	if c.TemporalUIPort, err = port(get("CONVOT_TEMPORAL_UI_PORT")); err != nil {
		return nil, fmt.Errorf("CONVOT_TEMPORAL_UI_PORT: %w", err)
	}
	n, err := strconv.ParseInt(get("CONVOT_MAX_BODY_BYTES"), 10, 64)
	if err != nil || n < 1024 {
		return nil, errors.New("CONVOT_MAX_BODY_BYTES: want a whole number of bytes, at least 1024")
	}
	c.MaxBodyBytes = n
	if !validDomain(c.InboundDomain) {
		return nil, errors.New("CONVOT_INBOUND_DOMAIN: want a domain name such as inbound.example.com")
	}
	for _, a := range []struct{ name, value, example string }{
		{"CONVOT_PRIVACY_ADDRESS", c.PrivacyAddress, "privacy@example.com"},
		{"CONVOT_SECURITY_ADDRESS", c.SecurityAddress, "security@example.com"},
		{"CONVOT_SUPPORT_ADDRESS", c.SupportAddress, "support@example.com"},
	} {
		if parsed, err := mail.ParseAddress(a.value); err != nil || parsed.Address != a.value {
			return nil, errors.New(a.name + ": want an email address such as " + a.example)
		}
	}
	if c.PrivacyAddress == c.SecurityAddress || c.PrivacyAddress == c.SupportAddress || c.SecurityAddress == c.SupportAddress {
		return nil, errors.New("CONVOT_PRIVACY_ADDRESS, CONVOT_SECURITY_ADDRESS and CONVOT_SUPPORT_ADDRESS: want three different addresses (mail to each is taken in differently)")
	}
	if (c.PostmarkInboundUser == "") != (c.PostmarkInboundPassword == "") {
		return nil, errors.New("POSTMARK_INBOUND_USER and POSTMARK_INBOUND_PASSWORD: set both or neither")
	}
	if c.PostmarkInboundPassword != "" && len(c.PostmarkInboundPassword) < 16 {
		return nil, errors.New("POSTMARK_INBOUND_PASSWORD: want at least 16 characters")
	}
	if !slices.Contains(regions, c.Region) {
		return nil, errors.New("CONVOT_REGION: want us, eu, uk or ch")
	}
	if c.StripeRegion != "us" && c.StripeRegion != "eu" {
		return nil, errors.New("STRIPE_REGION: want us or eu")
	}
	if c.StripeAPIURL != "" {
		u, err := url.Parse(c.StripeAPIURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, errors.New("STRIPE_API_URL: want an absolute http(s) URL such as http://localhost:12111")
		}
	}
	if c.StripeWebhookSecret != "" && !strings.HasPrefix(c.StripeWebhookSecret, "whsec_") {
		return nil, errors.New("STRIPE_WEBHOOK_SECRET: want the endpoint's signing secret, which starts with whsec_")
	}
	rate, err := strconv.ParseFloat(get("CONVOT_SENTRY_TRACES_SAMPLE_RATE"), 64)
	if err != nil || !(rate >= 0 && rate <= 1) { // NaN too
		return nil, errors.New("CONVOT_SENTRY_TRACES_SAMPLE_RATE: want a number from 0 to 1, e.g. 0.1")
	}
	c.SentryTracesSampleRate = rate
	if c.OTLPEndpoint != "" {
		u, err := url.Parse(c.OTLPEndpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, errors.New("OTEL_EXPORTER_OTLP_ENDPOINT: want an absolute http(s) URL such as http://otel-collector:4318")
		}
	}
	for _, a := range []struct {
		name string
		dst  *Threshold
	}{
		{"CONVOT_ALERT_FAILED_SIGN_INS_ACCOUNT", &c.Alerts.FailedSignInsAccount},
		{"CONVOT_ALERT_FAILED_SIGN_INS_IP", &c.Alerts.FailedSignInsIP},
		{"CONVOT_ALERT_GATE_DENIALS", &c.Alerts.GateDenials},
		{"CONVOT_ALERT_BULK_DOWNLOADS", &c.Alerts.BulkDownloads},
	} {
		if *a.dst, err = ParseThreshold(get(a.name)); err != nil {
			return nil, fmt.Errorf("%s: %w", a.name, err)
		}
	}
	switch get("CONVOT_ALERT_NEW_COUNTRY") {
	case "on":
		c.Alerts.NewCountry = true
	case "off":
	default:
		return nil, errors.New("CONVOT_ALERT_NEW_COUNTRY: want on or off")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return nil, errors.New("CONVOT_LOG_LEVEL: want debug, info, warn or error")
	}
	return c, nil
}

// validDomain accepts a host name of dot-separated labels (letters,
// digits, hyphens), at least two labels.
func validDomain(d string) bool {
	labels := strings.Split(d, ".")
	if len(d) > 253 || len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
				return false
			}
		}
	}
	return true
}

func port(s string) (int, error) {
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > 65535 {
		return 0, fmt.Errorf("want a port number, got %q", s)
	}
	return p, nil
}

// Configured tells, per subprocessor of the registry, whether this
// deployment sends it anything. AWS counts as configured for hosting even
// when files stay on local disk only if a bucket is set.
func (c *Config) Configured() map[string]bool {
	return map[string]bool{
		"aws": c.S3Bucket != "", "stripe": c.StripeSecretKey != "", "postmark": c.PostmarkServerToken != "",
		"sentry": c.SentryDSN != "", "redis": c.RedisURL != "", "shopify": c.ShopifyAPIKey != "" && c.ShopifyAPISecret != "",
		"anthropic": c.AnthropicAPIKey != "", "openai": c.OpenAIAPIKey != "",
	}
}

// TLS reports whether the server terminates TLS itself or sits behind an
// https base URL; cookies are Secure and HSTS is sent then.
func (c *Config) TLS() bool {
	return c.TLSCert != "" || c.BaseURL.Scheme == "https"
}

// Timeouts shared by the HTTP server.
const (
	ReadHeaderTimeout = 10 * time.Second
	ShutdownTimeout   = 15 * time.Second
)

// regions are the regions a deployment may run in (as models.Regions, the
// regions an organization may choose; policy §7 names the EEA, the United
// Kingdom and Switzerland).
var regions = []string{"us", "eu", "uk", "ch"}

// AlertThresholds are the thresholds of the unusual-activity alerts
// (CONVOT_ALERT_*): a zero Threshold is a rule turned off.
type AlertThresholds struct {
	FailedSignInsAccount, FailedSignInsIP, GateDenials, BulkDownloads Threshold
	// NewCountry alerts on a sign-in from a country not seen before for
	// the account.
	NewCountry bool
}

// Threshold is COUNT events within Window.
type Threshold struct {
	Count  int
	Window time.Duration
}

// Off reports whether the rule is turned off.
func (t Threshold) Off() bool { return t.Count == 0 }

// ParseThreshold reads COUNT/DURATION (e.g. 10/1h), or off.
func ParseThreshold(s string) (Threshold, error) {
	if s == "off" {
		return Threshold{}, nil
	}
	count, window, ok := strings.Cut(s, "/")
	n, err := strconv.Atoi(count)
	if !ok || err != nil || n < 1 || n > 1_000_000 {
		return Threshold{}, errors.New("want COUNT/DURATION such as 10/1h (a count from 1), or off")
	}
	d, err := time.ParseDuration(window)
	if err != nil || d < time.Minute || d > 7*24*time.Hour {
		return Threshold{}, errors.New("want COUNT/DURATION such as 10/1h, the duration from 1m to 168h")
	}
	return Threshold{Count: n, Window: d}, nil
}
