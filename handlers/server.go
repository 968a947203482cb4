// Package handlers composes Convot's HTTP surfaces, each a package of its
// own (site, codec, widget, privacy, billing, webhooks, dashboard), from
// the dependencies cmd/convot gives it, and answers the health probe.
package handlers

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/sdk/client"

	"github.com/convot/convot/alerts"
	"github.com/convot/convot/assist"
	"github.com/convot/convot/closure"
	"github.com/convot/convot/contacts"
	"github.com/convot/convot/conversation"
	"github.com/convot/convot/disclosures"
	"github.com/convot/convot/dsr"
	"github.com/convot/convot/handlers/billing"
	"github.com/convot/convot/handlers/codec"
	"github.com/convot/convot/handlers/dashboard"
	"github.com/convot/convot/handlers/privacy"
	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/handlers/webhooks"
	"github.com/convot/convot/handlers/widget"
	"github.com/convot/convot/internal/blob"
	"github.com/convot/convot/internal/config"
	"github.com/convot/convot/internal/geoip"
	"github.com/convot/convot/internal/mail"
	"github.com/convot/convot/internal/metrics"
	"github.com/convot/convot/internal/payloads"
	"github.com/convot/convot/internal/ratelimit"
	"github.com/convot/convot/internal/realtime"
	"github.com/convot/convot/internal/tracing"
	"github.com/convot/convot/models"
	"github.com/convot/convot/outgoing"
	"github.com/convot/convot/plans"
	"github.com/convot/convot/security"
	"github.com/convot/convot/shopify"
	"github.com/convot/convot/store"
	"github.com/convot/convot/subprocessors"
	"github.com/convot/convot/subscriptions"
	"github.com/convot/convot/web"
)

