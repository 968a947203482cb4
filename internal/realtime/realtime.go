// Package realtime delivers live events (new messages, status changes) to
// the WebSockets of operators and visitors. In the embedded default events
// stay in the process; with REDIS_URL they fan out through Redis so that a
// socket on one web node sees what was published on another.
package realtime

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/convot/convot/policies"
	"github.com/convot/convot/subprocessors"
)

// Event is what a publisher sends: the organization it belongs to (which
// the egress gate needs before anything reaches Redis), the data subject,
// the data categories the payload holds, and the payload itself.
type Event struct {
	Org        policies.OrgContext
	Subject    policies.SubjectContext
	Categories []string
	Payload    []byte
}

// Hub publishes events on topics and hands them to local subscribers.
type Hub interface {
	Publish(ctx context.Context, topic string, e Event) error
	// PublishEach publishes one event on several topics at once.
	PublishEach(ctx context.Context, topics []string, e Event) error
	// Subscribe returns the topic's payloads until cancel is called or ctx
	// ends.
	Subscribe(ctx context.Context, topic string) (payloads <-chan []byte, cancel func(), err error)
	Close() error
}

// subscriberBuffer bounds what a slow socket may fall behind by; past it
// further events are dropped for that socket only (its client reloads the
// conversation from the database, where nothing is lost).
const subscriberBuffer = 256

// Local is the in-process hub.
type Local struct {
	mu   sync.RWMutex
	subs map[string]map[chan []byte]struct{}
}

// NewLocal returns an empty in-process hub.
func NewLocal() *Local { return &Local{subs: map[string]map[chan []byte]struct{}{}} }

// Publish delivers to every local subscriber of the topic. Nothing leaves
// the process, so no gate is asked.
func (l *Local) Publish(_ context.Context, topic string, e Event) error {
	l.deliver(topic, e.Payload)
	return nil
}

// PublishEach delivers to the subscribers of every topic.
func (l *Local) PublishEach(_ context.Context, topics []string, e Event) error {
	for _, t := range topics {
		l.deliver(t, e.Payload)
	}
	return nil
}

func (l *Local) deliver(topic string, payload []byte) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	for ch := range l.subs[topic] {
		select {
		case ch <- payload:
		default: // a slow subscriber never blocks the publisher
		}
	}
}

// Subscribe registers a local subscriber.
func (l *Local) Subscribe(ctx context.Context, topic string) (<-chan []byte, func(), error) {
	ch := make(chan []byte, subscriberBuffer)
	l.mu.Lock()
	if l.subs[topic] == nil {
		l.subs[topic] = map[chan []byte]struct{}{}
	}
	l.subs[topic][ch] = struct{}{}
	l.mu.Unlock()
	var once sync.Once
	cancel := func() {
		once.Do(func() {
			l.mu.Lock()
			delete(l.subs[topic], ch)
			if len(l.subs[topic]) == 0 {
				delete(l.subs, topic)
			}
			l.mu.Unlock()
		})
	}
	// No goroutine waits for the end: a node holds thousands of sockets.
	stop := context.AfterFunc(ctx, cancel)
	return ch, func() { stop(); cancel() }, nil
}

// Close drops every subscriber.
func (l *Local) Close() error {
	l.mu.Lock()
	l.subs = map[string]map[chan []byte]struct{}{}
	l.mu.Unlock()
	return nil
}

// Redis fans events out through Redis pub/sub; every publish passes the
// egress gate in the subprocessors client.
type Redis struct {
	fanout *subprocessors.RedisFanout
}

// NewRedis wraps a gated Redis client.
func NewRedis(f *subprocessors.RedisFanout) *Redis { return &Redis{fanout: f} }

// Publish sends the event to every node.
func (r *Redis) Publish(ctx context.Context, topic string, e Event) error {
	return r.fanout.Publish(ctx, e.Org, e.Subject, channel(topic), e.Categories, e.Payload)
}

// PublishEach sends the event on several topics, as one flow through the
// gate and one round trip.
func (r *Redis) PublishEach(ctx context.Context, topics []string, e Event) error {
	channels := make([]string, len(topics))
	for i, t := range topics {
		channels[i] = channel(t)
	}
	return r.fanout.PublishEach(ctx, e.Org, e.Subject, channels, e.Categories, e.Payload)
}

// Subscribe listens on the topic's channel.
func (r *Redis) Subscribe(ctx context.Context, topic string) (<-chan []byte, func(), error) {
	ctx, cancel := context.WithCancel(ctx)
	ch, err := r.fanout.Subscribe(ctx, channel(topic))
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return ch, cancel, nil
}

// Close closes the Redis client.
func (r *Redis) Close() error { return r.fanout.Close() }

// Ping checks that Redis answers (for /readyz).
func (r *Redis) Ping(ctx context.Context) error { return r.fanout.Ping(ctx) }

// Health is the fan-out's failure counters and whether it takes commands.
func (r *Redis) Health() subprocessors.RedisHealth { return r.fanout.Health() }

// ErrUnavailable is what Subscribe returns when the hub cannot carry live
// events now (Redis down): the socket's client should poll instead.
var ErrUnavailable = errors.New("realtime: live events unavailable")

// channel names a topic in Redis; topics are built from IDs only.
func channel(topic string) string { return "convot:" + topic }
