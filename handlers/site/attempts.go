package site

import (
	"time"

	"github.com/convot/convot/internal/ratelimit"
	"github.com/gin-gonic/gin"
)

// AttemptRate bounds sign-in, password reset, MFA and privacy-request
// attempts per key (an IP address or an account): 20 at once, then one
// every 15 s, the steady 20 per 5 minutes of the sliding window it
// replaced. Every sign-in counts, right or wrong, so a slower refill would
// lock out an office signing in from one address for an hour; password
// guessing is stopped by the per-account lockout (five failures).
var AttemptRate = ratelimit.Rate{Burst: 20, Every: 15 * time.Second}

// AllowAttempt takes one of key's attempts (AttemptRate), reporting
// whether it is within the limit.
func (s *Site) AllowAttempt(c *gin.Context, key string) bool {
	ok, _ := s.Throttle.Allow(c.Request.Context(), key, s.Now())
	return ok
}
