// Package widget serves the chat widget and its API (policy §2.2 and §5)
// to the sites of Convot's Customers.
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
//     otherwise 403 with {"error"}: the refusal (and its preflight) carry
//     Access-Control-Allow-Origin so that the widget can show why, and
//     nothing else is answered to that origin. Allowed responses echo Access-Control-Allow-Origin,
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
//     Limits): 20 messages at once then 2/s per visitor; 10 uploads
//     then one per 3 s; 120 requests then 20/s; 600 new visitors then
//     10/s per IP address.
//
// Endpoints (paths relative to /widget/v1/:org):
//
//	POST /session        body {"page_url": "...", "language": "de-DE", "create": bool} (all optional)
//	                     Without an Authorization header and without "create": nothing is
//	                     recorded (contact {"id": 0}, no token): a page view creates no contact.
//	                     Without an Authorization header, with "create": true (the widget sends it
//	                     on the visitor's first message, email or identify): a new contact and
//	                     its token; with
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
//	                     Without identity verification, an identity naming a known contact is
//	                     only claimed: "proof_needed": true, and no history is listed until
//	POST /identify/code  → 200 {"sent": true, "expires_in": seconds} mails a 6-digit code to the
//	                     claimed address (409 nothing claimed or no address; 429 within a minute
//	                     of the last), and
//	POST /identify/confirm body {"code"} → 200 as identify, "merged": true (422 wrong code; 410
//	                     expired or 5 wrong tries: ask again; 409 nothing claimed).
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
//	GET  /conversations/:id/rating       → 200 {"rating": {"score","comment"} or null}
//	POST /conversations/:id/rating       body {"score": 1..5, "comment": "..." (optional, ≤ 2000)}
//	                     → 201 {"rating"}; 422 bad score or comment; 409 not resolved, or
//	                     rated already (one rating per conversation).
//	POST /conversations/:id/handover     "Talk to a person" (body optional, {}) → 200 {"conversation"}
//	                     with "handed_over": true; the automated answers stop for it, the
//	                     operators see "Handed to the team: …", the visitor a notice. 409 when the
//	                     organization has automated answers off; 400 malformed body.
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
package widget

import (
	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
)

// apiPath is where the API of one organization's widget lives; :org is
// its Organization.PublicKey.
const apiPath = "/widget/v1/:org"

// Routes serves the widget script and its API. They answer other sites
// (CORS, visitor tokens), so no dashboard session or CSRF cookie applies.
func (h *Handler) Routes(r *gin.Engine) {
	h.loadScript()
	r.GET("/widget.js", h.serveScript)
	api := r.Group(apiPath, h.loadOrganization)
	api.OPTIONS("/*path", h.preflight)
	api.POST("/session", h.session)
	api.GET("/status", h.status)
	v := api.Group("", h.requireVisitor)
	v.POST("/identify", h.identify)
	v.POST("/identify/code", h.identifyCode)
	v.POST("/identify/confirm", h.identifyConfirm)
	v.POST("/email", h.email)
	v.GET("/conversations", h.conversationList)
	v.POST("/conversations", h.start)
	conv := api.Group("/conversations/:id", h.requireVisitorConversation)
	conv.GET("/messages", h.messages)
	conv.POST("/messages", h.send)
	conv.POST("/attachments", h.upload)
	conv.GET("/attachments/:attachment", h.attachment)
	conv.POST("/typing", h.typing)
	conv.POST("/read", h.read)
	conv.GET("/socket", h.socket)
	conv.GET("/rating", h.rating)
	conv.POST("/rating", h.rate)
	conv.POST("/handover", h.handover)
	// The routes that take a file allow one (site.UploadBodyLimit; JSON on
	// them is limited by readJSON); the rest of the API's JSON is small.
	h.BodyLimits[apiPath+"/conversations"] = site.UploadBodyLimit
	h.BodyLimits[apiPath+"/conversations/:id/attachments"] = site.UploadBodyLimit
	h.LimitBodies(r, apiPath, site.APIBodyLimit)
}
