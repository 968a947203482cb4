package subprocessors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/getsentry/sentry-go"
	"github.com/gin-gonic/gin"

	"github.com/convot/convot/policies"
)

// Sentry (policy §6: "Sensitive fields are scrubbed before transmission").
//
// Every error event passes BeforeSend, which
//  1. asks the egress gate about the event as a flow to Sentry for
//     analytics.reporting.system.performance, declaring the categories of
//     what the event holds (free text is user.content, request cookies and
//     authorization headers user.authorization.credentials, the user's
//     email user.contact.email, ...), and applies the decision with
//     policies.Apply: the policy drops every user.* category for Sentry, so
//     messages, exception values, breadcrumb texts, the request's URL,
//     query, body, cookies and most headers, and the user are withheld;
//  2. strips, whatever the decision, cookies, credential and client-address
//     headers, query strings, request bodies, the user, attachments, source
//     lines and local variables of stack frames;
//  3. replaces, in every remaining text (tags, contexts, breadcrumbs,
//     transaction, fingerprint, exception types, request URL and headers),
//     anything that looks like an email address, an IPv4 or IPv6 address,
//     a bearer or basic credential, a secret query parameter, or a long
//     random token by "[scrubbed]".
//
// A denied event, or one the gate could not decide on, is dropped. The gate
// denies a flow without an organization, and the policy knows no
// organization for Convot's own, system-level events: an event is sent
// only when the code that captured it knew the organization
// (SentryWithOrganization, SentrySetOrganization); the others are denied
// (the denial is in the decision log), dropped and counted
// (SentryDroppedEvents).
//
// Transactions (performance tracing, policy §6) are sent only with a
// traces sample rate above zero (CONVOT_SENTRY_TRACES_SAMPLE_RATE): one a
// sampled HTTP request, named by method and route template. They take
// the same path as errors (BeforeSendTransaction: the gate's decision for
// the request's organization, the strip, the patterns), and their spans'
// descriptions and tags are scrubbed by pattern while the spans' data,
// free-form, is withheld with every user.* category. Logs and metrics
// are not sent at all.

const (
	sentrySubprocessor = "sentry"
	sentryPurpose      = "analytics.reporting.system.performance"
	// SentryScrubbed replaces every value scrubbed from a Sentry event.
	SentryScrubbed = "[scrubbed]"
	// sentryContextKey is the event context holding the organization.
	sentryContextKey = "convot"
	// sentryGateTimeout bounds the gate's decision on one event.
	sentryGateTimeout = 2 * time.Second
)

// Categories of the parts of a Sentry event.
const (
	sentryCatSystem      = "system.operations"
	sentryCatContent     = "user.content"
	sentryCatEmail       = "user.contact.email"
	sentryCatName        = "user.name"
	sentryCatIP          = "user.device.ip_address"
	sentryCatDevice      = "user.device"
	sentryCatCredentials = "user.authorization.credentials"
	sentryCatAccount     = "user.account"
	sentryCatSettings    = "user.account.settings"
	sentryCatBrowsing    = "user.behavior.browsing_history"
	// sentryCatAny is any personal data: a header or value Convot cannot
	// classify more precisely.
	sentryCatAny = "user"
)

// sentryDropped counts the events BeforeSend dropped.
var sentryDropped atomic.Uint64

// SentryDroppedEvents is how many error events were dropped because the
// gate denied them (most often: no organization known) or could not decide.
func SentryDroppedEvents() uint64 { return sentryDropped.Load() }

