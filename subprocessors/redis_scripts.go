package subprocessors

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/redis/go-redis/v9"
)

// RedisScripts runs Convot's own Lua scripts on a Redis deployment: the
// rate limits shared by the web nodes (internal/ratelimit). Its callers
// send keyed hashes (HMACs whose key stays with Convot) and numbers, no
// personal data, so there is no flow for the gate to decide, as with
// RedisFanout.Subscribe. It is safe for concurrent use.
type RedisScripts struct {
	client *redis.Client

	mu      sync.Mutex
	scripts map[string]*redis.Script
}

// NewRedisScripts returns a client of the deployment at url
// (redis://user:password@host:6379/0). It connects on first use.
func NewRedisScripts(url string) (*RedisScripts, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		// The URL holds the password; the parser's message is not passed on.
		return nil, errors.New("subprocessors: redis: invalid URL")
	}
	// The caller's deadline bounds every command, and nothing is retried:
	// a rate limit check falls back rather than waits.
	opts.ContextTimeoutEnabled = true
	opts.MaxRetries = -1
	opts.DialerRetries = 1
	return &RedisScripts{client: redis.NewClient(opts), scripts: map[string]*redis.Script{}}, nil
}

// EvalScript runs script (by its SHA, loading it when Redis lacks it) and
// returns its reply, an array of integers.
func (r *RedisScripts) EvalScript(ctx context.Context, script string, keys []string, args ...any) ([]int64, error) {
	r.mu.Lock()
	s := r.scripts[script]
	if s == nil {
		s = redis.NewScript(script)
		r.scripts[script] = s
	}
	r.mu.Unlock()
	out, err := s.Run(ctx, r.client, keys, args...).Int64Slice()
	if err != nil {
		return nil, fmt.Errorf("subprocessors: redis script: %w", err)
	}
	return out, nil
}

// Close closes the connections, if any were opened.
func (r *RedisScripts) Close() error { return r.client.Close() }
