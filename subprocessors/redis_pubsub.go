package subprocessors

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// A web node holds thousands of sockets, each listening on a channel (an
// organization's operators, a conversation's visitor). Their subscriptions
// share one Redis connection per node: a channel is subscribed in Redis
// while at least one local subscriber listens, and each message read from
// the connection is handed to that channel's local subscribers. (One
// connection per socket cost two 32 KB buffers and three goroutines each,
// and Redis's default limit of 10,000 clients capped the sockets of all
// nodes together.)

// redisSubscriberBuffer bounds what a slow subscriber may fall behind by;
// past it further messages are dropped for that subscriber only (its
// socket's client reloads from the database, where nothing is lost), so
// one slow socket never holds up the others.
const redisSubscriberBuffer = 128

// redisSubscribeTimeout bounds the wait for Redis to confirm a
// subscription.
const redisSubscribeTimeout = 4 * redisDialTimeout

// redisSubscriptions is the node's shared subscription connection and its
// local subscribers, by channel.
type redisSubscriptions struct {
	mu     sync.Mutex
	ps     *redis.PubSub // nil until the first subscription, and after the connection is closed
	topics map[string]*redisTopic
}

type redisTopic struct {
	subs map[*redisSubscriber]struct{}
	// pending are the SUBSCRIBE commands sent and not confirmed yet, in
	// the order sent (Redis confirms them in that order).
	pending []chan struct{}
}

type redisSubscriber struct{ out chan []byte }

// subscribeShared adds a local subscriber of channel, subscribing the
// shared connection to it if no one listened yet, and returns once Redis
// has confirmed that subscription.
func (f *RedisFanout) subscribeShared(ctx context.Context, client *redis.Client, channel string) (<-chan []byte, error) {
	s := &f.subs
	sub := &redisSubscriber{out: make(chan []byte, redisSubscriberBuffer)}
	s.mu.Lock()
	if s.ps == nil {
		s.ps = client.Subscribe(context.WithoutCancel(ctx))
		s.topics = map[string]*redisTopic{}
		go f.dispatch(s.ps, s.ps.ChannelWithSubscriptions(redis.WithChannelSize(1024)))
	}
	ps := s.ps
	t := s.topics[channel]
	if t == nil {
		t = &redisTopic{subs: map[*redisSubscriber]struct{}{}}
		s.topics[channel] = t
	}
	t.subs[sub] = struct{}{}
	var confirmed chan struct{}
	if len(t.subs) == 1 {
		// The first local subscriber: the command is written under the
		// lock, so that SUBSCRIBEs and UNSUBSCRIBEs of a channel reach Redis
		// in the order the subscribers came and went.
		confirmed = make(chan struct{})
		t.pending = append(t.pending, confirmed)
		wctx, cancel := context.WithTimeout(ctx, redisDialTimeout)
		err := ps.Subscribe(wctx, channel)
		cancel()
		if err != nil {
			t.pending = t.pending[:len(t.pending)-1]
			delete(t.subs, sub)
			if len(t.subs) == 0 && len(t.pending) == 0 {
				delete(s.topics, channel)
			}
			s.mu.Unlock()
			f.breaker.record(time.Now(), err)
			return nil, fmt.Errorf("subprocessors: redis subscribe: %w", err)
		}
	} else if len(t.pending) > 0 {
		confirmed = t.pending[len(t.pending)-1] // the channel's subscription is on its way
	}
	s.mu.Unlock()
	if confirmed != nil {
		timer := time.NewTimer(redisSubscribeTimeout)
		defer timer.Stop()
		var err error
		select {
		case <-confirmed:
		case <-ctx.Done():
			err = ctx.Err()
		case <-timer.C:
			err = errors.New("subscription not confirmed in time")
		}
		if err != nil {
			f.unsubscribeShared(ps, channel, sub)
			f.breaker.record(time.Now(), err)
			return nil, fmt.Errorf("subprocessors: redis subscribe: %w", err)
		}
	}
	f.breaker.record(time.Now(), nil)
	context.AfterFunc(ctx, func() { f.unsubscribeShared(ps, channel, sub) })
	return sub.out, nil
}

// unsubscribeShared removes a local subscriber and closes its channel;
// the last one of a channel unsubscribes the shared connection from it.
func (f *RedisFanout) unsubscribeShared(ps *redis.PubSub, channel string, sub *redisSubscriber) {
	s := &f.subs
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ps != ps {
		return // that connection is gone, and its subscribers were closed with it
	}
	t := s.topics[channel]
	if t == nil {
		return
	}
	if _, ok := t.subs[sub]; !ok {
		return
	}
	delete(t.subs, sub)
	close(sub.out)
	if len(t.subs) > 0 {
		return
	}
	if len(t.pending) == 0 {
		delete(s.topics, channel)
	}
	ctx, cancel := context.WithTimeout(context.Background(), redisDialTimeout)
	defer cancel()
	// A failure leaves Redis sending this channel's messages to a node
	// that drops them; a reconnect (after which go-redis subscribes only
	// the channels still wanted) ends that.
	_ = ps.Unsubscribe(ctx, channel)
}

// dispatch hands the shared connection's messages to the local
// subscribers, and subscription confirmations to their waiters, until the
// connection is closed; then every subscriber's channel is closed (their
// sockets reconnect).
func (f *RedisFanout) dispatch(ps *redis.PubSub, in <-chan any) {
	s := &f.subs
	for m := range in {
		switch m := m.(type) {
		case *redis.Subscription:
			if m.Kind != "subscribe" {
				continue
			}
			s.mu.Lock()
			if t := s.topics[m.Channel]; t != nil && len(t.pending) > 0 {
				close(t.pending[0])
				t.pending = t.pending[1:]
				if len(t.subs) == 0 && len(t.pending) == 0 {
					delete(s.topics, m.Channel)
				}
			}
			s.mu.Unlock()
		case *redis.Message:
			payload := []byte(m.Payload) // shared by the subscribers, who only read it
			s.mu.Lock()
			if t := s.topics[m.Channel]; t != nil {
				for sub := range t.subs {
					select {
					case sub.out <- payload:
					default: // a slow subscriber never holds up the others
					}
				}
			}
			s.mu.Unlock()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ps != ps {
		return
	}
	for _, t := range s.topics {
		for sub := range t.subs {
			close(sub.out)
		}
		for _, p := range t.pending {
			close(p)
		}
	}
	s.ps, s.topics = nil, nil
}

// closeShared closes the shared subscription connection, if any.
func (f *RedisFanout) closeShared() {
	f.subs.mu.Lock()
	ps := f.subs.ps
	f.subs.mu.Unlock()
	if ps != nil {
		_ = ps.Close() // dispatch then closes the subscribers' channels
	}
}