// InitSentry initialises the process's Sentry client with dsn. With an empty
// dsn it does nothing: no event goes anywhere. Every event is scrubbed
// through gate's decision before it is handed to transport (nil: Sentry's
// HTTP transport); see the comment at the top of this file. A
// tracesSampleRate in (0, 1] sends that share of HTTP requests as
// transactions (performance tracing); 0 sends none.
func InitSentry(dsn string, gate Gate, env string, tracesSampleRate float64, transport sentry.Transport) error {
	if dsn == "" {
		return nil
	}
	if gate == nil {
		return errors.New("subprocessors: sentry: an egress gate is required")
	}
	if tracesSampleRate < 0 || tracesSampleRate > 1 {
		return errors.New("subprocessors: sentry: the traces sample rate is between 0 and 1")
	}
	s := &sentryScrubber{gate: gate}
	err := sentry.Init(sentry.ClientOptions{
		Dsn:              dsn,
		Environment:      env,
		Transport:        transport,
		SendDefaultPII:   false,
		AttachStacktrace: true,
		EnableTracing:    tracesSampleRate > 0,
		TracesSampleRate: tracesSampleRate,
		EnableLogs:       false,
		BeforeSend:       s.beforeSend,
		// Transactions take the errors' path through the gate, their
		// spans scrubbed too.
		BeforeSendTransaction: s.beforeSendTransaction,
		// Logs and metrics have no scrubbing path through the gate: none
		// is sent.
		BeforeSendLog:    func(*sentry.Log) *sentry.Log { return nil },
		BeforeSendMetric: func(*sentry.Metric) *sentry.Metric { return nil },
		// Source lines around stack frames can hold literals; they are not
		// read (and stripped in BeforeSend anyway).
		Integrations: func(in []sentry.Integration) []sentry.Integration {
			return slices.DeleteFunc(slices.Clone(in), func(i sentry.Integration) bool { return i.Name() == "ContextifyFrames" })
		},
	})
	if err != nil {
		return fmt.Errorf("subprocessors: sentry: %w", err)
	}
	return nil
}

// FlushSentry waits up to timeout for buffered events to be sent; it
// reports whether all were.
func FlushSentry(timeout time.Duration) bool { return sentry.Flush(timeout) }

// sentryOrgKey is the context key of the organization of the work at hand.
type sentryOrgKey struct{}

// SentryWithOrganization returns ctx carrying the organization the work
// belongs to; errors captured under it (SentryGin, CaptureWorkerError) are
// sent to Sentry as that organization's flow. Only the organization's ID
// and region go into the event.
func SentryWithOrganization(ctx context.Context, org policies.OrgContext) context.Context {
	return context.WithValue(ctx, sentryOrgKey{}, org)
}

// SentrySetOrganization records on the request of c the organization it
// works for, once known (after authentication, after resolving a widget's
// or a webhook's organization).
func SentrySetOrganization(c *gin.Context, org policies.OrgContext) {
	c.Request = c.Request.WithContext(SentryWithOrganization(c.Request.Context(), org))
}

func sentryOrgFromContext(ctx context.Context) (policies.OrgContext, bool) {
	if ctx == nil {
		return policies.OrgContext{}, false
	}
	org, ok := ctx.Value(sentryOrgKey{}).(policies.OrgContext)
	return org, ok && org.ID > 0
}

// sentryOrgScope puts the organization of ctx into scope, for BeforeSend.
func sentryOrgScope(scope *sentry.Scope, ctx context.Context) {
	if org, ok := sentryOrgFromContext(ctx); ok {
		scope.SetContext(sentryContextKey, sentry.Context{"organization_id": org.ID, "organization_region": org.Region})
	}
}

// sentryOrgFromEvent reads the organization sentryOrgScope recorded.
func sentryOrgFromEvent(ev *sentry.Event) (policies.OrgContext, bool) {
	c, ok := ev.Contexts[sentryContextKey]
	if !ok {
		return policies.OrgContext{}, false
	}
	var org policies.OrgContext
	switch id := c["organization_id"].(type) {
	case uint64:
		org.ID = id
	case float64:
		if id > 0 && id == float64(uint64(id)) {
			org.ID = uint64(id)
		}
	}
	org.Region, _ = c["organization_region"].(string)
	return org, org.ID > 0
}

