package handlers

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/internal/ratelimit"
	"github.com/convot/convot/internal/testenv"
	"github.com/convot/convot/subprocessors"
)

// wrongLogins signs in n times without a password, wanting status each
// time: the attempt counts before the form is checked, and no bcrypt
// comparison slows the test down.
func wrongLogins(t *testing.T, b *browser, n, status int) {
	t.Helper()
	for i := range n {
		if r := b.login(fmt.Sprintf("nobody%d@acme.test", i), ""); r.status != status {
			t.Fatalf("sign-in %d of %d: %d, want %d", i+1, n, r.status, status)
		}
	}
}

// Sign-in attempts per IP address: 20 at once, then one per 5 minutes.
func TestLoginAttemptsThrottled(t *testing.T) {
	ts := newTestServer(t)
	b := ts.browser(t)
	wrongLogins(t, b, site.AttemptRate.Burst, http.StatusBadRequest)
	wrongLogins(t, b, 1, http.StatusTooManyRequests)
	ts.advance(site.AttemptRate.Every)
	wrongLogins(t, b, 1, http.StatusBadRequest)
	wrongLogins(t, b, 1, http.StatusTooManyRequests)
}

// limitsNode is a web node on ts's database whose rate limits are in
// limits, as cmd/convot sets them up with REDIS_URL.
func limitsNode(t *testing.T, ts *testServer, limits ratelimit.Store) *testServer {
	t.Helper()
	return ts.anotherNode(t, func(s *Server) { s.RateLimits = limits })
}

// With RateLimits on Redis, the web nodes share one budget of attempts.
func TestLoginAttemptsSharedAcrossNodes(t *testing.T) {
	redisURL := testenv.Require(t, "REDIS_URL")
	ts := newTestServer(t)
	// Each node its own connection; one secret, as derived from the
	// master key; a prefix of this run's own.
	secret, prefix := crypto.RandomKey(), "convot-test:"+crypto.RandomToken(9)+":"
	node := func() *testServer {
		scripts, err := subprocessors.NewRedisScripts(redisURL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = scripts.Close() }) // the test is over; nothing to report
		limits, err := ratelimit.NewRedis(scripts, secret, ratelimit.RedisOptions{Prefix: prefix, Timeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return limitsNode(t, ts, limits)
	}
	a, b := node().browser(t), node().browser(t)
	wrongLogins(t, a, site.AttemptRate.Burst/2, http.StatusBadRequest)
	wrongLogins(t, b, site.AttemptRate.Burst/2, http.StatusBadRequest)
	wrongLogins(t, a, 1, http.StatusTooManyRequests)
	wrongLogins(t, b, 1, http.StatusTooManyRequests)
}
