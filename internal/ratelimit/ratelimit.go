// Package ratelimit is Convot's one rate limiter: a token bucket per key,
// on this web node (Local, on golang.org/x/time/rate) or shared by all web
// nodes through Redis (Redis, which falls back to Local when Redis fails).
//
// A bucket holds up to Burst tokens and gains one every Every; each
// allowed event takes one. Callers pass the time, so tests (and the
// handlers' injected clock) drive refills without sleeping.
package ratelimit

import (
	"context"
	"time"
)

// Rate is one bucket's shape: Burst events at once, then one per Every.
type Rate struct {
	Burst int
	Every time.Duration
}

// normal fills in a usable shape for a zero or negative field.
func (r Rate) normal() Rate {
	if r.Burst <= 0 {
		r.Burst = 1
	}
	if r.Every <= 0 {
		r.Every = time.Second
	}
	return r
}

// Limiter takes tokens from per-key buckets of one Rate.
type Limiter interface {
	// Allow takes one token from key's bucket at now. When none is left
	// it reports false and how long until one is.
	Allow(ctx context.Context, key string, now time.Time) (ok bool, retryAfter time.Duration)
}

// Store makes the limiters of one deployment. name keeps the buckets of
// different purposes apart (a login and a widget message with the same key
// do not share a bucket); each name is used with one Rate.
type Store interface {
	Limiter(name string, r Rate) Limiter
}