// SentryGin is the Gin middleware that reports server errors to Sentry: a
// panic (recovered, answered with 500) and any response with a 5xx status
// (with the handler's last c.Error, if any). Events carry the route
// template (c.FullPath()), never the raw URL, its query or the request's
// headers and body; the organization comes from SentrySetOrganization. Put
// it first in the chain. Without an initialised Sentry it only recovers.
func SentryGin() gin.HandlerFunc {
	return func(c *gin.Context) {
		base := sentry.GetHubFromContext(c.Request.Context())
		if base == nil {
			base = sentry.CurrentHub()
		}
		hub := base.Clone()
		c.Request = c.Request.WithContext(sentry.SetHubOnContext(c.Request.Context(), hub))
		if tx := sentryStartTransaction(hub, c); tx != nil {
			// Deferred first, so it runs last: after a panic is recovered.
			defer sentryFinishTransaction(tx, c)
		}
		defer func() {
			r := recover()
			if r == nil {
				return
			}
			if err, ok := r.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(r)
			}
			sentryGinScope(hub, c, http.StatusInternalServerError)
			hub.RecoverWithContext(c.Request.Context(), r)
			if c.Writer.Written() {
				c.Abort()
			} else {
				c.AbortWithStatus(http.StatusInternalServerError)
			}
		}()
		c.Next()
		if status := c.Writer.Status(); status >= http.StatusInternalServerError {
			sentryGinScope(hub, c, status)
			var err error = sentryHTTPStatusError{status: status}
			if last := c.Errors.Last(); last != nil {
				err = last.Err
			}
			sentryCapture(c.Request.Context(), hub, err)
		}
	}
}

// sentryStartTransaction starts the transaction of a request when tracing
// is on (a traces sample rate above zero), named by method and route
// template, never the raw URL; the request's context carries it, so that
// spans started under it are its children. A new trace each time: trace
// headers from the client (baggage may carry anything) are not read.
func sentryStartTransaction(hub *sentry.Hub, c *gin.Context) *sentry.Span {
	client := hub.Client()
	if client == nil || !client.Options().EnableTracing {
		return nil
	}
	tx := sentry.StartTransaction(c.Request.Context(), sentryRouteName(c),
		sentry.WithOpName("http.server"), sentry.WithTransactionSource(sentry.SourceRoute))
	c.Request = c.Request.WithContext(tx.Context())
	return tx
}

// sentryFinishTransaction records the status and the organization (known
// once the handlers ran) and sends the transaction when it was sampled.
func sentryFinishTransaction(tx *sentry.Span, c *gin.Context) {
	status := c.Writer.Status()
	tx.Status = sentry.HTTPtoSpanStatus(status)
	tx.SetTag("http.method", c.Request.Method)
	tx.SetTag("http.route", sentryRoute(c))
	tx.SetTag("http.status_code", strconv.Itoa(status))
	if org, ok := sentryOrgFromContext(c.Request.Context()); ok {
		tx.SetContext(sentryContextKey, sentry.Context{"organization_id": org.ID, "organization_region": org.Region})
	}
	tx.Finish()
}

// sentryRoute is the request's route template.
func sentryRoute(c *gin.Context) string {
	if route := c.FullPath(); route != "" {
		return route
	}
	return "(unmatched route)"
}

// sentryRouteName names a request by method and route template.
func sentryRouteName(c *gin.Context) string { return c.Request.Method + " " + sentryRoute(c) }

// sentryHTTPStatusError stands for a 5xx response without a handler error.
type sentryHTTPStatusError struct{ status int }

func (e sentryHTTPStatusError) Error() string { return "HTTP " + strconv.Itoa(e.status) }

// sentryGinScope describes the request in hub's scope: route template,
// method, status, organization.
func sentryGinScope(hub *sentry.Hub, c *gin.Context, status int) {
	route := sentryRoute(c)
	transaction := sentryRouteName(c)
	hub.ConfigureScope(func(s *sentry.Scope) {
		s.SetTag("surface", "http")
		s.SetTag("http.route", route)
		s.SetTag("http.method", c.Request.Method)
		s.SetTag("http.status_code", strconv.Itoa(status))
		s.SetFingerprint([]string{"{{ default }}", transaction})
		sentryOrgScope(s, c.Request.Context())
		s.AddEventProcessor(func(ev *sentry.Event, _ *sentry.EventHint) *sentry.Event {
			ev.Transaction = transaction
			return ev
		})
	})
}

