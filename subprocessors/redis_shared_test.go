package subprocessors

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/convot/convot/internal/testenv"
	"github.com/convot/convot/policies"
)

// numsub is how many Redis connections are subscribed to channel.
func numsub(t *testing.T, channel string) int64 {
	t.Helper()
	opts, err := redis.ParseURL(testenv.Require(t, "REDIS_URL"))
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	defer func() { _ = c.Close() }()
	n, err := c.PubSubNumSub(context.Background(), channel).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n[channel]
}

func receiveWithin(t *testing.T, ch <-chan []byte, want string) {
	t.Helper()
	select {
	case got, ok := <-ch:
		if !ok || string(got) != want {
			t.Fatalf("received %q (open: %v), want %q", got, ok, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%q not received", want)
	}
}

// A node's subscribers share one Redis connection: three sockets on one
// channel and one on another are two subscriptions of one connection, each
// subscriber receives its channel's messages, one leaving closes its own
// channel only, and the last leaving unsubscribes the connection.
func TestRedisSubscribersShareOneConnection(t *testing.T) {
	f, _ := euRedisFanout(t)
	base := fmt.Sprintf("convot-test:%d:", time.Now().UnixNano())
	orgCh, convCh := base+"org:5", base+"conversation:1"
	ctx := context.Background()
	var subs []<-chan []byte
	var cancels []context.CancelFunc
	for range 3 {
		sctx, cancel := context.WithCancel(ctx)
		t.Cleanup(cancel)
		ch, err := f.Subscribe(sctx, orgCh)
		if err != nil {
			t.Fatal(err)
		}
		subs, cancels = append(subs, ch), append(cancels, cancel)
	}
	vctx, vcancel := context.WithCancel(ctx)
	t.Cleanup(vcancel)
	visitor, err := f.Subscribe(vctx, convCh)
	if err != nil {
		t.Fatal(err)
	}
	if n := numsub(t, orgCh); n != 1 {
		t.Fatalf("%d Redis subscriptions to the organization's channel, want 1", n)
	}
	if n := numsub(t, convCh); n != 1 {
		t.Fatalf("%d Redis subscriptions to the conversation's channel, want 1", n)
	}
	org := policies.OrgContext{ID: 5, Region: "eu"}
	publish := func(payload string, channels ...string) {
		t.Helper()
		if err := f.PublishEach(ctx, org, policies.SubjectContext{Kind: "end_user"}, channels, []string{"user.content.message"}, []byte(payload)); err != nil {
			t.Fatal(err)
		}
	}
	publish("one", orgCh, convCh)
	for _, ch := range subs {
		receiveWithin(t, ch, "one")
	}
	receiveWithin(t, visitor, "one")

	cancels[0]()
	select {
	case _, ok := <-subs[0]:
		if ok {
			t.Fatal("a cancelled subscriber received")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a cancelled subscriber's channel stayed open")
	}
	publish("two", orgCh)
	receiveWithin(t, subs[1], "two")
	receiveWithin(t, subs[2], "two")
	select {
	case got := <-visitor:
		t.Fatalf("the conversation's subscriber received the organization's %q", got)
	default:
	}

	cancels[1]()
	cancels[2]()
	deadline := time.Now().Add(5 * time.Second)
	for numsub(t, orgCh) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the connection stayed subscribed after its last subscriber left")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Subscribing again at once (the UNSUBSCRIBE just sent) is confirmed
	// after it, and receives.
	again, err := f.Subscribe(vctx, orgCh)
	if err != nil {
		t.Fatal(err)
	}
	publish("three", orgCh)
	receiveWithin(t, again, "three")
	if n := numsub(t, convCh); n != 1 {
		t.Fatalf("the conversation's subscription is gone (%d)", n)
	}
}

// Subscribers that come and go at once on one channel never leave a
// subscriber that Redis does not deliver to: after each churn, a fresh
// subscriber receives what is published next.
func TestRedisSubscribeChurn(t *testing.T) {
	f, _ := euRedisFanout(t)
	channel := fmt.Sprintf("convot-test:%d:org:7", time.Now().UnixNano())
	ctx := context.Background()
	org := policies.OrgContext{ID: 7, Region: "eu"}
	for i := range 20 {
		done := make(chan struct{})
		go func() {
			defer close(done)
			for range 5 {
				sctx, cancel := context.WithCancel(ctx)
				if _, err := f.Subscribe(sctx, channel); err != nil {
					t.Error(err)
				}
				cancel()
			}
		}()
		sctx, cancel := context.WithCancel(ctx)
		ch, err := f.Subscribe(sctx, channel)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		<-done
		payload := fmt.Sprint("churn ", i)
		if err := f.Publish(ctx, org, policies.SubjectContext{Kind: "end_user"}, channel, []string{"user.content.message"}, []byte(payload)); err != nil {
			cancel()
			t.Fatal(err)
		}
		receiveWithin(t, ch, payload)
		cancel()
	}
}
