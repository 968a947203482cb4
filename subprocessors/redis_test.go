package subprocessors

import (
	"context"
	"fmt"
	"github.com/convot/convot/internal/testenv"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/convot/convot/policies"
)

// countingListener is a TCP server on 127.0.0.1 that accepts connections,
// reads whatever arrives and never answers; it counts both.
type countingListener struct {
	ln          net.Listener
	connections atomic.Int64
	bytes       atomic.Int64
}

func newCountingListener(t *testing.T) *countingListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &countingListener{ln: ln}
	t.Cleanup(func() { _ = ln.Close() }) // ends the accept loop
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			c.connections.Add(1)
			go func() {
				defer func() { _ = conn.Close() }()
				n, _ := io.Copy(io.Discard, conn)
				c.bytes.Add(n)
			}()
		}
	}()
	return c
}

func (c *countingListener) url() string { return "redis://" + c.ln.Addr().String() + "/0" }

func TestRedisDeniedPublishSendsNothing(t *testing.T) {
	g, _ := mustEgressGate(t)
	ln := newCountingListener(t)
	f, err := NewRedisFanout(g, RedisConfig{URL: ln.url(), Region: "us"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	ctx := context.Background()
	euOrg := policies.OrgContext{ID: 5, Region: "eu"}
	visitor := policies.SubjectContext{Kind: "end_user"}

	err = f.Publish(ctx, euOrg, visitor, "org:5:conversation:1", []string{"user.content.message"}, []byte(`{"body":"hello"}`))
	requireDeniedWithReason(t, err, "redis traffic must stay in the organization's region eu, not us")
	err = f.Publish(ctx, policies.OrgContext{ID: 5, Region: "us"}, visitor, "org:5:conversation:1", []string{"user.payment"}, []byte(`{}`))
	requireDeniedWithReason(t, err, "redis may not receive user.payment")
	err = f.Publish(ctx, policies.OrgContext{ID: 5, Region: "us"}, policies.SubjectContext{Kind: "end_user", Restricted: true}, "org:5:conversation:1", []string{"user.content.message"}, []byte(`{}`))
	requireDeniedWithReason(t, err, "processing of the data subject is restricted")

	f.mu.Lock()
	created := f.client != nil
	f.mu.Unlock()
	if created {
		t.Fatal("a denied publish created the Redis client")
	}
	if n := ln.connections.Load(); n != 0 {
		t.Fatalf("%d connections after denied publishes", n)
	}
	if n := ln.bytes.Load(); n != 0 {
		t.Fatalf("%d bytes after denied publishes", n)
	}

	// The counter counts: an allowed publish reaches the listener (which
	// never answers, so the publish times out).
	tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	usOrg := policies.OrgContext{ID: 5, Region: "us"}
	if err := f.Publish(tctx, usOrg, visitor, "org:5:conversation:1", []string{"user.content.message"}, []byte(`{"body":"hello"}`)); err == nil {
		t.Fatal("a publish to a server that never answers succeeded")
	}
	deadline := time.Now().Add(5 * time.Second)
	for ln.bytes.Load() == 0 && time.Now().Before(deadline) {
		_ = f.Close() // closing the connection ends the listener's read
		time.Sleep(10 * time.Millisecond)
	}
	if ln.connections.Load() == 0 || ln.bytes.Load() == 0 {
		t.Fatalf("the allowed publish was not seen: %d connections, %d bytes", ln.connections.Load(), ln.bytes.Load())
	}
}

// euRedisFanout is a fan-out of the EU region on the Redis at REDIS_URL,
// closed when the test ends, and the log of its gate's decisions.
func euRedisFanout(t *testing.T) (*RedisFanout, *policies.MemoryLog) {
	t.Helper()
	url := testenv.Require(t, "REDIS_URL")
	g, log := mustEgressGate(t)
	f, err := NewRedisFanout(g, RedisConfig{URL: url, Region: "eu"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f, log
}

func TestRedisRoundTrip(t *testing.T) {
	f, _ := euRedisFanout(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	channel := fmt.Sprintf("convot-test:%d:conversation:1", time.Now().UnixNano())
	messages, err := f.Subscribe(ctx, channel)
	if err != nil {
		t.Fatal(err)
	}
	org := policies.OrgContext{ID: 5, Region: "eu"}
	payload := []byte(`{"type":"message.created","conversation_id":1}`)
	if err := f.Publish(ctx, org, policies.SubjectContext{Kind: "end_user"}, channel, []string{"user.content.message"}, payload); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-messages:
		if string(got) != string(payload) {
			t.Fatalf("received %q", got)
		}
	case <-ctx.Done():
		t.Fatal("nothing received")
	}
	// A denied publish does not arrive.
	err = f.Publish(ctx, policies.OrgContext{ID: 6, Region: "us"}, policies.SubjectContext{Kind: "end_user"}, channel, []string{"user.content.message"}, []byte("x"))
	requireDeniedWithReason(t, err, "must stay in the organization's region")
	cancel()
	for range messages {
		t.Fatal("a denied publish arrived")
	}
}

// One event for an organization's operators and a conversation's visitor
// is one flow: one decision, and both channels receive it.
func TestRedisPublishEachIsOneDecision(t *testing.T) {
	f, log := euRedisFanout(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	base := fmt.Sprintf("convot-test:%d:", time.Now().UnixNano())
	operators, err := f.Subscribe(ctx, base+"org:5")
	if err != nil {
		t.Fatal(err)
	}
	visitor, err := f.Subscribe(ctx, base+"conversation:1")
	if err != nil {
		t.Fatal(err)
	}
	before := len(log.Records())
	payload := []byte(`{"type":"message","conversation_id":1}`)
	err = f.PublishEach(ctx, policies.OrgContext{ID: 5, Region: "eu"}, policies.SubjectContext{Kind: "end_user"},
		[]string{base + "org:5", base + "conversation:1"}, []string{"user.content.message"}, payload)
	if err != nil {
		t.Fatal(err)
	}
	for name, ch := range map[string]<-chan []byte{"operators": operators, "visitor": visitor} {
		select {
		case got := <-ch:
			if string(got) != string(payload) {
				t.Fatalf("%s received %q", name, got)
			}
		case <-ctx.Done():
			t.Fatalf("%s received nothing", name)
		}
	}
	if n := len(log.Records()) - before; n != 1 {
		t.Fatalf("%d decisions for one publish to two channels, want 1", n)
	}
	if err := f.PublishEach(ctx, policies.OrgContext{ID: 5, Region: "eu"}, policies.SubjectContext{Kind: "end_user"},
		[]string{base + "org:5", ""}, []string{"user.content.message"}, payload); err == nil {
		t.Fatal("an empty channel was accepted")
	}
}