// CaptureWorkerError reports an error of the Temporal worker (a failed
// activity or workflow task) with the workflow type. The organization comes
// from ctx (SentryWithOrganization); without one the event is dropped.
func CaptureWorkerError(ctx context.Context, err error, workflowType string) {
	if err == nil {
		return
	}
	if ctx == nil {
		ctx = context.Background()
	}
	base := sentry.GetHubFromContext(ctx)
	if base == nil {
		base = sentry.CurrentHub()
	}
	hub := base.Clone()
	hub.ConfigureScope(func(s *sentry.Scope) {
		s.SetTag("surface", "worker")
		s.SetTag("temporal.workflow_type", workflowType)
		s.SetFingerprint([]string{"{{ default }}", "worker " + workflowType})
		sentryOrgScope(s, ctx)
		s.AddEventProcessor(func(ev *sentry.Event, _ *sentry.EventHint) *sentry.Event {
			ev.Transaction = "worker " + workflowType
			return ev
		})
	})
	sentryCapture(ctx, hub, err)
}

// sentryCapture captures err on hub with ctx in the hint (the gate's
// decision is taken under it).
func sentryCapture(ctx context.Context, hub *sentry.Hub, err error) {
	client := hub.Client()
	if client == nil {
		return
	}
	client.CaptureException(err, &sentry.EventHint{Context: ctx, OriginalException: err}, hub.Scope())
}

// sentryScrubber is the BeforeSend of the Sentry client.
type sentryScrubber struct {
	gate Gate
}

// sentryPart is one part of an event: its category, its value, and how to
// write back what the decision lets through (ok=false: withheld).
type sentryPart struct {
	category string
	value    any
	put      func(f policies.Field, ok bool)
}

func (s *sentryScrubber) beforeSend(ev *sentry.Event, hint *sentry.EventHint) *sentry.Event {
	if ev == nil {
		return nil
	}
	return s.decide(ev, hint, nil)
}

// decide asks the gate about ev (with the extra parts a transaction's
// spans add), applies the decision, strips and scrubs.
func (s *sentryScrubber) decide(ev *sentry.Event, hint *sentry.EventHint, extra map[string]sentryPart) *sentry.Event {
	// Without a recorded organization the flow goes to the gate with a
	// missing organization, which it denies (and logs).
	org, _ := sentryOrgFromEvent(ev)
	parts := sentryParts(ev)
	for name, p := range extra {
		parts[name] = p
	}
	fields := make(map[string]policies.Field, len(parts))
	categories := []string{sentryCatSystem}
	for name, p := range parts {
		fields[name] = policies.Field{Category: p.category, Value: p.value}
		if !slices.Contains(categories, p.category) {
			categories = append(categories, p.category)
		}
	}
	slices.Sort(categories)
	ctx := context.Background()
	if hint != nil && hint.Context != nil {
		ctx = context.WithoutCancel(hint.Context)
	}
	ctx, cancel := context.WithTimeout(ctx, sentryGateTimeout)
	defer cancel()
	d, err := authorize(ctx, s.gate, policies.Flow{
		Subprocessor: sentrySubprocessor,
		Purpose:      sentryPurpose,
		Categories:   categories,
		Organization: org,
		// What leaves is system data: the policy drops every personal
		// category for Sentry.
		Subject: policies.SubjectContext{Kind: "none"},
	})
	if err != nil {
		sentryDropped.Add(1)
		return nil
	}
	allowed := policies.Apply(d, fields)
	for name, p := range parts {
		f, ok := allowed[name]
		p.put(f, ok)
	}
	sentryStrip(ev)
	sentryScrubPatterns(ev)
	return ev
}

