package handlers

// The chat widget and its API (policy §2.2 and §5).
//
// Embedding. A Customer pastes, from Settings → Widget:
//
//	<script src="BASE/widget.js" data-org="PUBLIC_KEY" async></script>
//
// GET /widget.js serves web/static/widget.js (text/javascript). The script
// talks to nothing but its own origin (taken from its src).
//
// API. JSON under /widget/v1/:org, where :org is Organization.PublicKey.
//
//   - CORS: a request with an Origin header is answered only when that
//     origin is one of the organization's allowed origins (Settings →
//     Widget; "https://*.example.com" allows subdomains) or Convot's own;
//     otherwise 403. Allowed responses echo Access-Control-Allow-Origin,
//     expose Retry-After, and always carry Vary: Origin. Preflights
//     (OPTIONS on any API path) get 204 with Allow-Methods GET, POST,
//     OPTIONS and Allow-Headers Authorization, Content-Type. Requests
//     without Origin (server-side clients, load tests) are not
//     CORS-checked.
//   - Visitor auth: "Authorization: Bearer <visitor token>". The token
//     (32 URL-safe base64 characters, 192 random bits) is handed out once
//     by POST /session; the widget keeps it in localStorage under
//     "convot.visitor.<PUBLIC_KEY>"; the server keeps only its SHA-256
//     hash (models.VisitorToken).
//   - Errors: {"error": "..."} with 400 (malformed), 401 (missing or
//     unknown visitor token; identity verification failed), 402 (POST
//     /conversations: the organization's plan has no conversations left
//     this month; messages in started conversations still go), 403 (origin
//     not allowed), 404 (unknown organization key, conversation or
//     attachment, including another visitor's), 409, 413 (body or file
//     too large), 415 (file type not accepted), 422 (empty or too long
//     message, invalid field), 429 (rate limit; Retry-After header and
//     "retry_after" seconds in the body).
//   - Rate limits (across web nodes with Redis, else per node; see
//     WidgetLimits): 20 messages at once then 2/s per visitor; 10 uploads
//     then one per 3 s; 120 requests then 20/s; 600 new visitors then
//     10/s per IP address.
//
// Endpoints (paths relative to /widget/v1/:org):
//
//	POST /session        body {"page_url": "...", "language": "de-DE"} (both optional)
//	                     Without an Authorization header: a new contact and its token; with
//	                     one: that visitor's session (401 if the token is unknown: the widget
//	                     then forgets it and starts a new session).
//	                     Records IP, user agent, browser language (Accept-Language, else
//	                     "language"), page URL (without query or fragment), device type and,
//	                     with a GeoIP database, country.
//	                     → 200 {"token": "..." (only when new), "contact": Contact,
//	                            "settings": {"color","greeting","identity_verification"},
//	                            "operators_online": bool, "accepting_conversations": bool,
//	                            "conversations": [Conversation]}
//	                     accepting_conversations is false while the plan has no
//	                     conversations left this month (POST /conversations → 402).
//	GET  /status         → 200 {"operators_online": bool} (no token needed)
//	POST /identify       body {"name","email","phone","external_id","custom_attributes":{k: string|number|bool|null},
//	                           "user_hash"} → 200 {"contact", "conversations", "merged": bool}
//	                     user_hash = hex(HMAC-SHA256(identity secret, external_id, or email when
//	                     there is no external_id)); required when identity verification is on.
//	POST /email          body {"email"} (offline email capture; never merges) → 200 {"contact"}
//	GET  /conversations  → 200 {"conversations": [Conversation]} (most recent first)
//	POST /conversations  JSON {"body"} or multipart/form-data (file, body) → 201 {"conversation", "message"}
//	GET  /conversations/:id/messages?after_id=N&limit=M (limit ≤ 200, default 100)
//	                     → 200 {"messages": [Message], "has_more": bool}
//	POST /conversations/:id/messages     body {"body"} → 201 {"message": Message} (after commit)
//	POST /conversations/:id/attachments  multipart/form-data: "file" (≤ 10 MB), optional "body"
//	                     → 201 {"message": Message}
//	GET  /conversations/:id/attachments/:attachment → the file's bytes
//	POST /conversations/:id/typing       → 204 (operators see "typing")
//	POST /conversations/:id/read         body {"message_id": N} (0: everything) → 204
//	GET  /conversations/:id/socket       WebSocket; browsers pass the token as a subprotocol:
//	                     new WebSocket(url, ["convot.v1", "token." + token]); the server selects
//	                     "convot.v1". Origin is checked like CORS. Server → client: realtime.LiveEvent JSON
//	                     (message, conversation, typing, read; never private notes). Client →
//	                     server: {"type":"typing"} and {"type":"read","message_id":N}.
//
// Shapes: Contact {"id","name","email","identified"}; Conversation is
// realtime.ConversationView; Message is realtime.MessageView (built by
// package conversation).
//
// The script's own interface (window.ConvotWidget, the data-testid names
// of its elements) is described at the top of web/static/widget.js.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/gin-gonic/gin"

	"github.com/convot/convot/conversation"
	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/internal/ratelimit"
	"github.com/convot/convot/internal/realtime"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/web"
	"github.com/convot/convot/workflows"
)