// Server holds what the handlers need.
type Server struct {
	// Store is every query of tenant data: handlers call it and never
	// build a query themselves. Keys is its key store (sealing, blind
	// indexes), taken from Store when nil.
	Store  *store.Store
	Keys   *models.KeyStore
	Config *config.Config
	Mail   mail.Sender
	// Outbox is set in the embedded default: the dev mailbox page shows it.
	Outbox *mail.Outbox
	// PayloadCodec, when set, is served at /codec for the Temporal UI at
	// TemporalUIURL (where officers open workflows; links use it).
	PayloadCodec  *payloads.Codec
	TemporalUIURL string
	// TemporalUIUpstream, when set, is the Temporal UI server (run with
	// the public path codec.UIPath), proxied at that path to officers
	// and staff signed in to the dashboard (CONVOT_TEMPORAL_UI_URL);
	// TemporalUIURL is then the base URL followed by that path.
	TemporalUIUpstream *url.URL
	// Temporal starts, signals and queries the workflows that carry
	// long-running obligations (DSR deadlines, cancellation grace, breach
	// notices). Nil only in tests that need none.
	Temporal client.Client
	// Lifecycles signals conversation workflows; built on Temporal when
	// nil and Temporal is set.
	Lifecycles conversation.Lifecycles
	// Hub carries live events to sockets (in-process, or Redis across
	// nodes); Blobs keeps sealed attachments (disk or S3).
	Hub   realtime.Hub
	Blobs blob.Store
	// GeoIP gives the widget's visitors a country (nil: no GeoIP database,
	// no country); WidgetLimits overrides widget.DefaultLimits.
	GeoIP        *geoip.DB
	WidgetLimits *widget.Limits
	// RateLimits makes the rate limiters (sign-in attempts, the widget
	// API): shared by the web nodes through Redis when set, else counted
	// on this node (ratelimit.LocalStore).
	RateLimits ratelimit.Store
	// Stripe is the gated billing client (nil: billing is off);
	// Cancellations runs account cancellations, on Temporal when nil and
	// Temporal is set. Both are read at each request, so a test may set
	// them after New (which reads Stripe once: do plan limits apply).
	Stripe        *subprocessors.Stripe
	Cancellations closure.Cancellations
	// PrivacyIntake takes mail sent to the privacy address (inbound
	// webhook) as a data-subject request; New sets the dsr intake's
	// ReceiveMail when nil. Nil afterwards: such mail is refused with 503
	// and Postmark delivers it again later (handlers/webhooks).
	PrivacyIntake PrivacyIntake
	// PrivacyWorkflows runs data-subject requests (dsr-<id>); on Temporal
	// when nil and Temporal is set. Read once, by New.
	PrivacyWorkflows dsr.Workflows
	// Breaches starts and signals incident workflows (breach-<id>); on
	// Temporal when nil and Temporal is set (handlers/dashboard/incidents.go).
	Breaches dashboard.BreachWorkflows
	// VulnerabilityWorkflows runs vulnerability reports
	// (vulnerability-report-<id>); on Temporal when nil and Temporal is
	// set. Read at each request.
	VulnerabilityWorkflows security.Workflows
	// DisclosureWorkflows runs disclosure requests (disclosure-<id>); on
	// Temporal when nil and Temporal is set. Read at each request.
	DisclosureWorkflows disclosures.Workflows
	// Shopify is the Convot Shopify app (nil: off); read at each request.
	Shopify *shopify.App
	// CustomerEndpoints is the gated, SSRF-guarded client of Customers'
	// webhook endpoints (nil: endpoints cannot be added); read at each
	// request. WebhookDispatcher starts the deliveries' workflows: New
	// runs one when given a Temporal client; Close stops it.
	CustomerEndpoints *subprocessors.CustomerEndpoints
	WebhookDispatcher *outgoing.Dispatcher
	// Alerts raises the unusual-activity alerts of failed sign-ins,
	// sign-ins from a new country and bulk downloads (nil: none).
	Alerts *alerts.Monitor
	// intake takes data-subject requests (built by the privacy surface).
	intake *dsr.Intake

	// AI is the AI providers this deployment configured (assist.Configure);
	// nil is the local provider only. Assist runs them, built by New.
	AI     assist.Catalog
	Assist *assist.Service

	// Conversations and Plans are the domain the surfaces call, built by
	// New from the fields above. A test that swaps a field after New (Hub,
	// Mail, Stripe) sets the service's copy too.
	Conversations *conversation.Service
	Plans         *plans.Limits

	// Drainer delivers the lifecycle outbox to Temporal: New starts it
	// when given a Temporal client and no Lifecycles; Close stops it.
	Drainer    *conversation.OutboxDrainer
	stopDrain  context.CancelFunc
	drained    chan struct{}
	dispatched chan struct{}

	// Site is the frame every surface shares (pages, sessions, CSRF,
	// audit, mail), built by New from the fields above.
	*site.Site
	now func() time.Time
	// widget is the widget API New mounted: the settings page (and tests)
	// drop its cached organizations after a change.
	widget *widget.Handler
	// dashboard is the operator dashboard New mounted: tests send
	// marketing through it.
	dashboard *dashboard.Handler
	// contacts merges contacts and proves claimed addresses, for the
	// widget (identify) and the dashboard (an operator's merge).
	contacts *contacts.Service
}

// Close stops the outbox drain, waiting for its batch until ctx ends. What
// is left in the outbox stays there for the other nodes, or for this one
// when it starts again: a signal is lost neither way.
func (s *Server) Close(ctx context.Context) {
	if s.stopDrain == nil {
		return
	}
	s.stopDrain()
	for _, done := range []chan struct{}{s.drained, s.dispatched} {
		select {
		case <-done:
		case <-ctx.Done():
		}
	}
}

