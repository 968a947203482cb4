package ratelimit

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/internal/testenv"
	"github.com/convot/convot/subprocessors"
)

// redisStore is one web node's store on the Redis at url; nodes made with
// the same prefix and secret share their buckets.
func redisStore(t *testing.T, url, prefix string, secret []byte, o RedisOptions) *Redis {
	t.Helper()
	scripts, err := subprocessors.NewRedisScripts(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = scripts.Close() }) // the test is over; nothing to report
	o.Prefix = prefix
	// Generous for a loaded CI machine; the failure tests set their own.
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Second
	}
	s, err := NewRedis(scripts, secret, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// testPrefix keeps each run's keys apart (they expire by themselves).
func testPrefix() string { return "convot-test:" + crypto.RandomToken(9) + ":" }

// mustAnswer fails the test if the store fell back: the result would
// come from the local limiter and prove nothing about Redis.
func mustAnswer(t *testing.T, s *Redis) {
	t.Helper()
	t.Cleanup(func() {
		if n := s.failures.Load(); n > 0 || s.lastLog.Load() != 0 {
			t.Errorf("Redis failed %d times: the results came from the fallback", n)
		}
	})
}

func TestRedisBurstThenRefill(t *testing.T) {
	url := testenv.Require(t, "REDIS_URL")
	s := redisStore(t, url, testPrefix(), crypto.RandomKey(), RedisOptions{})
	mustAnswer(t, s)
	burstThenRefill(t, s.Limiter("test", Rate{Burst: 3, Every: time.Second}))
}

func TestRedisConcurrentAllowsExactlyBurst(t *testing.T) {
	url := testenv.Require(t, "REDIS_URL")
	s := redisStore(t, url, testPrefix(), crypto.RandomKey(), RedisOptions{})
	mustAnswer(t, s)
	exactlyBurst(t, s.Limiter("test", Rate{Burst: 25, Every: time.Minute}), 25)
}

// Two web nodes (their own connections, stores and fallbacks) spend one
// budget: what one takes, the other cannot.
func TestRedisNodesShareOneBudget(t *testing.T) {
	url := testenv.Require(t, "REDIS_URL")
	prefix, secret := testPrefix(), crypto.RandomKey()
	nodeA, nodeB := redisStore(t, url, prefix, secret, RedisOptions{}), redisStore(t, url, prefix, secret, RedisOptions{})
	mustAnswer(t, nodeA)
	mustAnswer(t, nodeB)
	r := Rate{Burst: 4, Every: 10 * time.Second}
	a, b := nodeA.Limiter("login", r), nodeB.Limiter("login", r)
	drain(t, a, "ip:192.0.2.1", 2, t0)
	drain(t, b, "ip:192.0.2.1", 2, t0)
	for _, l := range []Limiter{a, b} {
		if ok, wait := l.Allow(context.Background(), "ip:192.0.2.1", t0); ok || wait != 10*time.Second {
			t.Fatalf("over the shared burst: %v, retry after %v", ok, wait)
		}
	}
	// One refill is one event, on whichever node comes first.
	drain(t, b, "ip:192.0.2.1", 1, t0.Add(10*time.Second))
	if ok, _ := a.Allow(context.Background(), "ip:192.0.2.1", t0.Add(10*time.Second)); ok {
		t.Fatal("a refilled token was spent twice")
	}
	// Another secret (another deployment) or name is another bucket.
	other := redisStore(t, url, prefix, crypto.RandomKey(), RedisOptions{})
	drain(t, other.Limiter("login", r), "ip:192.0.2.1", 4, t0)
	drain(t, nodeA.Limiter("reset", r), "ip:192.0.2.1", 4, t0)
}

// Redis holds only hashed keys, which expire once the bucket is full.
func TestRedisKeysAreHashedAndExpire(t *testing.T) {
	url := testenv.Require(t, "REDIS_URL")
	prefix := testPrefix()
	s := redisStore(t, url, prefix, crypto.RandomKey(), RedisOptions{})
	mustAnswer(t, s)
	l := s.Limiter("widget", Rate{Burst: 2, Every: 300 * time.Millisecond}).(*redisLimiter)
	now := time.Now()
	drain(t, l, "ip:198.51.100.7", 1, now)
	key := l.redisKey("ip:198.51.100.7")
	if !strings.HasPrefix(key, prefix+"widget:") || strings.Contains(key, "198.51.100.7") {
		t.Fatalf("Redis key %q", key)
	}
	// The script's own reply tells whether the key is there: a bucket
	// that lost its key would be full (two events) again.
	time.Sleep(400 * time.Millisecond) // past the key's PEXPIRE of 300ms
	drain(t, l, "ip:198.51.100.7", 2, now)
	if ok, _ := l.Allow(context.Background(), "ip:198.51.100.7", now); ok {
		t.Fatal("a third event within the burst of two")
	}
	ttl, err := s.scripts.EvalScript(context.Background(), `return {redis.call('EXISTS', KEYS[1]), redis.call('PTTL', KEYS[1])}`, []string{key})
	if err != nil {
		t.Fatal(err)
	}
	if ttl[0] != 1 || ttl[1] <= 0 || ttl[1] > 600 {
		t.Fatalf("key exists=%d, PTTL %dms; want an expiry within the 600ms to full", ttl[0], ttl[1])
	}
}

// logCounter counts warnings and keeps their text.
type logCounter struct {
	mu    sync.Mutex
	count int
	text  bytes.Buffer
}

func (c *logCounter) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.count++
		return c.text.Write(p)
	}), nil))
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// fallsBack checks a store whose Redis does not work: answers come fast,
// from the local limiter, with one warning that names no key.
func fallsBack(t *testing.T, url string, bound time.Duration) {
	logs := &logCounter{}
	s := redisStore(t, url, testPrefix(), crypto.RandomKey(), RedisOptions{Timeout: 200 * time.Millisecond, Logger: logs.logger()})
	l := s.Limiter("login", Rate{Burst: 3, Every: time.Minute})
	start := time.Now()
	drain(t, l, "ip:203.0.113.9", 3, t0)
	if ok, _ := l.Allow(context.Background(), "ip:203.0.113.9", t0); ok {
		t.Fatal("the fallback does not limit")
	}
	if took := time.Since(start); took > bound {
		t.Fatalf("four checks took %v with Redis down, want under %v", took, bound)
	}
	// After the pause Redis is tried again; the warning is not repeated.
	s.wall = func() time.Time { return time.Now().Add(2 * time.Second) }
	drain(t, l, "ip:203.0.113.10", 1, t0)
	logs.mu.Lock()
	defer logs.mu.Unlock()
	if s.failures.Load() != 1 || logs.count != 1 {
		t.Fatalf("%d warnings, %d failures unreported; want 1 warning then 1 failure counted", logs.count, s.failures.Load())
	}
	if text := logs.text.String(); strings.Contains(text, "203.0.113") || !strings.Contains(text, "rate limits: Redis failed") {
		t.Fatalf("warning %q", text)
	}
}

// Nothing listens on port 1: the connection is refused at once.
func TestRedisUnreachableFallsBack(t *testing.T) {
	fallsBack(t, "redis://127.0.0.1:1/0", time.Second)
}

// A Redis that accepts and never answers costs one Timeout, then the pause
// spares the following checks.
func TestRedisSilentFallsBackAfterTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	// The silent server is torn down after the test: close errors say
	// nothing about the limiter.
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
		}
	}()
	fallsBack(t, "redis://"+ln.Addr().String()+"/0", time.Second)
}

func TestRedisNeedsASecret(t *testing.T) {
	if _, err := NewRedis(nil, []byte("short"), RedisOptions{}); err == nil {
		t.Fatal("a 5-byte secret was accepted")
	}
}
