package ratelimit

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"
)

// Scripter runs a Lua script on Redis and returns its array of integers.
// subprocessors.RedisScripts is the implementation: only package
// subprocessors may talk to Redis.
type Scripter interface {
	EvalScript(ctx context.Context, script string, keys []string, args ...any) ([]int64, error)
}

// gcra is the whole decision, atomic in Redis: the generic cell rate
// algorithm, a token bucket kept as one number. KEYS[1] holds the bucket's
// theoretical arrival time (TAT, µs): when it is full again. Each event
// moves it Every later; an event is refused when that would put it more
// than Burst×Every ahead of now. The key expires when the bucket is full,
// so an idle key costs Redis nothing.
// ARGV: now (µs), Every (µs), Burst. Returns {1, 0} or {0, retry after µs}.
const gcra = `
local now = tonumber(ARGV[1])
local every = tonumber(ARGV[2])
local window = every * tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local new = tat + every
if new - now > window then
  return {0, new - now - window}
end
redis.call('SET', KEYS[1], string.format('%.0f', new), 'PX', math.ceil((new - now) / 1000))
return {1, 0}
`

// RedisOptions tune a Redis store; zero values take the defaults.
type RedisOptions struct {
	// Prefix starts every key ("convot:ratelimit:").
	Prefix string
	// Timeout bounds one call to Redis (100ms): a rate limit check is on
	// the request path and must not hang with Redis.
	Timeout time.Duration
	// Pause is how long Redis is left alone after a failure (1s), so
	// requests meanwhile do not each wait for Timeout.
	Pause time.Duration
	// LogEvery is the least time between two warnings of failures (1m).
	LogEvery time.Duration
	// MaxKeys bounds each fallback limiter (DefaultMaxKeys).
	MaxKeys int
	// Logger gets the warnings (slog.Default()).
	Logger *slog.Logger
}

// Redis is a Store whose buckets live in Redis, shared by every web node
// using the same Redis, prefix and secret.
//
// Keys leave the process only as HMACs under secret: Redis (a
// subprocessor) never sees an IP address or a token hash, and nobody
// without the secret can test a guess against a key. Times come from the
// caller, so the nodes' clocks should agree (NTP): a node δ ahead grants
// about δ/Every extra events.
//
// When Redis fails (error or Timeout) a limiter counts on this node
// (Local) until Redis answers again: budgets are then per node, never
// absent, and a Redis outage does not take sign-in or the widget down.
type Redis struct {
	scripts Scripter
	secret  []byte
	o       RedisOptions
	// wall is the clock of the pause and the warnings: time spent waiting
	// on the network, not the buckets' (injected) time.
	wall func() time.Time

	pausedUntil atomic.Int64 // unix ns
	lastLog     atomic.Int64 // unix ns
	failures    atomic.Int64 // since the last warning
}

// NewRedis returns a store on scripts; secret keys the HMAC of the keys
// and must be the same on every node.
func NewRedis(scripts Scripter, secret []byte, o RedisOptions) (*Redis, error) {
	// Without a real secret an IPv4 key is found by hashing all 2^32.
	if len(secret) < 16 {
		return nil, errors.New("ratelimit: a secret of at least 16 bytes is required")
	}
	if o.Prefix == "" {
		o.Prefix = "convot:ratelimit:"
	}
	if o.Timeout <= 0 {
		o.Timeout = 100 * time.Millisecond
	}
	if o.Pause <= 0 {
		o.Pause = time.Second
	}
	if o.LogEvery <= 0 {
		o.LogEvery = time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Redis{scripts: scripts, secret: secret, o: o, wall: time.Now}, nil
}

// Limiter returns the limiter of name, with its per-node fallback.
func (s *Redis) Limiter(name string, r Rate) Limiter {
	r = r.normal()
	return &redisLimiter{store: s, name: name, rate: r, local: NewLocal(r, s.o.MaxKeys)}
}

type redisLimiter struct {
	store *Redis
	name  string
	rate  Rate
	local *Local
}

func (l *redisLimiter) Allow(ctx context.Context, key string, now time.Time) (bool, time.Duration) {
	s := l.store
	if s.wall().UnixNano() >= s.pausedUntil.Load() {
		// The decision completes even if the request is cancelled: the
		// event happened, and a cancel is not a Redis failure.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.o.Timeout)
		res, err := s.scripts.EvalScript(ctx, gcra, []string{l.redisKey(key)},
			now.UnixMicro(), max(l.rate.Every.Microseconds(), 1), l.rate.Burst)
		cancel()
		if err == nil && len(res) == 2 {
			return res[0] == 1, time.Duration(res[1]) * time.Microsecond
		}
		s.failed(err)
	}
	return l.local.Allow(ctx, key, now)
}

// redisKey names key's bucket without revealing key.
func (l *redisLimiter) redisKey(key string) string {
	mac := hmac.New(sha256.New, l.store.secret)
	mac.Write([]byte(l.name))
	mac.Write([]byte{0})
	mac.Write([]byte(key))
	return l.store.o.Prefix + l.name + ":" + hex.EncodeToString(mac.Sum(nil)[:16])
}

// failed pauses Redis and warns at most once per LogEvery. The warning
// has the error (an address, a timeout) and a count, never a key.
func (s *Redis) failed(err error) {
	now := s.wall()
	s.pausedUntil.Store(now.Add(s.o.Pause).UnixNano())
	n := s.failures.Add(1)
	last := s.lastLog.Load()
	if now.UnixNano()-last < int64(s.o.LogEvery) || !s.lastLog.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	s.failures.Add(-n)
	msg := "unexpected reply"
	if err != nil {
		msg = err.Error()
	}
	s.o.Logger.Warn("rate limits: Redis failed, counting on this web node until it answers", "failures", n, "error", msg)
}
