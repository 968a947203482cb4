package ratelimit

import (
	"container/heap"
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultMaxKeys bounds each local limiter: about 25 MB of buckets.
const DefaultMaxKeys = 100_000

// LocalStore makes limiters that count on this web node only.
type LocalStore struct {
	// MaxKeys bounds each limiter's keys (DefaultMaxKeys when zero).
	MaxKeys int
}

// Limiter returns a new per-node limiter; name only matters across nodes.
func (s LocalStore) Limiter(_ string, r Rate) Limiter { return NewLocal(r, s.MaxKeys) }

// Local is a token bucket per key in this process, holding at most maxKeys
// keys.
//
// When it is full, a new key may only take the place of an idle one: a key
// whose bucket has refilled completely, which is exactly as if it had never
// been seen. Of those, the one idle the longest goes first. If no key is
// idle the new key is refused. Dropping a live bucket instead would hand
// its owner a fresh burst, so a flood of made-up keys would reset the
// counter of the key under attack (a password guesser could wipe its own
// count). Refusing new keys fails closed: during such a flood new callers
// wait until a bucket refills, and no limited caller gets through.
type Local struct {
	rate    Rate
	limit   rate.Limit
	maxKeys int

	mu   sync.Mutex
	keys map[string]*bucket
	// byFull orders the buckets by when they are full again, so the
	// first one is the only candidate for eviction that needs checking.
	byFull bucketHeap
}

type bucket struct {
	key     string
	limiter *rate.Limiter
	full    time.Time // when the bucket holds Burst tokens again
	index   int       // in byFull
}

// NewLocal returns a per-node limiter of rate r for at most maxKeys keys
// (DefaultMaxKeys when zero or less).
func NewLocal(r Rate, maxKeys int) *Local {
	r = r.normal()
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	return &Local{rate: r, limit: rate.Every(r.Every), maxKeys: maxKeys, keys: map[string]*bucket{}}
}

// Allow takes one token from key's bucket. ctx is unused: nothing here
// waits.
func (l *Local) Allow(_ context.Context, key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.keys[key]
	if b == nil {
		if len(l.keys) >= l.maxKeys && !l.evictIdle(now) {
			// Every bucket is in use: the first frees up when it is full.
			return false, l.byFull[0].full.Sub(now)
		}
		b = &bucket{key: key, limiter: rate.NewLimiter(l.limit, l.rate.Burst)}
		l.keys[key] = b
		heap.Push(&l.byFull, b)
	}
	if !b.limiter.AllowN(now, 1) {
		// A refused event leaves the bucket as it was.
		return false, l.duration(1 - b.limiter.TokensAt(now))
	}
	b.full = now.Add(l.duration(float64(l.rate.Burst) - b.limiter.TokensAt(now)))
	heap.Fix(&l.byFull, b.index)
	return true, 0
}

// duration is how long the bucket takes to gain tokens, rounded up so a
// bucket is never taken for fuller than it is.
func (l *Local) duration(tokens float64) time.Duration {
	if tokens <= 0 {
		return 0
	}
	return time.Duration(math.Ceil(tokens * float64(l.rate.Every)))
}

// evictIdle drops the bucket that has been full the longest, if any is.
func (l *Local) evictIdle(now time.Time) bool {
	if len(l.byFull) == 0 || l.byFull[0].full.After(now) {
		return false
	}
	b := heap.Pop(&l.byFull).(*bucket)
	delete(l.keys, b.key)
	return true
}

// bucketHeap is a min-heap of buckets by full time (container/heap).
type bucketHeap []*bucket

func (h bucketHeap) Len() int           { return len(h) }
func (h bucketHeap) Less(i, j int) bool { return h[i].full.Before(h[j].full) }
func (h bucketHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *bucketHeap) Push(x any) {
	b := x.(*bucket)
	b.index = len(*h)
	*h = append(*h, b)
}
func (h *bucketHeap) Pop() any {
	old := *h
	b := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return b
}