// New builds the HTTP handler.
func New(s *Server) (http.Handler, error) {
	pages, err := web.Load()
	if err != nil {
		return nil, err
	}
	if s.Store == nil {
		return nil, errors.New("handlers: a store is required")
	}
	if s.Keys == nil {
		s.Keys = s.Store.Keys()
	}
	if s.RateLimits == nil {
		s.RateLimits = ratelimit.LocalStore{}
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.Site = &site.Site{Store: s.Store, Config: s.Config, Mail: s.Mail, Pages: pages, Now: s.now, Dev: s.Outbox != nil,
		BodyLimits: map[string]int64{}, RawBodies: map[string]bool{}, Throttle: s.RateLimits.Limiter("attempts", site.AttemptRate),
		Alerts: s.Alerts}
	// Lifecycle signals go through the outbox whenever there is a
	// Temporal to drain it to; tests without one record them.
	outbox := s.Lifecycles == nil && s.Temporal != nil
	if s.Hub == nil {
		s.Hub = realtime.NewLocal()
	}
	if s.Blobs == nil {
		return nil, errors.New("handlers: a blob store is required")
	}
	// The clock is read through s at each call: a test may set s.now after
	// New. The billing URL too: the base URL may be known only once the
	// server listens.
	clock := func() time.Time { return s.now() }
	s.Plans = &plans.Limits{Store: s.Store, Apply: s.Stripe != nil, Now: clock,
		Mail: s.Mail, MailFrom: s.Config.MailFrom, BillingURL: func() string { return s.billingURL() }}
	s.Conversations = &conversation.Service{Store: s.Store, Keys: s.Keys, Hub: s.Hub, Blobs: s.Blobs,
		Lifecycles: s.Lifecycles, LifecycleOutbox: outbox, Plans: s.Plans, Now: clock}
	s.Assist = assist.NewService(s.Store, s.AI)
	s.contacts = &contacts.Service{Store: s.Store, Keys: s.Keys, Blobs: s.Blobs, Conversations: s.Conversations,
		Mail: s.Mail, From: s.Config.MailFrom, Now: clock}
	if outbox {
		s.Drainer = &conversation.OutboxDrainer{Store: s.Store, Temporal: s.Temporal}
		ctx, cancel := context.WithCancel(context.Background())
		s.stopDrain, s.drained = cancel, make(chan struct{})
		go func() {
			defer close(s.drained)
			s.Drainer.Run(ctx)
		}()
		// The webhook outbox too: its events were written with their
		// changes; the dispatcher starts their deliveries.
		s.WebhookDispatcher = &outgoing.Dispatcher{Store: s.Store, Temporal: s.Temporal}
		s.dispatched = make(chan struct{})
		go func() {
			defer close(s.dispatched)
			s.WebhookDispatcher.Run(ctx)
		}()
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	// Errors reach Sentry scrubbed by the egress gate (only when SENTRY_DSN
	// set it up); without Sentry the middleware only recovers panics.
	r.Use(subprocessors.SentryGin())
	// Client IPs come from the connection unless a proxy is configured.
	if err := r.SetTrustedProxies(nil); err != nil {
		return nil, err
	}
	r.Use(observeRequests, traceRequests, s.SecurityHeaders, s.LimitBody, s.CheckText)
	r.StaticFS("/static", web.Static())
	r.GET("/healthz", s.healthz)
	r.GET("/readyz", s.readyz)
	if s.PayloadCodec != nil {
		(&codec.Handler{Store: s.Store, Codec: s.PayloadCodec, UIURL: s.TemporalUIURL, Now: s.now}).Routes(r)
	}
	if s.TemporalUIUpstream != nil {
		(&codec.UI{Site: s.Site, Store: s.Store, Upstream: s.TemporalUIUpstream}).Routes(r)
	}
	// The widget's API answers other sites (CORS, visitor tokens): no
	// dashboard session or CSRF cookie applies to it (handlers/widget).
	s.widget = s.widgetSurface()
	s.widget.Routes(r)
	// The operator dashboard (handlers/dashboard), and the privacy policy
	// it publishes at /privacy.
	s.dashboard = s.dashboardSurface()
	s.dashboard.PublicRoutes(r)
	// Stripe's webhooks (signed), Postmark's (basic auth) and one-click
	// unsubscribe links (the token is the credential): no session or CSRF
	// cookie applies to them (handlers/webhooks).
	s.webhooksSurface().Routes(r)
	// Data-subject requests: the public intake, its JSON API, the privacy
	// officer's pages (handlers/privacy, over the domain in dsr).
	s.privacySurface().Routes(r)

	// A closed (cancelled) organization is read-only until reactivated.
	dash := r.Group("/", s.CSRF, s.LoadSession, s.ReadOnlyWhenCancelled)
	s.dashboard.Routes(dash)
	s.billingSurface().Routes(dash)
	r.NoRoute(func(c *gin.Context) {
		if headAsGet(r, c) {
			return
		}
		s.Fail(c, http.StatusNotFound, "Not found", "There is nothing at this address.")
	})
	return r, nil
}

// privacySurface builds the privacy pages (handlers/privacy) and their
// intake (dsr) from the server's fields, and makes that intake the
// default taker of mail to the privacy address.
func (s *Server) privacySurface() *privacy.Handler {
	if s.PrivacyWorkflows == nil && s.Temporal != nil {
		s.PrivacyWorkflows = dsr.TemporalWorkflows{Client: s.Temporal}
	}
	intake := &dsr.Intake{Store: s.Store, Keys: s.Keys, Mail: s.Mail, Workflows: s.PrivacyWorkflows, Now: s.now, Config: s.Config}
	s.intake = intake
	if s.PrivacyIntake == nil {
		s.PrivacyIntake = intake.ReceiveMail
	}
	return &privacy.Handler{Site: s.Site, Intake: intake, Workflows: s.PrivacyWorkflows, Keys: s.Keys, Blobs: s.Blobs,
		WorkflowURL: s.dashboard.WorkflowURL, ContactLabel: dashboard.ContactLabel, ForgetLiveSubject: s.Conversations.ForgetLiveSubject}
}

// billingSurface builds the billing pages (handlers/billing). Stripe and
// the cancellations are read through s at each request: a test (or
// cmd/convot) may set them after New.
func (s *Server) billingSurface() *billing.Handler {
	return &billing.Handler{Site: s.Site, Plans: s.Plans,
		Stripe:        func() *subprocessors.Stripe { return s.Stripe },
		Cancellations: s.cancellations}
}

// PrivacyIntake takes mail to the privacy address as a data-subject
// request (webhooks.PrivacyIntake); kept here for Server's field.
type PrivacyIntake = webhooks.PrivacyIntake

// webhooksSurface builds the Stripe and Postmark webhooks and the
// unsubscribe links (handlers/webhooks). Stripe, the accounts and the
// privacy intake are read through s at each request: a test (or
// cmd/convot) may set them after New.
func (s *Server) webhooksSurface() *webhooks.Handler {
	return &webhooks.Handler{Site: s.Site, Conversations: s.Conversations, Keys: s.Keys,
		Stripe:               func() *subprocessors.Stripe { return s.Stripe },
		Accounts:             s.accounts,
		PrivacyIntake:        func() webhooks.PrivacyIntake { return s.PrivacyIntake },
		ShopifyApp:           func() *shopify.App { return s.Shopify },
		ShopifyIntake:        func() *dsr.Intake { return s.intake },
		VulnerabilityReports: s.vulnerabilityReports}
}

// vulnerabilityReports takes and tracks vulnerability reports with the
// workflows configured now (package security).
func (s *Server) vulnerabilityReports() *security.Reports {
	w := s.VulnerabilityWorkflows
	if w == nil && s.Temporal != nil {
		w = security.TemporalWorkflows{Client: s.Temporal}
	}
	return &security.Reports{Store: s.Store, Workflows: w, Now: s.now}
}

// cancellations is the configured closure.Cancellations: Cancellations,
// else the workflows on Temporal, else nil.
func (s *Server) cancellations() closure.Cancellations {
	if s.Cancellations != nil {
		return s.Cancellations
	}
	if s.Temporal != nil {
		return closure.TemporalCancellations{Client: s.Temporal, Now: s.now}
	}
	return nil
}

// accounts closes and reactivates accounts (package closure) with the
// clients configured now.
func (s *Server) accounts() *closure.Accounts {
	return &closure.Accounts{Store: s.Store, Cancellations: s.cancellations(), Stripe: s.Stripe, Now: s.now}
}

// billingURL is the billing page's address, for mail; read at each call
// (the base URL may be known only once the server listens).
func (s *Server) billingURL() string { return subscriptions.PageURL(s.Config.BaseURL, "") }

// widgetSurface builds the widget API (handlers/widget) from the server's
// fields. The hub and the GeoIP database are read at each request: a test
// may set them after New.
func (s *Server) widgetSurface() *widget.Handler {
	limits := widget.DefaultLimits
	if s.WidgetLimits != nil {
		limits = *s.WidgetLimits
	}
	return &widget.Handler{Site: s.Site, Conversations: s.Conversations, Plans: s.Plans, Contacts: s.contacts,
		Hub:      func() realtime.Hub { return s.Hub },
		GeoIP:    func() *geoip.DB { return s.GeoIP },
		Limiters: widget.NewLimiters(s.RateLimits, limits)}
}

// dashboardSurface builds the operator dashboard (handlers/dashboard). The
// hub and the breach workflows are read through s at each request: a test
// may set them after New.
func (s *Server) dashboardSurface() *dashboard.Handler {
	return &dashboard.Handler{Site: s.Site, Conversations: s.Conversations, Plans: s.Plans, Keys: s.Keys, Contacts: s.contacts,
		Assist:               s.Assist,
		Hub:                  func() realtime.Hub { return s.Hub },
		Breaches:             s.breaches,
		TemporalUIURL:        s.TemporalUIURL,
		Outbox:               s.Outbox,
		ForgetOrganization:   s.widget.ForgetOrganization,
		OrgContext:           s.orgContextByID,
		ShopifyApp:           func() *shopify.App { return s.Shopify },
		VulnerabilityReports: s.vulnerabilityReports,
		Disclosures:          s.disclosureRegister,
		PrivacyIntake:        func() *dsr.Intake { return s.intake },
		Webhooks:             s.webhookEndpoints}
}

// disclosureRegister is the register of disclosure requests with the workflows
// configured now (package disclosures).
func (s *Server) disclosureRegister() *disclosures.Register {
	var w disclosures.Workflows
	if s.DisclosureWorkflows != nil {
		w = s.DisclosureWorkflows
	} else if s.Temporal != nil {
		w = disclosures.TemporalWorkflows{Client: s.Temporal}
	}
	return &disclosures.Register{Store: s.Store, Workflows: w, Now: s.now}
}

// webhookEndpoints manages Customers' endpoints with the client configured
// now (nil without one). Plain HTTP and private addresses: convot dev only.
func (s *Server) webhookEndpoints() *outgoing.Endpoints {
	if s.CustomerEndpoints == nil {
		return nil
	}
	return &outgoing.Endpoints{Store: s.Store, Client: s.CustomerEndpoints, AllowHTTP: s.Config.Dev, Now: s.now}
}

// breaches is the configured dashboard.BreachWorkflows: Breaches, else
// the workflows on Temporal, else nil.
func (s *Server) breaches() dashboard.BreachWorkflows {
	if s.Breaches != nil {
		return s.Breaches
	}
	if s.Temporal != nil {
		return dashboard.TemporalBreaches{Client: s.Temporal}
	}
	return nil
}

func (s *Server) healthz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	if err := s.Store.Ping(ctx); err != nil {
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "error": "database unreachable"})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// traceRequests makes each request a span of its trace when tracing is
// on (OTEL_EXPORTER_OTLP_ENDPOINT), named by route template; its
// attributes are the method, the route template and the status code only.
func traceRequests(c *gin.Context) {
	if !tracing.Enabled() {
		c.Next()
		return
	}
	ctx, end := tracing.StartRequest(c.Request, c.FullPath())
	c.Request = c.Request.WithContext(ctx)
	defer func() { end(c.Writer.Status()) }()
	c.Next()
}

// observeRequests records each request's count and latency by route
// template (never the raw path: ids would make a series per row).
func observeRequests(c *gin.Context) {
	start := time.Now()
	c.Next()
	metrics.ObserveRequest(c.Request.Method, c.FullPath(), c.Writer.Status(), time.Since(start))
}
