package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/convot/convot/internal/realtime"
	"github.com/convot/convot/internal/testenv"
)

// closedRedisURL is a Redis URL on a port nothing listens on.
func closedRedisURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return "redis://" + addr + "/0"
}

// A web node whose Redis is unreachable says so at /readyz (503, naming
// redis) while /healthz stays a liveness check; widget messages are
// answered without waiting for Redis; and the visitor's live socket tells
// the client to poll instead of answering 500.
func TestRedisUnreachableDegradesInsteadOfFailing(t *testing.T) {
	testenv.Require(t, "DATABASE_URL")
	ts := newTestServer(t)
	ts.srv.Hub = redisHub(t, ts, closedRedisURL(t))
	ts.srv.Conversations.Hub = ts.srv.Hub                           // what publishes the events
	w := newInboxWorld(t, ts, "olivia@redisdown.test", "RedisDown") // region eu, as the Redis deployment

	api := ts.URL + "/widget/v1/" + w.org.PublicKey
	token, conv := widgetStart(t, api, "hello")
	msgs := api + "/conversations/" + idText(conv.ID) + "/messages"
	var took []time.Duration
	for range 8 {
		start := time.Now()
		widgetCall(t, http.MethodPost, msgs, token, `{"body":"still there?"}`, http.StatusCreated, nil)
		took = append(took, time.Since(start))
	}
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	t.Logf("widget message with Redis unreachable: median %v, slowest %v", took[len(took)/2], took[len(took)-1])
	// Retried dials cost seconds; one refused dial, or none while the
	// breaker is open, costs milliseconds (the bound leaves room for a
	// loaded test machine).
	if slowest := took[len(took)-1]; slowest > 1500*time.Millisecond {
		t.Fatalf("a widget message took %v with Redis unreachable", slowest)
	}

	resp, err := http.Get(ts.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var ready struct {
		Status string                    `json:"status"`
		Checks map[string]map[string]any `json:"checks"`
	}
	err = json.NewDecoder(resp.Body).Decode(&ready)
	_ = resp.Body.Close() // read, not written: nothing to lose
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable || ready.Checks["redis"]["status"] != "down" || ready.Checks["database"]["status"] != "up" {
		t.Fatalf("/readyz: %d %+v %v", resp.StatusCode, ready, err)
	}
	if n, _ := ready.Checks["redis"]["failures"].(float64); n < 1 {
		t.Fatalf("/readyz counts no Redis failure: %+v", ready.Checks["redis"])
	}
	if r := ts.browser(t).get("/healthz"); r.status != http.StatusOK {
		t.Fatalf("/healthz: %d", r.status)
	}

	// The socket opens, says to poll, and closes with "try again later".
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	u := "ws" + strings.TrimPrefix(api, "http") + "/conversations/" + idText(conv.ID) + "/socket"
	conn, hresp, err := websocket.Dial(ctx, u, &websocket.DialOptions{Subprotocols: []string{"convot.v1", "token." + token}})
	if err != nil {
		status := 0
		if hresp != nil {
			status = hresp.StatusCode
		}
		t.Fatalf("visitor socket with Redis unreachable: HTTP %d: %v", status, err)
	}
	defer func() { _ = conn.CloseNow() }() // the test is over; nothing to report
	_, data, err := conn.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		Type     string `json:"type"`
		PollEach int    `json:"poll_ms"`
	}
	if err := json.Unmarshal(data, &ev); err != nil || ev.Type != realtime.TypePoll || ev.PollEach <= 0 {
		t.Fatalf("first event %s: %v", data, err)
	}
	_, _, err = conn.Read(ctx)
	var closed websocket.CloseError
	if !errors.As(err, &closed) || closed.Code != websocket.StatusTryAgainLater {
		t.Fatalf("socket closed with %v", err)
	}
}
