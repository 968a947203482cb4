package widget

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/internal/realtime"
)

// subprotocol is the WebSocket protocol the widget speaks; the token
// rides beside it as "token.<token>" (tokenProtocol).
const subprotocol = "convot.v1"

// originPatternEscaper makes an origin a literal path.Match pattern.
var originPatternEscaper = strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`)

// socketTypingEvery bounds how often a visitor's socket relays typing.
const socketTypingEvery = time.Second

// socket carries a conversation's live events to its visitor, and the
// visitor's typing and read receipts back. Every ping re-checks that the
// token still holds the conversation (an identify may have moved it, an
// erasure deleted it); from then on nothing more is delivered.
func (h *Handler) socket(c *gin.Context) {
	org, vt, conv := orgOf(c), visitorOf(c), conversationOf(c)
	var patterns []string
	if origin := c.GetHeader("Origin"); origin != "" {
		// loadOrganization has checked it against the allowed origins; Accept
		// matches patterns with path.Match, so the origin is escaped.
		patterns = []string{originPatternEscaper.Replace(strings.ToLower(origin))}
	}
	var revoked atomic.Bool
	var lastTyping time.Time
	var lastSeen time.Time
	h.ServeSocket(c, h.Hub(), site.Socket{
		Topic: realtime.ConversationTopic(conv.ID),
		Keep: func(payload []byte) bool {
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
		OnMessage: func(ctx context.Context, data []byte) {
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
					h.visitorTyping(ctx, org, conv)
				}
			case "read":
				if err := h.visitorRead(ctx, org, conv, m.MessageID); err != nil && !errors.Is(err, context.Canceled) {
					slog.Warn("visitor read receipt not recorded", "conversation", conv.ID, "err", err)
				}
			}
		},
		Heartbeat: func(ctx context.Context) {
			held, err := h.Store.VisitorHoldsConversation(ctx, org.ID, conv.ID, vt.ID)
			if err == nil && !held {
				revoked.Store(true)
				return
			}
			if now := h.Now().UTC(); err == nil && now.Sub(lastSeen) >= time.Minute {
				lastSeen = now
				_ = h.Store.TouchContact(ctx, org.ID, conv.ContactID, now) // the next minute tries again
			}
		},
		Accept: &websocket.AcceptOptions{Subprotocols: []string{subprotocol}, OriginPatterns: patterns},
	})
}
