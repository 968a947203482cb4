package widget

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
)

// Visitors authenticate with the token POST /session handed out; the
// server keeps only its hash.

const (
	// visitorTokenBytes is the visitor token's randomness (192 bits).
	visitorTokenBytes = 24
	// tokenProtocol prefixes the token in a WebSocket's subprotocols.
	tokenProtocol = "token."
	// visitorSeenEvery spaces the writes of a token's last use.
	visitorSeenEvery = time.Hour
)

const badVisitorToken = "Unknown visitor token. Start a new chat session."

// visitorTokenFrom reads the visitor token: the Authorization header, or
// for WebSockets (where browsers cannot set headers) the subprotocol list.
func visitorTokenFrom(r *http.Request) string {
	if scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(token)
	}
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(v, ",") {
			if token, ok := strings.CutPrefix(strings.TrimSpace(p), tokenProtocol); ok {
				return token
			}
		}
	}
	return ""
}

// lookupVisitor finds the organization's visitor token row for a raw
// token, or nil.
func (h *Handler) lookupVisitor(ctx context.Context, org *models.Organization, token string) (*models.VisitorToken, error) {
	if token == "" || len(token) > 200 {
		return nil, nil
	}
	vt, err := h.Store.VisitorToken(ctx, org.ID, crypto.HashToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	h.visitorSeen(ctx, org, vt)
	return vt, nil
}

// visitorSeen records the token's use, at most once an hour.
func (h *Handler) visitorSeen(ctx context.Context, org *models.Organization, vt *models.VisitorToken) {
	if now := h.Now().UTC(); now.Sub(vt.LastSeenAt) > visitorSeenEvery {
		_ = h.Store.TouchVisitorToken(ctx, org.ID, vt.ID, now) // a missed touch only delays the next one
	}
}

// requireVisitor requires a valid visitor token.
func (h *Handler) requireVisitor(c *gin.Context) {
	token := visitorTokenFrom(c.Request)
	if token == "" {
		apiError(c, http.StatusUnauthorized, "Send the visitor token as Authorization: Bearer <token>.")
		return
	}
	vt, ok := h.authenticateVisitor(c, orgOf(c), token)
	if !ok {
		return
	}
	c.Set(ctxVisitor, vt)
	c.Next()
}

// authenticateVisitor finds the visitor of a token and counts the request
// against its rate limit; ok is false when the request has been answered
// (401 for an unknown token, 429 over the limit).
func (h *Handler) authenticateVisitor(c *gin.Context, org *models.Organization, token string) (*models.VisitorToken, bool) {
	vt, err := h.lookupVisitor(c, org, token)
	if err != nil {
		apiInternal(c, err)
		return nil, false
	}
	if vt == nil {
		apiError(c, http.StatusUnauthorized, badVisitorToken)
		return nil, false
	}
	if !h.allow(c, h.Limiters.Requests, vt.TokenHash) {
		return nil, false
	}
	return vt, true
}

// requireVisitorConversation is requireVisitor and requireConversation in
// one read of the database: the token and the conversation together. The
// conversation routes take every message a visitor sends, and a round trip
// saved there is one saved a message. As apart, an unknown token is 401
// before anything about the conversation is said.
func (h *Handler) requireVisitorConversation(c *gin.Context) {
	token := visitorTokenFrom(c.Request)
	if token == "" {
		apiError(c, http.StatusUnauthorized, "Send the visitor token as Authorization: Bearer <token>.")
		return
	}
	id, err := strconv.ParseUint(c.Param("id"), 10, 64)
	if err != nil || len(token) > 200 {
		// No conversation to read with it: the token alone, then 404.
		if _, ok := h.authenticateVisitor(c, orgOf(c), token); ok {
			apiError(c, http.StatusNotFound, "No such conversation.")
		}
		return
	}
	org := orgOf(c)
	vt, conv, err := h.Store.VisitorConversation(c, org.ID, crypto.HashToken(token), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		apiError(c, http.StatusUnauthorized, badVisitorToken)
		return
	case err != nil:
		apiInternal(c, err)
		return
	}
	h.visitorSeen(c, org, vt)
	if !h.allow(c, h.Limiters.Requests, vt.TokenHash) {
		return
	}
	if conv == nil {
		apiError(c, http.StatusNotFound, "No such conversation.")
		return
	}
	c.Set(ctxVisitor, vt)
	c.Set(ctxConversation, conv)
	c.Next()
}

// visitorContact loads the visitor's contact row; when it is gone (401)
// or cannot be read (500) it answers, and ok is false.
func (h *Handler) visitorContact(c *gin.Context, org *models.Organization, vt *models.VisitorToken) (contact *models.Contact, ok bool) {
	ct, err := h.Store.Contact(c, org.ID, vt.ContactID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		apiError(c, http.StatusUnauthorized, badVisitorToken)
		return nil, false
	case err != nil:
		apiInternal(c, err)
		return nil, false
	}
	return ct, true
}
