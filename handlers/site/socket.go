package site

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/gin-gonic/gin"

	"github.com/convot/convot/internal/metrics"
	"github.com/convot/convot/internal/realtime"
)

// Live sockets: the inbox and the widget each open one WebSocket, which
// carries the events of the hub topic the reader may see (realtime.LiveEvent JSON)
// and the reader's own small messages (typing, read) the other way.

const (
	socketWriteTimeout = 10 * time.Second
	socketPingEvery    = 25 * time.Second
	socketReadLimit    = 4 << 10 // client messages are tiny (typing, read)
)

// Socket describes one live connection.
type Socket struct {
	Topic string
	// Keep filters events for this reader; nil keeps all.
	Keep func(payload []byte) bool
	// OnMessage handles a message from the client.
	OnMessage func(ctx context.Context, data []byte)
	// Heartbeat runs on connect and with every ping (operator presence).
	Heartbeat func(ctx context.Context)
	// Accept holds the origins and subprotocols allowed.
	Accept *websocket.AcceptOptions
}

// socketPollEvery is how often a client told to poll reads the messages.
const socketPollEvery = 5 * time.Second

// degradeSocket answers a socket the hub cannot feed: the client is told
// to poll (a poll event, then close 1013, try again later), not refused
// with a 500 it would retry at once.
func (s *Site) degradeSocket(c *gin.Context, accept *websocket.AcceptOptions) {
	poll := realtime.PollEvent{Type: realtime.TypePoll, PollMillis: int(socketPollEvery / time.Millisecond)}
	conn, err := websocket.Accept(c.Writer, c.Request, accept)
	if err != nil {
		return // Accept has answered the client
	}
	c.Abort()
	defer func() { _ = conn.CloseNow() }() // after Close it only says so
	ctx, cancel := context.WithTimeout(c.Request.Context(), socketWriteTimeout)
	defer cancel()
	payload, _ := json.Marshal(poll) // a struct of a string and an int
	if err := conn.Write(ctx, websocket.MessageText, payload); err != nil {
		return
	}
	_ = conn.Close(websocket.StatusTryAgainLater, "live updates unavailable; poll") // the socket is over either way
}

// ServeSocket upgrades the request and pumps the hub's events until either
// side goes. The hub subscription is made before the upgrade, so a socket
// that says it is open misses nothing published after that.
func (s *Site) ServeSocket(c *gin.Context, hub realtime.Hub, sock Socket) {
	if hub == nil {
		s.Fail(c, 503, "Unavailable", "Live updates are not available.")
		return
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(c.Request.Context()))
	defer cancel()
	events, unsubscribe, err := hub.Subscribe(ctx, sock.Topic)
	if errors.Is(err, realtime.ErrUnavailable) {
		s.degradeSocket(c, sock.Accept)
		return
	}
	if err != nil {
		s.Internal(c, err)
		return
	}
	defer unsubscribe()
	conn, err := websocket.Accept(c.Writer, c.Request, sock.Accept)
	if err != nil {
		return // Accept has answered the client
	}
	c.Abort()
	defer func() { _ = conn.CloseNow() }() // for early returns; after Close it only says so
	audience := socketAudience(sock.Topic)
	metrics.WebSockets.WithLabelValues(audience).Inc()
	defer metrics.WebSockets.WithLabelValues(audience).Dec()
	conn.SetReadLimit(socketReadLimit)
	if sock.Heartbeat != nil {
		sock.Heartbeat(ctx)
	}
	// Reader: client messages until the client closes.
	go func() {
		defer cancel()
		for {
			typ, data, err := conn.Read(ctx)
			if err != nil {
				return
			}
			if typ == websocket.MessageText && sock.OnMessage != nil {
				sock.OnMessage(ctx, data)
			}
		}
	}()
	ping := time.NewTicker(socketPingEvery)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			_ = conn.Close(websocket.StatusNormalClosure, "") // the socket is over either way
			return
		case payload, ok := <-events:
			if !ok {
				_ = conn.Close(websocket.StatusTryAgainLater, "reconnect") // the socket is over either way
				return
			}
			if sock.Keep != nil && !sock.Keep(payload) {
				continue
			}
			wctx, wcancel := context.WithTimeout(ctx, socketWriteTimeout)
			err := conn.Write(wctx, websocket.MessageText, payload)
			wcancel()
			if err != nil {
				return
			}
			observeDelivery(audience, payload)
		case <-ping.C:
			pctx, pcancel := context.WithTimeout(ctx, socketWriteTimeout)
			err := conn.Ping(pctx)
			pcancel()
			if err != nil {
				if !errors.Is(err, context.Canceled) {
					slog.Debug("socket ping failed", "err", err)
				}
				return
			}
			if sock.Heartbeat != nil {
				sock.Heartbeat(ctx)
			}
		}
	}
}

// socketAudience names who reads a topic, for the metrics: the
// organization's operators or a conversation's visitor.
func socketAudience(topic string) string {
	if strings.HasPrefix(topic, "org.") {
		return "operator"
	}
	return "visitor"
}

// messagePrefix starts every message event (the type is its first field).
var messagePrefix = []byte(`{"type":"message",`)

// observeDelivery records a message's end-to-end latency once it is
// written on a socket: from its creation to now.
func observeDelivery(audience string, payload []byte) {
	if !bytes.HasPrefix(payload, messagePrefix) {
		return
	}
	var e struct {
		Message *struct {
			CreatedAt time.Time `json:"created_at"`
		} `json:"message"`
	}
	if json.Unmarshal(payload, &e) != nil || e.Message == nil || e.Message.CreatedAt.IsZero() {
		return
	}
	metrics.MessageDelivery.WithLabelValues(audience).Observe(time.Since(e.Message.CreatedAt).Seconds())
}
