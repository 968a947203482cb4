package handlers

import (
	"math"
	"sync"
	"time"
)

// Rate limits of the widget API: token buckets in memory, per web node.
// Each bucket holds up to Burst requests and gains one every Every, so a
// visitor may send Burst messages at once and then one per Every.

// Rate is one token bucket's shape.
type Rate struct {
	Burst int
	Every time.Duration
}

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

// rateLimiter keeps one bucket per key.
type rateLimiter struct {
	rate    Rate
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// maxBuckets bounds memory under a flood of keys: idle (full) buckets are
// dropped first.
const maxBuckets = 200000

func newRateLimiter(r Rate) *rateLimiter {
	if r.Burst <= 0 {
		r.Burst = 1
	}
	if r.Every <= 0 {
		r.Every = time.Second
	}
	return &rateLimiter{rate: r, buckets: map[string]*bucket{}}
}

// allow takes one token for key; when none is left it reports how long
// until one is.
func (l *rateLimiter) allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxBuckets {
			l.prune(now)
		}
		b = &bucket{tokens: float64(l.rate.Burst), last: now}
		l.buckets[key] = b
	}
	l.refill(b, now)
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration(math.Ceil((1 - b.tokens) * float64(l.rate.Every)))
	return false, wait
}

func (l *rateLimiter) refill(b *bucket, now time.Time) {
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = math.Min(float64(l.rate.Burst), b.tokens+float64(elapsed)/float64(l.rate.Every))
		b.last = now
	}
}

// prune drops full buckets (their keys were idle long enough to refill);
// if that frees nothing, it starts over.
func (l *rateLimiter) prune(now time.Time) {
	for k, b := range l.buckets {
		l.refill(b, now)
		if b.tokens >= float64(l.rate.Burst) {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= maxBuckets {
		l.buckets = map[string]*bucket{}
	}
}

// retryAfterSeconds is the Retry-After value for a wait.
func retryAfterSeconds(d time.Duration) int {
	s := int(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return s
}
