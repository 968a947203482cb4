package site

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/convot/convot/internal/metrics"
	"github.com/convot/convot/internal/realtime"
)

// deliveries is the count and sum of the message latencies observed for
// audience.
func deliveries(t *testing.T, audience string) (uint64, float64) {
	t.Helper()
	var m dto.Metric
	if err := metrics.MessageDelivery.WithLabelValues(audience).(prometheus.Histogram).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum()
}

// An open socket counts in convot_websocket_connections until it closes;
// a message written on it records its end-to-end latency (from its
// creation) in convot_message_delivery_seconds; other events do not.
func TestSocketMetrics(t *testing.T) {
	gin.SetMode(gin.TestMode)
	hub := realtime.NewLocal()
	s := &Site{}
	r := gin.New()
	r.GET("/ws", func(c *gin.Context) {
		s.ServeSocket(c, hub, Socket{Topic: realtime.OrgTopic(7), Accept: &websocket.AcceptOptions{InsecureSkipVerify: true}})
	})
	srv := httptest.NewServer(r)
	defer srv.Close()
	gauge := metrics.WebSockets.WithLabelValues("operator")
	open0 := testutil.ToFloat64(gauge)
	n0, sum0 := deliveries(t, "operator")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(gauge); got != open0+1 {
		t.Fatalf("open sockets = %v, want %v", got, open0+1)
	}
	created := time.Now().Add(-300 * time.Millisecond)
	msg, _ := json.Marshal(realtime.LiveEvent{Type: "message", ConversationID: 1, Message: &realtime.MessageView{ID: 9, CreatedAt: created}})
	typing, _ := json.Marshal(realtime.LiveEvent{Type: "typing", ConversationID: 1})
	for _, p := range [][]byte{typing, msg} {
		if err := hub.Publish(ctx, realtime.OrgTopic(7), realtime.Event{Payload: p}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := conn.Read(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// The write is observed just after it returns: wait for it.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if n, _ := deliveries(t, "operator"); n > n0 || time.Now().After(deadline) {
			break
		}
	}
	n, sum := deliveries(t, "operator")
	if n != n0+1 || sum-sum0 < 0.3 || sum-sum0 > 5 {
		t.Fatalf("message deliveries: %d (sum %.3fs), want %d with about 0.3s", n, sum-sum0, n0+1)
	}
	_ = conn.Close(websocket.StatusNormalClosure, "")
	for deadline := time.Now().Add(5 * time.Second); testutil.ToFloat64(gauge) != open0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if got := testutil.ToFloat64(gauge); got != open0 {
		t.Fatalf("open sockets after close = %v, want %v", got, open0)
	}
}
