package realtime

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/convot/convot/internal/testenv"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/subprocessors"
)

func receive(t *testing.T, ch <-chan []byte) string {
	t.Helper()
	select {
	case b := <-ch:
		return string(b)
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
		return ""
	}
}

func TestLocalDeliversToTheTopicOnly(t *testing.T) {
	h := NewLocal()
	ctx := context.Background()
	a, cancelA, _ := h.Subscribe(ctx, "org:1:conversation:1")
	b, _, _ := h.Subscribe(ctx, "org:2:conversation:1")
	if err := h.Publish(ctx, "org:1:conversation:1", Event{Payload: []byte("hello")}); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, a); got != "hello" {
		t.Fatalf("got %q", got)
	}
	select {
	case got := <-b:
		t.Fatalf("another topic received %q", got)
	default:
	}
	cancelA()
	if err := h.Publish(ctx, "org:1:conversation:1", Event{Payload: []byte("after")}); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-a:
		t.Fatalf("cancelled subscriber received %q", got)
	case <-time.After(50 * time.Millisecond):
	}
}

// A slow subscriber loses events but never blocks a publisher.
func TestLocalSlowSubscriberDoesNotBlock(t *testing.T) {
	h := NewLocal()
	if _, _, err := h.Subscribe(context.Background(), "t"); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		for i := 0; i < subscriberBuffer*4; i++ {
			if err := h.Publish(context.Background(), "t", Event{Payload: []byte("x")}); err != nil {
				t.Error(err)
				break
			}
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("publisher blocked on a slow subscriber")
	}
}

// Two web nodes against one Redis: an event published on one reaches a
// subscriber on the other.
func TestRedisAcrossNodes(t *testing.T) {
	url := testenv.Require(t, "REDIS_URL")
	gate, err := policies.NewGate(context.Background(), policies.NewMemoryLog())
	if err != nil {
		t.Fatal(err)
	}
	node := func() *Redis {
		f, err := subprocessors.NewRedisFanout(gate, subprocessors.RedisConfig{URL: url, Region: "eu"})
		if err != nil {
			t.Fatal(err)
		}
		r := NewRedis(f)
		t.Cleanup(func() {
			if err := r.Close(); err != nil {
				t.Error(err)
			}
		})
		return r
	}
	one, two := node(), node()
	ctx := context.Background()
	topic := "test:" + time.Now().Format("150405.000000000")
	ch, cancel, err := two.Subscribe(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	e := Event{Org: policies.OrgContext{ID: 1, Region: "eu"}, Subject: policies.SubjectContext{Kind: "end_user"},
		Categories: []string{"user.content.message"}, Payload: []byte(`{"message_id":1}`)}
	if err := one.Publish(ctx, topic, e); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, ch); got != `{"message_id":1}` {
		t.Fatalf("got %q", got)
	}
	// A US organization's event is not sent to an EU Redis.
	e.Org.Region = "us"
	if err := one.Publish(ctx, topic, e); err == nil {
		t.Fatal("an event crossed into another region's Redis")
	}
}

// A subscription ends with its context, and waiting for that end costs no
// goroutine per subscriber (a node holds thousands of sockets).
func TestLocalSubscriptionsEndWithTheirContextWithoutAGoroutineEach(t *testing.T) {
	h := NewLocal()
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	for range 1000 {
		if _, _, err := h.Subscribe(ctx, "t"); err != nil {
			t.Fatal(err)
		}
	}
	if extra := runtime.NumGoroutine() - before; extra > 100 {
		t.Fatalf("%d goroutines for 1,000 subscriptions", extra)
	}
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for {
		h.mu.RLock()
		n := len(h.subs["t"])
		h.mu.RUnlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d subscribers left after their context ended", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