// beforeSendTransaction is the BeforeSendTransaction of the Sentry
// client: the transaction goes through beforeSend (gate, strip, patterns)
// like an error event, with its spans: their data, free-form, is declared
// user.content (withheld by the policy), their descriptions and tags are
// scrubbed by pattern.
func (s *sentryScrubber) beforeSendTransaction(ev *sentry.Event, hint *sentry.EventHint) *sentry.Event {
	if ev == nil {
		return nil
	}
	spans := ev.Spans
	ev.Spans = nil
	ev = s.beforeSendSpans(ev, hint, spans)
	if ev == nil {
		return nil
	}
	for _, sp := range ev.Spans {
		sp.Description = sentryScrubText(sp.Description)
		sp.Op = sentryScrubText(sp.Op)
		sp.Name = sentryScrubText(sp.Name)
		if sp.Tags != nil {
			tags := make(map[string]string, len(sp.Tags))
			for k, v := range sp.Tags {
				if sentrySensitiveKey(k) {
					v = SentryScrubbed
				}
				tags[sentryScrubText(k)] = sentryScrubText(v)
			}
			sp.Tags = tags
		}
		if sp.Data != nil {
			sp.Data = sentryScrubValue("", sp.Data).(map[string]any)
		}
	}
	return ev
}

// beforeSendSpans is beforeSend with the spans of a transaction as parts
// of the flow: each span's data is user.content, dropped when the gate
// withholds it.
func (s *sentryScrubber) beforeSendSpans(ev *sentry.Event, hint *sentry.EventHint, spans []*sentry.Span) *sentry.Event {
	extra := map[string]sentryPart{}
	for i, sp := range spans {
		if sp == nil {
			continue
		}
		if len(sp.Data) > 0 {
			extra[fmt.Sprintf("span.%d.data", i)] = sentryPart{category: sentryCatContent, value: sp.Data,
				put: func(_ policies.Field, ok bool) {
					if !ok {
						sp.Data = nil
					}
				}}
		}
	}
	ev = s.decide(ev, hint, extra)
	if ev != nil {
		for _, sp := range spans {
			if sp != nil {
				ev.Spans = append(ev.Spans, sp)
			}
		}
	}
	return ev
}

// sentryText is a part for a string field; a withheld value becomes
// withheld.
func sentryText(p *string, category, withheld string) sentryPart {
	return sentryPart{category: category, value: *p, put: func(f policies.Field, ok bool) {
		if !ok {
			*p = withheld
			return
		}
		if v, isString := f.Value.(string); isString {
			*p = v
		} else {
			*p = withheld
		}
	}}
}

