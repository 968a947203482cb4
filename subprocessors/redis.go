package subprocessors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/convot/convot/policies"
)

// Subprocessor name and purpose of Redis flows.
const (
	redisSubprocessor = "redis"
	redisPurpose      = "essential.service"
	// redisChannelCategory: channel names are built from IDs
	// (org:42:conversation:7), never from personal data.
	redisChannelCategory = "system.operations"
)

// RedisConfig configures the real-time fan-out on one Redis deployment.
type RedisConfig struct {
	// URL is the deployment's address with its credentials:
	// redis://user:password@host:6379/0, rediss:// for TLS.
	URL string
	// Region is where the deployment runs (us, eu), the destination of
	// every publish. The gate refuses data of an organization of another
	// region: Redis traffic stays in the region the Customer selected.
	Region string
}

// RedisFanout publishes real-time events (a new message, a typing
// indicator) to the web nodes subscribed to a channel, through Redis
// pub/sub. One RedisFanout serves one regional deployment; an
// organization's events go to the deployment of its region. The go-redis
// client is created, and connects, only when a publish is allowed or a
// subscription is made, so a denied publish opens no connection. The
// node's subscriptions share one connection (redis_pubsub.go). It is safe
// for concurrent use.
type RedisFanout struct {
	gate   Gate
	opts   *redis.Options
	region string

	mu     sync.Mutex
	client *redis.Client
	closed bool

	breaker redisBreaker
	subs    redisSubscriptions
}

// redisBreaker makes a Redis that does not answer cost a request nothing:
// after a failed command, commands fail at once for redisCooldown instead
// of dialing again on the request path. It counts what failed, for /readyz.
type redisBreaker struct {
	mu        sync.Mutex
	openUntil time.Time
	failures  uint64 // commands that failed, Redis's own errors included
	skipped   uint64 // commands refused while the breaker was open
	lastErr   string
}

// Fail-fast settings: a Redis that refuses or stalls is noticed within
// redisDialTimeout, and no command waits for it again before redisCooldown.
const (
	redisDialTimeout = 500 * time.Millisecond
	redisCooldown    = 2 * time.Second
)

// ErrRedisUnavailable is returned without contacting Redis while a recent
// failure keeps the breaker open.
var ErrRedisUnavailable = errors.New("subprocessors: redis: unavailable (recent failure; not retried yet)")

// RedisHealth is what the fan-out knows of its Redis: Up is false while the
// breaker is open; the counters run from the start of the process.
type RedisHealth struct {
	Up        bool   `json:"up"`
	Failures  uint64 `json:"failures"`
	Skipped   uint64 `json:"skipped"`
	LastError string `json:"last_error,omitempty"`
}

// allow reports whether a command may go to Redis now.
func (b *redisBreaker) allow(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if now.Before(b.openUntil) {
		b.skipped++
		return false
	}
	return true
}

// record notes a command's outcome; a failure that opens the breaker is
// logged once, and so is the recovery, not every refused command.
func (b *redisBreaker) record(now time.Time, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err == nil || errors.Is(err, context.Canceled) {
		if !b.openUntil.IsZero() {
			slog.Info("redis reachable again", "failures", b.failures, "skipped", b.skipped)
			b.openUntil = time.Time{}
		}
		return
	}
	b.failures++
	// Only the error's kind: the URL in a dial error holds no password, but
	// the address need not be in every log line either.
	b.lastErr = redisErrorKind(err)
	if b.openUntil.IsZero() {
		slog.Warn("redis unreachable: live events fail fast", "err", b.lastErr, "cooldown", redisCooldown)
	}
	b.openUntil = now.Add(redisCooldown)
}

func (b *redisBreaker) health(now time.Time) RedisHealth {
	b.mu.Lock()
	defer b.mu.Unlock()
	return RedisHealth{Up: !now.Before(b.openUntil), Failures: b.failures, Skipped: b.skipped, LastError: b.lastErr}
}

func redisErrorKind(err error) string {
	var netErr net.Error
	switch {
	case errors.As(err, &netErr) && netErr.Timeout(), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.As(err, &netErr):
		return "network error"
	}
	return "redis error"
}

// NewRedisFanout returns a fan-out on the deployment at cfg.URL. It
// connects to nothing.
func NewRedisFanout(gate Gate, cfg RedisConfig) (*RedisFanout, error) {
	if gate == nil {
		return nil, errors.New("subprocessors: redis: an egress gate is required")
	}
	if cfg.Region == "" {
		return nil, errors.New("subprocessors: redis: the deployment's region is required")
	}
	opts, err := redis.ParseURL(cfg.URL)
	if err != nil {
		// The URL holds the password; the parser's message is not passed on.
		return nil, errors.New("subprocessors: redis: invalid URL")
	}
	// Deadlines of the caller's context bound every command, and nothing
	// is retried on the request path: a publish is best effort (sockets
	// catch up from the database), so an unreachable Redis must cost a
	// request one short dial at most, then nothing while the breaker is
	// open.
	opts.ContextTimeoutEnabled = true
	opts.MaxRetries = -1
	opts.DialerRetries = 1
	opts.DialTimeout = redisDialTimeout
	opts.PoolTimeout = redisDialTimeout
	return &RedisFanout{gate: gate, opts: opts, region: cfg.Region}, nil
}