const (
	widgetAPI = "/widget/v1/:org"
	// widgetSubprotocol is the WebSocket protocol the widget speaks; the
	// token rides beside it as "token.<token>".
	widgetSubprotocol   = "convot.v1"
	widgetTokenProtocol = "token."
	// visitorTokenBytes is the visitor token's randomness (192 bits).
	visitorTokenBytes = 24

	ctxWidgetOrg  = "convot.widget.org"
	ctxVisitor    = "convot.widget.visitor"
	ctxWidgetConv = "convot.widget.conversation"

	widgetOrgCacheTTL   = 5 * time.Second
	widgetOrgCacheSize  = 10000
	visitorSeenEvery    = time.Hour
	operatorOnlineFor   = time.Minute
	maxPageURL          = 2000
	maxUserAgent        = 500
	maxWidgetMessages   = 200
	widgetConversations = 50
)

// widgetState is what the widget surface keeps in memory on this node.
type widgetState struct {
	script     []byte
	scriptETag string

	messages, uploads, requests, newVisitors ratelimit.Limiter

	orgMu sync.Mutex
	orgs  map[string]cachedOrg
}

type cachedOrg struct {
	org   models.Organization
	until time.Time
}

// forgetOrg drops an organization's cached settings (after a change).
func (w *widgetState) forgetOrg(publicKey string) {
	w.orgMu.Lock()
	delete(w.orgs, publicKey)
	w.orgMu.Unlock()
}

// widgetRoutes serves the widget script and its API. They answer other
// sites, so they sit outside the dashboard's session and CSRF cookies.
func (s *Server) widgetRoutes(r *gin.Engine) {
	limits := DefaultWidgetLimits
	if s.WidgetLimits != nil {
		limits = *s.WidgetLimits
	}
	w := &widgetState{
		messages:    s.RateLimits.Limiter("widget-messages", limits.Messages),
		uploads:     s.RateLimits.Limiter("widget-uploads", limits.Uploads),
		requests:    s.RateLimits.Limiter("widget-requests", limits.Requests),
		newVisitors: s.RateLimits.Limiter("widget-new-visitors", limits.NewVisitors),
		orgs:        map[string]cachedOrg{},
	}
	if f, err := web.Static().Open("widget.js"); err == nil {
		w.script, _ = io.ReadAll(f)
		_ = f.Close() // embedded and read only: nothing to lose
		sum := sha256.Sum256(w.script)
		w.scriptETag = `"` + hex.EncodeToString(sum[:8]) + `"`
	}
	s.widget = w

	r.GET("/widget.js", s.widgetScript)
	api := r.Group(widgetAPI, s.widgetOrg)
	api.OPTIONS("/*path", s.widgetPreflight)
	api.POST("/session", s.widgetSession)
	api.GET("/status", s.widgetStatus)
	v := api.Group("", s.widgetVisitor)
	v.POST("/identify", s.widgetIdentify)
	v.POST("/email", s.widgetEmail)
	v.GET("/conversations", s.widgetConversationList)
	v.POST("/conversations", s.widgetStart)
	conv := v.Group("/conversations/:id", s.widgetConversation)
	conv.GET("/messages", s.widgetMessages)
	conv.POST("/messages", s.widgetSend)
	conv.POST("/attachments", s.widgetUpload)
	conv.GET("/attachments/:attachment", s.widgetAttachment)
	conv.POST("/typing", s.widgetTyping)
	conv.POST("/read", s.widgetRead)
	conv.GET("/socket", s.widgetSocket)
	// Uploads apply their own limit (readUpload); JSON bodies on the same
	// route are limited by readWidgetJSON.
	s.LargeBodies[widgetAPI+"/conversations"] = true
	s.LargeBodies[widgetAPI+"/conversations/:id/attachments"] = true
}

func (s *Server) widgetScript(c *gin.Context) {
	w := s.widget
	if len(w.script) == 0 {
		c.AbortWithStatusJSON(http.StatusNotFound, gin.H{"error": "The widget script is missing from this build."})
		return
	}
	h := c.Writer.Header()
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("ETag", w.scriptETag)
	if c.GetHeader("If-None-Match") == w.scriptETag {
		c.Status(http.StatusNotModified)
		return
	}
	c.Data(http.StatusOK, "text/javascript; charset=utf-8", w.script)
}

// widgetError answers an API error as JSON.
func widgetError(c *gin.Context, status int, msg string) {
	c.AbortWithStatusJSON(status, gin.H{"error": msg})
}

// widgetInternal answers an unexpected failure without detail.
func widgetInternal(c *gin.Context, err error) {
	if errors.Is(err, context.Canceled) {
		c.Abort()
		return
	}
	slog.Error("widget request failed", "route", c.FullPath(), "err", err)
	widgetError(c, http.StatusInternalServerError, "Something went wrong on our side. Please try again.")
}