// sentryParts lists the parts of ev with their categories. Only non-empty
// parts are listed, so the flow declares what the event holds.
func sentryParts(ev *sentry.Event) map[string]sentryPart {
	parts := map[string]sentryPart{}
	text := func(name string, p *string, category, withheld string) {
		if *p != "" {
			parts[name] = sentryText(p, category, withheld)
		}
	}
	// Free text can hold anything a person typed: user.content.
	text("message", &ev.Message, sentryCatContent, SentryScrubbed)
	for i := range ev.Exception {
		e := &ev.Exception[i]
		text(fmt.Sprintf("exception.%d.value", i), &e.Value, sentryCatContent, SentryScrubbed)
		text(fmt.Sprintf("exception.%d.type", i), &e.Type, sentryCatSystem, "")
	}
	// Breadcrumbs are shared with the scope: the event gets copies.
	if len(ev.Breadcrumbs) > 0 {
		crumbs := make([]*sentry.Breadcrumb, 0, len(ev.Breadcrumbs))
		for i, b := range ev.Breadcrumbs {
			if b == nil {
				continue
			}
			cp := *b
			crumbs = append(crumbs, &cp)
			text(fmt.Sprintf("breadcrumb.%d.message", i), &cp.Message, sentryCatContent, "")
			if len(cp.Data) > 0 {
				parts[fmt.Sprintf("breadcrumb.%d.data", i)] = sentryPart{category: sentryCatContent, value: cp.Data,
					put: func(_ policies.Field, ok bool) {
						if !ok {
							cp.Data = nil
						}
					}}
			}
		}
		ev.Breadcrumbs = crumbs
	}
	if r := ev.Request; r != nil {
		cp := *r
		ev.Request = &cp
		text("request.url", &cp.URL, sentryCatBrowsing, "")
		text("request.query_string", &cp.QueryString, sentryCatBrowsing, "")
		text("request.cookies", &cp.Cookies, sentryCatCredentials, "")
		text("request.data", &cp.Data, sentryCatContent, "")
		text("request.method", &cp.Method, sentryCatSystem, "")
		headers := make(map[string]string, len(cp.Headers))
		for k, v := range cp.Headers {
			headers[k] = v
			parts["request.header."+k] = sentryPart{category: sentryHeaderCategory(k), value: v,
				put: func(f policies.Field, ok bool) {
					if sent, isString := f.Value.(string); ok && isString {
						headers[k] = sent
					} else {
						delete(headers, k)
					}
				}}
		}
		cp.Headers = headers
		env := make(map[string]string, len(cp.Env))
		for k, v := range cp.Env {
			env[k] = v
			category := sentryCatDevice
			if strings.EqualFold(k, "REMOTE_ADDR") {
				category = sentryCatIP
			}
			parts["request.env."+k] = sentryPart{category: category, value: v,
				put: func(f policies.Field, ok bool) {
					if sent, isString := f.Value.(string); ok && isString {
						env[k] = sent
					} else {
						delete(env, k)
					}
				}}
		}
		cp.Env = env
	}
	u := &ev.User
	text("user.id", &u.ID, sentryCatAccount, "")
	text("user.username", &u.Username, sentryCatAccount, "")
	text("user.email", &u.Email, sentryCatEmail, "")
	text("user.ip_address", &u.IPAddress, sentryCatIP, "")
	text("user.name", &u.Name, sentryCatName, "")
	if len(u.Data) > 0 {
		parts["user.data"] = sentryPart{category: sentryCatAny, value: u.Data, put: func(_ policies.Field, ok bool) {
			if !ok {
				u.Data = nil
			}
		}}
	}
	// What Convot's code and the SDK put in: system data, scrubbed by
	// pattern afterwards.
	text("transaction", &ev.Transaction, sentryCatSystem, "")
	if len(ev.Tags) > 0 {
		parts["tags"] = sentryPart{category: sentryCatSystem, value: ev.Tags, put: func(_ policies.Field, ok bool) {
			if !ok {
				ev.Tags = nil
			}
		}}
	}
	if len(ev.Contexts) > 0 {
		parts["contexts"] = sentryPart{category: sentryCatSystem, value: ev.Contexts, put: func(_ policies.Field, ok bool) {
			if !ok {
				ev.Contexts = nil
			}
		}}
	}
	return parts
}

// sentryHeaderCategory classifies a request header.
func sentryHeaderCategory(name string) string {
	switch strings.ToLower(name) {
	case "content-type", "content-length", "accept", "accept-encoding", "host", "connection", "x-request-id":
		return sentryCatSystem
	case "user-agent", "sec-ch-ua", "sec-ch-ua-platform", "sec-ch-ua-mobile":
		return sentryCatDevice
	case "accept-language":
		return sentryCatSettings
	case "referer", "origin":
		return sentryCatBrowsing
	}
	if sentrySensitiveHeader(name) {
		if sentryClientAddressHeader(name) {
			return sentryCatIP
		}
		return sentryCatCredentials
	}
	return sentryCatAny
}

// sentrySensitiveHeader: credentials and client addresses, stripped
// whatever the decision.
func sentrySensitiveHeader(name string) bool {
	switch strings.ToLower(name) {
	case "authorization", "proxy-authorization", "cookie", "set-cookie", "x-csrf-token", "x-xsrf-token",
		"x-api-key", "x-auth-token", "x-convot-signature", "stripe-signature", "x-postmark-signature",
		"x-shopify-hmac-sha256":
		return true
	}
	return sentryClientAddressHeader(name)
}

func sentryClientAddressHeader(name string) bool {
	switch strings.ToLower(name) {
	case "x-forwarded-for", "x-real-ip", "forwarded", "true-client-ip", "cf-connecting-ip", "x-client-ip":
		return true
	}
	return false
}

// sentryStrip removes, whatever the gate decided, what an event must never
// carry: cookies, credential and client-address headers, query strings,
// request bodies, the user, attachments, source lines and local variables.
func sentryStrip(ev *sentry.Event) {
	if r := ev.Request; r != nil {
		r.Cookies, r.QueryString, r.Data = "", "", ""
		r.Env = nil
		for k := range r.Headers {
			if sentrySensitiveHeader(k) {
				delete(r.Headers, k)
			}
		}
		r.URL = sentryStripURL(r.URL)
	}
	ev.User = sentry.User{}
	ev.Attachments = nil
	ev.Logs, ev.Metrics = nil, nil
	for i := range ev.Exception {
		sentryStripFrames(ev.Exception[i].Stacktrace)
	}
	for i := range ev.Threads {
		sentryStripFrames(ev.Threads[i].Stacktrace)
	}
}