// Region is the region of the deployment.
func (f *RedisFanout) Region() string { return f.region }

// redisClient returns the go-redis client, creating it on first use.
func (f *RedisFanout) redisClient() (*redis.Client, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, errors.New("subprocessors: redis: closed")
	}
	if f.client == nil {
		f.client = redis.NewClient(f.opts)
	}
	return f.client, nil
}

// Publish sends payload to the subscribers of channel, on behalf of org,
// about the data subject described by subject. categories are the data
// categories of the payload (user.content.message for a new message, ...).
// It asks the gate first, with the deployment's region as destination; a
// denied publish sends nothing and connects to nothing. The payload is
// opaque to the gate, so it leaves whole or not at all: a decision that
// withholds or redacts any of its categories refuses the publish.
func (f *RedisFanout) Publish(ctx context.Context, org policies.OrgContext, subject policies.SubjectContext, channel string, categories []string, payload []byte) error {
	return f.PublishEach(ctx, org, subject, []string{channel}, categories, payload)
}

// PublishEach sends the same payload to several channels (an
// organization's operators and a conversation's visitor) as one flow: one
// decision of the gate, one round trip to Redis.
func (f *RedisFanout) PublishEach(ctx context.Context, org policies.OrgContext, subject policies.SubjectContext, channels []string, categories []string, payload []byte) error {
	if len(channels) == 0 || slices.Contains(channels, "") {
		return errors.New("subprocessors: redis publish: empty channel")
	}
	if len(categories) == 0 {
		return errors.New("subprocessors: redis publish: the payload's data categories are required")
	}
	d, err := authorize(ctx, f.gate, policies.Flow{
		Subprocessor:      redisSubprocessor,
		Purpose:           redisPurpose,
		Categories:        append([]string{redisChannelCategory}, categories...),
		Organization:      org,
		Subject:           subject,
		DestinationRegion: f.region,
	})
	if err != nil {
		return fmt.Errorf("redis publish: %w", err)
	}
	fields := map[string]policies.Field{}
	for i, ch := range channels {
		fields[fmt.Sprintf("channel.%d", i)] = policies.Field{Category: redisChannelCategory, Value: ch}
	}
	for i, c := range categories {
		fields[fmt.Sprintf("payload.%d", i)] = policies.Field{Category: c, Value: true}
	}
	allowed := policies.Apply(d, fields)
	for name, field := range fields {
		if got, ok := allowed[name]; !ok || got.Value != field.Value {
			return fmt.Errorf("redis publish: %w: the decision withholds %s from %s: %s", ErrDenied, field.Category, redisSubprocessor, d.Reason)
		}
	}
	client, err := f.redisClient()
	if err != nil {
		return err
	}
	if !f.breaker.allow(time.Now()) {
		return ErrRedisUnavailable
	}
	pipe := client.Pipeline()
	for i := range channels {
		pipe.Publish(ctx, allowed[fmt.Sprintf("channel.%d", i)].Value.(string), payload)
	}
	_, err = pipe.Exec(ctx)
	f.breaker.record(time.Now(), err)
	if err != nil {
		return fmt.Errorf("subprocessors: redis publish: %w", err)
	}
	return nil
}

// Ping asks Redis for PONG, through the breaker: a readiness probe while
// Redis is known down answers at once.
func (f *RedisFanout) Ping(ctx context.Context) error {
	client, err := f.redisClient()
	if err != nil {
		return err
	}
	if !f.breaker.allow(time.Now()) {
		return ErrRedisUnavailable
	}
	err = client.Ping(ctx).Err()
	f.breaker.record(time.Now(), err)
	return err
}

// Health reports the breaker's state and its counters.
func (f *RedisFanout) Health() RedisHealth { return f.breaker.health(time.Now()) }

// Subscribe receives the payloads published to channel until ctx is done,
// then closes the returned channel. It returns once Redis confirmed the
// subscription, so a payload published after it returns is received.
//
// Subscribing does not ask the gate: what it sends is the SUBSCRIBE command
// with the channel name, an identifier built from IDs (system data, no
// data subject), and Convot's own credentials for the deployment; the
// personal data flows from Redis to Convot, and it went in through Publish,
// which the gate authorized.
func (f *RedisFanout) Subscribe(ctx context.Context, channel string) (<-chan []byte, error) {
	if channel == "" {
		return nil, errors.New("subprocessors: redis subscribe: empty channel")
	}
	client, err := f.redisClient()
	if err != nil {
		return nil, err
	}
	if !f.breaker.allow(time.Now()) {
		return nil, ErrRedisUnavailable
	}
	return f.subscribeShared(ctx, client, channel)
}

// Close closes the connections, if any were opened.
func (f *RedisFanout) Close() error {
	f.closeShared()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	if f.client == nil {
		return nil
	}
	return f.client.Close()
}
