package handlers

import (
	"math"
	"time"

	"github.com/convot/convot/internal/ratelimit"
)

// Rate limits of the widget API: token buckets (internal/ratelimit),
// shared by the web nodes when Server.RateLimits is on Redis, else per
// node. Each bucket holds up to Burst requests and gains one every Every,
// so a visitor may send Burst messages at once and then one per Every.

// Rate is one token bucket's shape.
type Rate = ratelimit.Rate

// WidgetLimits bound what one visitor may do. Keys are the visitor token
// (its hash) or, for new visitors, the IP address.
type WidgetLimits struct {
	Messages    Rate // messages sent (start, send, upload) per visitor
	Uploads     Rate // attachments uploaded per visitor
	Requests    Rate // any authenticated widget API call per visitor
	NewVisitors Rate // new visitor tokens handed out per IP address
}

// DefaultWidgetLimits are generous for people (20 messages at once, then
// two a second) and stop a script flooding a conversation. A load test
// spreads its messages over many visitors, or sets Server.WidgetLimits.
var DefaultWidgetLimits = WidgetLimits{
	Messages:    Rate{Burst: 20, Every: 500 * time.Millisecond},
	Uploads:     Rate{Burst: 10, Every: 3 * time.Second},
	Requests:    Rate{Burst: 120, Every: 50 * time.Millisecond},
	NewVisitors: Rate{Burst: 600, Every: 100 * time.Millisecond},
}

// retryAfterSeconds is the Retry-After value for a wait.
func retryAfterSeconds(d time.Duration) int {
	s := int(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return s
}