// sentryStripURL drops a URL's user information, query and fragment.
func sentryStripURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return SentryScrubbed
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return u.String()
}

func sentryStripFrames(st *sentry.Stacktrace) {
	if st == nil {
		return
	}
	for i := range st.Frames {
		f := &st.Frames[i]
		f.PreContext, f.ContextLine, f.PostContext, f.Vars = nil, "", nil, nil
	}
}

// Patterns of values scrubbed from every text of an event.
var (
	sentryEmailPattern = regexp.MustCompile(`(?i)[a-z0-9._%+\-]+(?:@|%40)[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,}`)
	// sentryAuthPattern: an HTTP credential with its scheme.
	sentryAuthPattern = regexp.MustCompile(`(?i)\b(bearer|basic|digest)\s+[a-z0-9._~+/=\-]{6,}`)
	// sentrySecretParamPattern: key=value where the key names a secret.
	sentrySecretParamPattern = regexp.MustCompile(`(?i)\b([a-z0-9_\-]*(?:token|password|passwd|secret|api[_-]?key|session|signature|sig|code|auth)[a-z0-9_\-]*)=([^&\s"'<>]+)`)
	sentryIPv4Pattern        = regexp.MustCompile(`\b(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\b`)
	// sentryIPv6Candidate: what could be an IPv6 address; netip decides.
	sentryIPv6Candidate = regexp.MustCompile(`(?:[0-9A-Fa-f]{0,4}:){2,7}(?:(?:[0-9]{1,3}\.){3}[0-9]{1,3}|[0-9A-Fa-f]{1,4})?(?:%[0-9A-Za-z]+)?`)
	// sentryTokenCandidate: a run of 20 or more base64url characters.
	sentryTokenCandidate = regexp.MustCompile(`[A-Za-z0-9_\-]{20,}`)
)

// sentryScrubText replaces emails, credentials, secret parameters, IP
// addresses and long random tokens in s by SentryScrubbed.
func sentryScrubText(s string) string {
	if s == "" || s == SentryScrubbed {
		return s
	}
	s = sentryEmailPattern.ReplaceAllLiteralString(s, SentryScrubbed)
	s = sentryAuthPattern.ReplaceAllString(s, "${1} "+SentryScrubbed)
	s = sentrySecretParamPattern.ReplaceAllString(s, "${1}="+SentryScrubbed)
	s = sentryReplaceIPv6(s)
	s = sentryIPv4Pattern.ReplaceAllLiteralString(s, SentryScrubbed)
	s = sentryTokenCandidate.ReplaceAllStringFunc(s, func(t string) string {
		if sentryLooksRandom(t) {
			return SentryScrubbed
		}
		return t
	})
	return s
}

// sentryReplaceIPv6 replaces the IPv6 addresses in s: candidates that
// netip parses and that do not sit inside a longer word (std::vector).
func sentryReplaceIPv6(s string) string {
	locs := sentryIPv6Candidate.FindAllStringIndex(s, -1)
	if locs == nil {
		return s
	}
	var b strings.Builder
	last := 0
	for _, loc := range locs {
		start, end := loc[0], loc[1]
		cand := s[start:end]
		if strings.Count(cand, ":") < 2 || sentryWordByte(s, start-1) || sentryWordByte(s, end) {
			continue
		}
		if _, err := netip.ParseAddr(cand); err != nil {
			continue
		}
		b.WriteString(s[last:start])
		b.WriteString(SentryScrubbed)
		last = end
	}
	b.WriteString(s[last:])
	return b.String()
}