// widgetOrg loads the organization named by the key and applies CORS.
func (s *Server) widgetOrg(c *gin.Context) {
	// Shared helpers (serveAttachment, serveSocket) answer errors as JSON
	// for JSON clients: every widget client is one.
	c.Request.Header.Set("Accept", "application/json")
	c.Header("Vary", "Origin")
	org, err := s.widgetOrgByKey(c, c.Param("org"))
	if err != nil {
		widgetInternal(c, err)
		return
	}
	if org == nil {
		widgetError(c, http.StatusNotFound, "Unknown organization key. Check the data-org attribute of the widget's script tag.")
		return
	}
	if origin := c.GetHeader("Origin"); origin != "" {
		if !s.widgetOriginAllowed(org, origin) {
			widgetError(c, http.StatusForbidden, "This site is not allowed to use this chat widget. Add its origin to the allowed origins in Convot's widget settings.")
			return
		}
		c.Header("Access-Control-Allow-Origin", origin)
		c.Header("Access-Control-Expose-Headers", "Retry-After")
	}
	c.Set(ctxWidgetOrg, org)
	c.Next()
}

func (s *Server) widgetPreflight(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
	h.Set("Access-Control-Max-Age", "600")
	c.AbortWithStatus(http.StatusNoContent)
}

// widgetOrgByKey returns an active organization by its public key, cached
// briefly (settings changes reach other nodes within widgetOrgCacheTTL).
func (s *Server) widgetOrgByKey(ctx context.Context, key string) (*models.Organization, error) {
	if key == "" || len(key) > 100 {
		return nil, nil
	}
	w := s.widget
	now := time.Now()
	w.orgMu.Lock()
	if e, ok := w.orgs[key]; ok && now.Before(e.until) {
		org := e.org
		w.orgMu.Unlock()
		return &org, nil
	}
	w.orgMu.Unlock()
	org, err := s.Store.WidgetOrganization(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if org.Status != models.OrgActive {
		return nil, nil
	}
	w.orgMu.Lock()
	if len(w.orgs) >= widgetOrgCacheSize {
		w.orgs = map[string]cachedOrg{}
	}
	w.orgs[key] = cachedOrg{org: *org, until: now.Add(widgetOrgCacheTTL)}
	w.orgMu.Unlock()
	return org, nil
}

// widgetOriginAllowed reports whether a browser origin may use the
// organization's widget: one of its allowed origins, or Convot itself.
func (s *Server) widgetOriginAllowed(org *models.Organization, origin string) bool {
	o, ok := normalizeOrigin(origin)
	if !ok {
		return false
	}
	if s.Config.BaseURL != nil {
		if self, ok := normalizeOrigin(s.Config.BaseURL.Scheme + "://" + s.Config.BaseURL.Host); ok && self == o {
			return true
		}
	}
	for _, pattern := range allowedOrigins(org.AllowedOrigins) {
		if originMatches(pattern, o) {
			return true
		}
	}
	return false
}

// allowedOrigins splits the setting into normalized origin patterns.
func allowedOrigins(setting string) []string {
	var out []string
	for _, line := range strings.Split(setting, "\n") {
		if p, ok := normalizeOriginPattern(line); ok {
			out = append(out, p)
		}
	}
	return out
}

// normalizeOrigin turns an origin into scheme://host[:port], lower case,
// without a default port. Anything else (a path, credentials, "null") is
// not an origin.
func normalizeOrigin(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 300 || strings.ContainsAny(s, "*?\\ ") {
		return "", false
	}
	return parseOrigin(s)
}

// normalizeOriginPattern is normalizeOrigin allowing a leading "*." label
// in the host: https://*.example.com.
func normalizeOriginPattern(s string) (string, bool) {
	s = strings.TrimSpace(s)
	wild := false
	if scheme, rest, ok := strings.Cut(s, "://*."); ok {
		wild, s = true, scheme+"://"+rest
	}
	o, ok := normalizeOrigin(s)
	if !ok {
		return "", false
	}
	if wild {
		scheme, host, _ := strings.Cut(o, "://")
		o = scheme + "://*." + host
	}
	return o, true
}

func parseOrigin(s string) (string, bool) {
	u, err := url.Parse(strings.TrimSuffix(s, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", false
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return u.Scheme + "://" + host, true
}

// originPatternEscaper makes an origin a literal path.Match pattern.
var originPatternEscaper = strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`)

// originMatches compares a normalized origin with a normalized pattern.
func originMatches(pattern, origin string) bool {
	if pattern == origin {
		return true
	}
	scheme, host, ok := strings.Cut(pattern, "://*.")
	if !ok {
		return false
	}
	oScheme, oHost, _ := strings.Cut(origin, "://")
	return oScheme == scheme && strings.HasSuffix(oHost, "."+host)
}

// widgetAllow takes a token from a bucket, answering 429 when none is left.
func (s *Server) widgetAllow(c *gin.Context, l ratelimit.Limiter, key string) bool {
	ok, wait := l.Allow(c.Request.Context(), key, s.now())
	if ok {
		return true
	}
	secs := retryAfterSeconds(wait)
	c.Header("Retry-After", strconv.Itoa(secs))
	c.AbortWithStatusJSON(http.StatusTooManyRequests, gin.H{
		"error":       fmt.Sprintf("Too many requests. Try again in %d seconds.", secs),
		"retry_after": secs,
	})
	return false
}

// visitorTokenFrom reads the visitor token: the Authorization header, or
// for WebSockets (where browsers cannot set headers) the subprotocol list.
func visitorTokenFrom(r *http.Request) string {
	if scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(token)
	}
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(v, ",") {
			if token, ok := strings.CutPrefix(strings.TrimSpace(p), widgetTokenProtocol); ok {
				return token
			}
		}
	}
	return ""
}

// lookupVisitor finds the organization's visitor token row for a raw
// token, or nil.
func (s *Server) lookupVisitor(ctx context.Context, org *models.Organization, token string) (*models.VisitorToken, error) {
	if token == "" || len(token) > 200 {
		return nil, nil
	}
	vt, err := s.Store.VisitorToken(ctx, org.ID, crypto.HashToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if now := s.now().UTC(); now.Sub(vt.LastSeenAt) > visitorSeenEvery {
		_ = s.Store.TouchVisitorToken(ctx, org.ID, vt.ID, now) // a missed touch only delays the next one
	}
	return vt, nil
}

const badVisitorToken = "Unknown visitor token. Start a new chat session."

// widgetVisitor requires a valid visitor token.
func (s *Server) widgetVisitor(c *gin.Context) {
	token := visitorTokenFrom(c.Request)
	if token == "" {
		widgetError(c, http.StatusUnauthorized, "Send the visitor token as Authorization: Bearer <token>.")
		return
	}
	vt, ok := s.authenticateVisitor(c, widgetOrgOf(c), token)
	if !ok {
		return
	}
	c.Set(ctxVisitor, vt)
	c.Next()
}

// authenticateVisitor finds the visitor of a token and counts the request
// against its rate limit; ok is false when the request has been answered
// (401 for an unknown token, 429 over the limit).
func (s *Server) authenticateVisitor(c *gin.Context, org *models.Organization, token string) (*models.VisitorToken, bool) {
	vt, err := s.lookupVisitor(c, org, token)
	if err != nil {
		widgetInternal(c, err)
		return nil, false
	}
	if vt == nil {
		widgetError(c, http.StatusUnauthorized, badVisitorToken)
		return nil, false
	}
	if !s.widgetAllow(c, s.widget.requests, vt.TokenHash) {
		return nil, false
	}
	return vt, true
}

// widgetConversation loads one of the visitor's conversations; any other
// (another visitor's, another organization's) is 404.
func (s *Server) widgetConversation(c *gin.Context) {
	id, err := strconv.ParseUint(c.Param("id"), 10, 64)
	if err != nil {
		widgetError(c, http.StatusNotFound, "No such conversation.")
		return
	}
	org, vt := widgetOrgOf(c), visitorOf(c)
	conv, err := s.Store.ContactConversation(c, org.ID, vt.ContactID, id)
	if errors.Is(err, store.ErrNotFound) {
		widgetError(c, http.StatusNotFound, "No such conversation.")
		return
	}
	if err != nil {
		widgetInternal(c, err)
		return
	}
	c.Set(ctxWidgetConv, conv)
	c.Next()
}

func widgetOrgOf(c *gin.Context) *models.Organization {
	v, _ := c.Get(ctxWidgetOrg)
	org, _ := v.(*models.Organization)
	return org
}

func visitorOf(c *gin.Context) *models.VisitorToken {
	v, _ := c.Get(ctxVisitor)
	vt, _ := v.(*models.VisitorToken)
	return vt
}

func widgetConvOf(c *gin.Context) *models.Conversation {
	v, _ := c.Get(ctxWidgetConv)
	conv, _ := v.(*models.Conversation)
	return conv
}

// readWidgetJSON decodes a JSON body within the body limit; optional
// accepts an empty body. It answers 400 or 413 itself.
func (s *Server) readWidgetJSON(c *gin.Context, v any, optional bool) bool {
	if c.Request.ContentLength > s.Config.MaxBodyBytes {
		widgetError(c, http.StatusRequestEntityTooLarge, "The request body is too large.")
		return false
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, s.Config.MaxBodyBytes)
	err := json.NewDecoder(c.Request.Body).Decode(v)
	var tooLarge *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil:
		return true
	case errors.Is(err, io.EOF) && optional:
		return true
	case errors.As(err, &tooLarge):
		widgetError(c, http.StatusRequestEntityTooLarge, "The request body is too large.")
	case errors.Is(err, io.EOF):
		widgetError(c, http.StatusBadRequest, "Send a JSON body.")
	case errors.As(err, &typeErr):
		widgetError(c, http.StatusBadRequest, fmt.Sprintf("The field %q has the wrong type.", typeErr.Field))
	default:
		widgetError(c, http.StatusBadRequest, "The request body is not valid JSON.")
	}
	return false
}

// Views the visitor receives.
type widgetContactView struct {
	ID         uint64 `json:"id"`
	Name       string `json:"name"`
	Email      string `json:"email"`
	Identified bool   `json:"identified"` // the Customer's site identified them (external ID)
}

type widgetSettingsView struct {
	Color                string `json:"color"`
	Greeting             string `json:"greeting"`
	IdentityVerification bool   `json:"identity_verification"`
}

type widgetSessionView struct {
	Token           string             `json:"token,omitempty"`
	Contact         widgetContactView  `json:"contact"`
	Settings        widgetSettingsView `json:"settings"`
	OperatorsOnline bool               `json:"operators_online"`
	// AcceptingConversations is false while the organization's plan has
	// no conversations left this month: a visitor without one cannot
	// start one (POST /conversations answers 402).
	AcceptingConversations bool                        `json:"accepting_conversations"`
	Conversations          []realtime.ConversationView `json:"conversations"`
	Merged                 bool                        `json:"merged,omitempty"`
}

func newWidgetContactView(ct *models.Contact) widgetContactView {
	return widgetContactView{ID: ct.ID, Name: ct.Name, Email: ct.Email, Identified: ct.ExternalID != ""}
}

func widgetSettings(org *models.Organization) widgetSettingsView {
	color := org.WidgetColor
	if !validColor(color) {
		color = models.DefaultWidgetColor
	}
	return widgetSettingsView{Color: color, Greeting: org.WidgetGreeting, IdentityVerification: org.IdentityVerification}
}

// sessionView is what the widget needs to show a visitor their chat.
func (s *Server) sessionView(ctx context.Context, org *models.Organization, ct *models.Contact) (*widgetSessionView, error) {
	online, err := s.operatorsOnline(ctx, org.ID)
	if err != nil {
		return nil, err
	}
	convs, err := s.visitorConversations(ctx, org.ID, ct.ID)
	if err != nil {
		return nil, err
	}
	accepting, err := s.Plans.AcceptingConversations(ctx, org)
	if err != nil {
		return nil, err
	}
	return &widgetSessionView{Contact: newWidgetContactView(ct), Settings: widgetSettings(org), OperatorsOnline: online,
		AcceptingConversations: accepting, Conversations: convs}, nil
}

// operatorsOnline: an operator's inbox socket reported in within a minute.
func (s *Server) operatorsOnline(ctx context.Context, orgID uint64) (bool, error) {
	return s.Store.OperatorsOnline(ctx, orgID, s.now().UTC().Add(-operatorOnlineFor))
}

func (s *Server) visitorConversations(ctx context.Context, orgID, contactID uint64) ([]realtime.ConversationView, error) {
	convs, err := s.Store.ContactConversations(ctx, orgID, contactID, 0, widgetConversations)
	if err != nil {
		return nil, err
	}
	views := make([]realtime.ConversationView, 0, len(convs))
	for i := range convs {
		views = append(views, conversation.NewConversationView(&convs[i]))
	}
	return views, nil
}

type widgetSessionRequest struct {
	PageURL  string `json:"page_url"`
	Language string `json:"language"`
}

// technicalInfo is what policy §2.2 lists of a visitor's browser.
type technicalInfo struct {
	IP, UserAgent, Language, PageURL, DeviceType, Country string
}

func (s *Server) technicalInfoOf(c *gin.Context, req widgetSessionRequest) technicalInfo {
	ua := truncateRunes(c.Request.UserAgent(), maxUserAgent)
	_, _, device := site.DescribeUserAgent(ua)
	ip := c.ClientIP()
	lang := browserLanguage(c.GetHeader("Accept-Language"))
	if lang == "" {
		lang = browserLanguage(req.Language)
	}
	return technicalInfo{IP: ip, UserAgent: ua, Language: lang, PageURL: cleanPageURL(req.PageURL), DeviceType: device, Country: s.GeoIP.Country(ip)}
}

func (t technicalInfo) applyTo(ct *models.Contact, now time.Time) {
	ct.IP, ct.UserAgent, ct.BrowserLanguage, ct.DeviceType, ct.Country = t.IP, t.UserAgent, t.Language, t.DeviceType, t.Country
	if t.PageURL != "" {
		ct.PageURL = t.PageURL
	}
	ct.LastSeenAt = &now
}

var technicalColumns = []string{"ip", "user_agent", "browser_language", "page_url", "device_type", "country", "last_seen_at", "updated_at"}

// browserLanguage keeps the first language tag of an Accept-Language
// header (or navigator.language): "de-DE,de;q=0.9" → "de-DE".
func browserLanguage(h string) string {
	first, _, _ := strings.Cut(h, ",")
	first, _, _ = strings.Cut(first, ";")
	first = strings.TrimSpace(first)
	if first == "" || first == "*" || len(first) > 35 {
		return ""
	}
	for _, r := range first {
		if r != '-' && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return ""
		}
	}
	return first
}

// cleanPageURL keeps the page's address without query, fragment or
// credentials (which may carry tokens of the Customer's site).
func cleanPageURL(raw string) string {
	raw = strings.TrimSpace(raw)
	if raw == "" || len(raw) > 4*maxPageURL {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	u.RawQuery, u.Fragment, u.User, u.RawFragment, u.ForceQuery = "", "", nil, "", false
	out := u.String()
	if len(out) > maxPageURL || !utf8.ValidString(out) {
		return ""
	}
	return out
}

func truncateRunes(s string, n int) string {
	if len(s) <= n {
		return strings.ToValidUTF8(s, "")
	}
	s = s[:n]
	for !utf8.ValidString(s) && len(s) > 0 {
		s = s[:len(s)-1]
	}
	return s
}

// widgetSession starts or resumes a visitor's session.
func (s *Server) widgetSession(c *gin.Context) {
	org := widgetOrgOf(c)
	var req widgetSessionRequest
	if !s.readWidgetJSON(c, &req, true) {
		return
	}
	info := s.technicalInfoOf(c, req)
	now := s.now().UTC()
	var contact models.Contact
	newToken := ""
	if token := visitorTokenFrom(c.Request); token != "" {
		vt, ok := s.authenticateVisitor(c, org, token)
		if !ok {
			return
		}
		ct, err := s.Store.Contact(c, org.ID, vt.ContactID)
		if errors.Is(err, store.ErrNotFound) {
			widgetError(c, http.StatusUnauthorized, badVisitorToken)
			return
		}
		if err != nil {
			widgetInternal(c, err)
			return
		}
		contact = *ct
		info.applyTo(&contact, now)
		if err := s.Store.SaveContactFields(c, org.ID, &contact, technicalColumns...); err != nil {
			widgetInternal(c, err)
			return
		}
	} else {
		if !s.widgetAllow(c, s.widget.newVisitors, "ip:"+c.ClientIP()) {
			return
		}
		newToken = crypto.RandomToken(visitorTokenBytes)
		contact = models.Contact{OrganizationID: org.ID}
		info.applyTo(&contact, now)
		err := s.Store.Tx(c, func(tx *store.Store) error {
			if err := tx.CreateContact(c, &contact); err != nil {
				return err
			}
			return tx.CreateVisitorToken(c, &models.VisitorToken{OrganizationID: org.ID, ContactID: contact.ID,
				TokenHash: crypto.HashToken(newToken), CreatedAt: now, LastSeenAt: now})
		})
		if err != nil {
			widgetInternal(c, err)
			return
		}
	}
	view, err := s.sessionView(c, org, &contact)
	if err != nil {
		widgetInternal(c, err)
		return
	}
	view.Token = newToken
	c.JSON(http.StatusOK, view)
}

func (s *Server) widgetStatus(c *gin.Context) {
	if !s.widgetAllow(c, s.widget.requests, "ip:"+c.ClientIP()) {
		return
	}
	online, err := s.operatorsOnline(c, widgetOrgOf(c).ID)
	if err != nil {
		widgetInternal(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"operators_online": online})
}

func (s *Server) widgetConversationList(c *gin.Context) {
	convs, err := s.visitorConversations(c, widgetOrgOf(c).ID, visitorOf(c).ContactID)
	if err != nil {
		widgetInternal(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"conversations": convs})
}

// visitorContact loads the visitor's contact row.
func (s *Server) visitorContact(ctx context.Context, org *models.Organization, vt *models.VisitorToken) (*models.Contact, error) {
	ct, err := s.Store.Contact(ctx, org.ID, vt.ContactID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return ct, err
}

type widgetMessageRequest struct {
	Body string `json:"body"`
}

// messageError answers an error of Conversations.Post or StoreAttachment.
func messageError(c *gin.Context, err error) {
	var bad conversation.ErrBadMessage
	var badFile conversation.ErrBadAttachment
	switch {
	case errors.As(err, &bad):
		widgetError(c, http.StatusUnprocessableEntity, bad.Msg)
	case errors.As(err, &badFile):
		widgetError(c, attachmentStatus(badFile.Problem), badFile.Msg)
	case errors.Is(err, store.ErrNotFound):
		widgetError(c, http.StatusNotFound, "No such conversation.")
	default:
		widgetInternal(c, err)
	}
}

func isMultipart(c *gin.Context) bool {
	return strings.HasPrefix(strings.ToLower(c.ContentType()), "multipart/form-data")
}

// widgetStart opens a conversation with its first message (text, or a
// file with an optional caption when the body is multipart).
func (s *Server) widgetStart(c *gin.Context) {
	org, vt := widgetOrgOf(c), visitorOf(c)
	if !s.widgetAllow(c, s.widget.messages, vt.TokenHash) {
		return
	}
	var body, name string
	var data []byte
	withFile := isMultipart(c)
	if withFile {
		if !s.widgetAllow(c, s.widget.uploads, vt.TokenHash) {
			return
		}
		var err error
		if name, data, err = readUpload(c); err == nil {
			// Refused before the conversation is started for it.
			_, err = conversation.CheckAttachment(name, data)
		}
		if err != nil {
			messageError(c, err)
			return
		}
		body = c.PostForm("body")
	} else {
		var req widgetMessageRequest
		if !s.readWidgetJSON(c, &req, false) {
			return
		}
		body = req.Body
	}
	files := 0
	if withFile {
		files = 1
	}
	if _, err := conversation.CleanBody(body, files); err != nil {
		messageError(c, err)
		return
	}
	contact, err := s.visitorContact(c, org, vt)
	if err != nil {
		widgetInternal(c, err)
		return
	}
	if contact == nil {
		widgetError(c, http.StatusUnauthorized, badVisitorToken)
		return
	}
	conv, err := s.Conversations.Start(c, s.Store, org, contact, "widget")
	if errors.Is(err, models.ErrConversationLimit) {
		s.conversationLimitReached(c, org)
		return
	}
	if err != nil {
		widgetInternal(c, err)
		return
	}
	var attIDs []uint64
	var att *models.Attachment
	if withFile {
		if att, err = s.Conversations.StoreAttachment(c, org, conv, name, data); err != nil {
			s.discardConversation(org, conv, nil)
			messageError(c, err)
			return
		}
		attIDs = []uint64{att.ID}
	}
	msg, atts, err := s.Conversations.Post(c, org, conv, conversation.Author{Kind: workflows.AuthorContact, ID: contact.ID}, body, false, attIDs)
	if err != nil {
		s.discardConversation(org, conv, att)
		messageError(c, err)
		return
	}
	// Operators learn of the new conversation (its message event was
	// published by Conversations.Post).
	s.Conversations.PublishConversation(c, org, conv)
	c.JSON(http.StatusCreated, gin.H{"conversation": conversation.NewConversationView(conv), "message": s.Conversations.MessageView(c, msg, atts)})
}

// discardConversation removes a conversation whose first message failed.
func (s *Server) discardConversation(org *models.Organization, conv *models.Conversation, att *models.Attachment) {
	ctx := context.Background()
	if att != nil {
		s.discardAttachment(org, att)
	}
	err := s.Store.Tx(ctx, func(tx *store.Store) error {
		deleted, err := tx.DeleteConversation(ctx, org.ID, conv.ID)
		if err != nil || !deleted {
			return err
		}
		// Not started after all: it does not count against the plan.
		return tx.UncountConversationStart(ctx, org.ID, conv.CreatedAt)
	})
	if err != nil {
		slog.Warn("empty conversation not removed", "conversation", conv.ID, "err", err)
	}
}

// discardAttachment removes a stored file that was never sent.
func (s *Server) discardAttachment(org *models.Organization, att *models.Attachment) {
	ctx := context.Background()
	if err := s.Conversations.DeleteAttachmentBlob(ctx, org, att); err != nil {
		slog.Warn("unsent attachment blob not removed", "attachment", att.ID, "err", err)
	}
	_ = s.Store.DeleteUnsentAttachment(ctx, org.ID, att.ID)
}

func (s *Server) widgetMessages(c *gin.Context) {
	org, conv := widgetOrgOf(c), widgetConvOf(c)
	after, err := strconv.ParseUint(c.DefaultQuery("after_id", "0"), 10, 64)
	if err != nil {
		widgetError(c, http.StatusBadRequest, "after_id must be a message ID.")
		return
	}
	limit, err := strconv.Atoi(c.DefaultQuery("limit", "100"))
	if err != nil || limit < 1 || limit > maxWidgetMessages {
		widgetError(c, http.StatusBadRequest, fmt.Sprintf("limit must be between 1 and %d.", maxWidgetMessages))
		return
	}
	views, err := s.Conversations.MessageViews(c, org.ID, conv.ID, false, after, limit+1)
	if err != nil {
		widgetInternal(c, err)
		return
	}
	more := len(views) > limit
	if more {
		views = views[:limit]
	}
	c.JSON(http.StatusOK, gin.H{"messages": views, "has_more": more})
}

func (s *Server) widgetSend(c *gin.Context) {
	org, vt, conv := widgetOrgOf(c), visitorOf(c), widgetConvOf(c)
	if !s.widgetAllow(c, s.widget.messages, vt.TokenHash) {
		return
	}
	var req widgetMessageRequest
	if !s.readWidgetJSON(c, &req, false) {
		return
	}
	msg, atts, err := s.Conversations.Post(c, org, conv, conversation.Author{Kind: workflows.AuthorContact, ID: conv.ContactID}, req.Body, false, nil)
	if err != nil {
		messageError(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"message": s.Conversations.MessageView(c, msg, atts)})
}

func (s *Server) widgetUpload(c *gin.Context) {
	org, vt, conv := widgetOrgOf(c), visitorOf(c), widgetConvOf(c)
	if !s.widgetAllow(c, s.widget.messages, vt.TokenHash) || !s.widgetAllow(c, s.widget.uploads, vt.TokenHash) {
		return
	}
	name, data, err := readUpload(c)
	if err != nil {
		messageError(c, err)
		return
	}
	body := c.PostForm("body")
	if _, err := conversation.CleanBody(body, 1); err != nil {
		messageError(c, err)
		return
	}
	att, err := s.Conversations.StoreAttachment(c, org, conv, name, data)
	if err != nil {
		messageError(c, err)
		return
	}
	msg, atts, err := s.Conversations.Post(c, org, conv, conversation.Author{Kind: workflows.AuthorContact, ID: conv.ContactID}, body, false, []uint64{att.ID})
	if err != nil {
		s.discardAttachment(org, att)
		messageError(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"message": s.Conversations.MessageView(c, msg, atts)})
}

// widgetAttachment serves a file of the visitor's conversation: only one
// that was sent in a message the visitor may see (never a private note's).
func (s *Server) widgetAttachment(c *gin.Context) {
	org, conv := widgetOrgOf(c), widgetConvOf(c)
	id, err := strconv.ParseUint(c.Param("attachment"), 10, 64)
	if err != nil {
		widgetError(c, http.StatusNotFound, "No such file.")
		return
	}
	att, err := s.Store.SentAttachment(c, org.ID, conv.ID, id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		widgetInternal(c, err)
		return
	}
	visible := false
	if att != nil {
		if visible, err = s.Store.PublicMessageExists(c, org.ID, conv.ID, att.MessageID); err != nil {
			widgetInternal(c, err)
			return
		}
	}
	if !visible {
		widgetError(c, http.StatusNotFound, "No such file.")
		return
	}
	s.serveAttachment(c, org, att)
}

// visitorTyping tells the operators that the visitor is typing.
func (s *Server) visitorTyping(ctx context.Context, org *models.Organization, conv *models.Conversation) {
	s.Conversations.Publish(ctx, org, conv, realtime.LiveEvent{Type: "typing", ConversationID: conv.ID, AuthorType: workflows.AuthorContact}, false)
}

func (s *Server) widgetTyping(c *gin.Context) {
	s.visitorTyping(c, widgetOrgOf(c), widgetConvOf(c))
	c.Status(http.StatusNoContent)
}

type widgetReadRequest struct {
	MessageID uint64 `json:"message_id"`
}

// visitorRead marks the conversation read by its visitor up to a message
// (0: the latest).
func (s *Server) visitorRead(ctx context.Context, org *models.Organization, conv *models.Conversation, upTo uint64) error {
	if upTo == 0 {
		last, err := s.Store.LatestMessageIDs(ctx, org.ID, conv.ID, 1)
		if err != nil {
			return err
		}
		if len(last) == 0 {
			return nil
		}
		upTo = last[0]
	}
	return s.Conversations.MarkRead(ctx, org, conv, workflows.AuthorContact, upTo)
}

func (s *Server) widgetRead(c *gin.Context) {
	var req widgetReadRequest
	if !s.readWidgetJSON(c, &req, true) {
		return
	}
	if err := s.visitorRead(c, widgetOrgOf(c), widgetConvOf(c), req.MessageID); err != nil {
		widgetInternal(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

type widgetEmailRequest struct {
	Email string `json:"email"`
}

// widgetEmail keeps the address a visitor leaves when no operator is
// online, so that the reply can reach them. It never merges contacts:
// only identify, from the Customer's site, does.
func (s *Server) widgetEmail(c *gin.Context) {
	org, vt := widgetOrgOf(c), visitorOf(c)
	var req widgetEmailRequest
	if !s.readWidgetJSON(c, &req, false) {
		return
	}
	email, err := validEmail(req.Email)
	if err != nil {
		widgetError(c, http.StatusUnprocessableEntity, err.Error())
		return
	}
	contact, err := s.visitorContact(c, org, vt)
	if err != nil {
		widgetInternal(c, err)
		return
	}
	if contact == nil {
		widgetError(c, http.StatusUnauthorized, badVisitorToken)
		return
	}
	if contact.ExternalID != "" && contact.Email != "" && !strings.EqualFold(contact.Email, email) {
		widgetError(c, http.StatusConflict, "This visitor is signed in on this site; their email address comes from there.")
		return
	}
	contact.Email = email
	contact.UpdatedAt = s.now().UTC()
	if err := s.Store.SaveContactFields(c, org.ID, contact, "email", "email_index", "updated_at"); err != nil {
		widgetInternal(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"contact": newWidgetContactView(contact)})
}

// socketTypingEvery bounds how often a visitor's socket relays typing.
const socketTypingEvery = time.Second

// widgetSocket carries a conversation's live events to its visitor, and the
// visitor's typing and read receipts back. Every ping re-checks that the
// token still holds the conversation (an identify may have moved it, an
// erasure deleted it); from then on nothing more is delivered.
func (s *Server) widgetSocket(c *gin.Context) {
	org, vt, conv := widgetOrgOf(c), visitorOf(c), widgetConvOf(c)
	var patterns []string
	if origin := c.GetHeader("Origin"); origin != "" {
		// widgetOrg has checked it against the allowed origins; Accept
		// matches patterns with path.Match, so the origin is escaped.
		patterns = []string{originPatternEscaper.Replace(strings.ToLower(origin))}
	}
	var revoked atomic.Bool
	var lastTyping time.Time
	var lastSeen time.Time
	s.serveSocket(c, socket{
		topic: realtime.ConversationTopic(conv.ID),
		keep: func(payload []byte) bool {
			if revoked.Load() {
				return false
			}
			var e struct {
				Message *struct {
					Private bool `json:"private"`
				} `json:"message"`
			}
			if json.Unmarshal(payload, &e) != nil {
				return false
			}
			return e.Message == nil || !e.Message.Private
		},
		onMessage: func(ctx context.Context, data []byte) {
			if revoked.Load() {
				return
			}
			var m struct {
				Type      string `json:"type"`
				MessageID uint64 `json:"message_id"`
			}
			if json.Unmarshal(data, &m) != nil {
				return
			}
			switch m.Type {
			case "typing":
				if now := time.Now(); now.Sub(lastTyping) >= socketTypingEvery {
					lastTyping = now
					s.visitorTyping(ctx, org, conv)
				}
			case "read":
				if err := s.visitorRead(ctx, org, conv, m.MessageID); err != nil && !errors.Is(err, context.Canceled) {
					slog.Warn("visitor read receipt not recorded", "conversation", conv.ID, "err", err)
				}
			}
		},
		heartbeat: func(ctx context.Context) {
			held, err := s.Store.VisitorHoldsConversation(ctx, org.ID, conv.ID, vt.ID)
			if err == nil && !held {
				revoked.Store(true)
				return
			}
			if now := s.now().UTC(); err == nil && now.Sub(lastSeen) >= time.Minute {
				lastSeen = now
				_ = s.Store.TouchContact(ctx, org.ID, conv.ContactID, now) // the next minute tries again
			}
		},
		accept: &websocket.AcceptOptions{Subprotocols: []string{widgetSubprotocol}, OriginPatterns: patterns},
	})
}

// validColor accepts #rrggbb.
func validColor(s string) bool {
	if len(s) != 7 || s[0] != '#' {
		return false
	}
	_, err := hex.DecodeString(s[1:])
	return err == nil
}