// sentryWordByte reports whether s[i] exists and is a letter, digit or
// underscore.
func sentryWordByte(s string, i int) bool {
	if i < 0 || i >= len(s) {
		return false
	}
	c := s[i]
	return c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// sentryLooksRandom tells a token (letters and digits mixed) from a long
// word or identifier (sentry_surfaces_test, DataSubjectRequestWorkflow).
func sentryLooksRandom(t string) bool {
	var letters, digits int
	for _, c := range t {
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			letters++
		}
	}
	return digits > 0 && letters > 0 || len(t) >= 40
}

// sentrySensitiveKey: a map key whose value is scrubbed whatever it holds.
func sentrySensitiveKey(k string) bool {
	k = strings.ToLower(k)
	for _, s := range []string{"password", "passwd", "secret", "token", "cookie", "session", "csrf",
		"authorization", "api_key", "apikey", "email", "phone", "ip_address", "credential"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// sentryScrubPatterns scrubs every remaining text of ev by pattern.
func sentryScrubPatterns(ev *sentry.Event) {
	ev.Message = sentryScrubText(ev.Message)
	ev.Transaction = sentryScrubText(ev.Transaction)
	for i, f := range ev.Fingerprint {
		ev.Fingerprint[i] = sentryScrubText(f)
	}
	for i := range ev.Exception {
		e := &ev.Exception[i]
		e.Value = sentryScrubText(e.Value)
		e.Type = sentryScrubText(e.Type)
		if m := e.Mechanism; m != nil {
			m.Description = sentryScrubText(m.Description)
			m.HelpLink = sentryStripURL(m.HelpLink)
			if m.Data != nil {
				m.Data = sentryScrubValue("", m.Data).(map[string]any)
			}
		}
	}
	for _, b := range ev.Breadcrumbs {
		b.Message = sentryScrubText(b.Message)
		b.Category = sentryScrubText(b.Category)
		if b.Data != nil {
			b.Data = sentryScrubValue("", b.Data).(map[string]any)
		}
	}
	if ev.Tags != nil {
		tags := make(map[string]string, len(ev.Tags))
		for k, v := range ev.Tags {
			if sentrySensitiveKey(k) {
				v = SentryScrubbed
			}
			tags[sentryScrubText(k)] = sentryScrubText(v)
		}
		ev.Tags = tags
	}
	if ev.Contexts != nil {
		contexts := make(map[string]sentry.Context, len(ev.Contexts))
		for k, c := range ev.Contexts {
			if c == nil || sentrySensitiveKey(k) {
				continue
			}
			contexts[sentryScrubText(k)] = sentryScrubValue("", map[string]any(c)).(map[string]any)
		}
		ev.Contexts = contexts
	}
	if r := ev.Request; r != nil {
		r.URL = sentryScrubText(r.URL)
		for k, v := range r.Headers {
			r.Headers[k] = sentryScrubText(v)
		}
	}
}

// sentryScrubValue returns v with every string scrubbed; values under a
// sensitive key are replaced whole. Maps and slices are copied, not changed
// in place (the scope shares them).
func sentryScrubValue(key string, v any) any {
	if v == nil {
		return nil
	}
	if key != "" && sentrySensitiveKey(key) {
		return SentryScrubbed
	}
	switch x := v.(type) {
	case string:
		return sentryScrubText(x)
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, vv := range x {
			m[k] = sentryScrubValue(k, vv)
		}
		return m
	case map[string]string:
		m := make(map[string]any, len(x))
		for k, vv := range x {
			m[k] = sentryScrubValue(k, vv)
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, vv := range x {
			out[i] = sentryScrubValue("", vv)
		}
		return out
	case []string:
		out := make([]any, len(x))
		for i, vv := range x {
			out[i] = sentryScrubText(vv)
		}
		return out
	case sentry.TraceID, sentry.SpanID, time.Time, time.Duration, json.Number:
		return x
	}
	switch reflect.ValueOf(v).Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return v
	}
	// Anything else (a struct, a typed map): its JSON form, scrubbed.
	b, err := json.Marshal(v)
	if err != nil {
		return SentryScrubbed
	}
	var generic any
	if err := json.Unmarshal(b, &generic); err != nil {
		return SentryScrubbed
	}
	return sentryScrubValue("", generic)
}
