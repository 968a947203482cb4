package ratelimit

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var t0 = time.Unix(1_700_000_000, 0)

// drain takes n tokens of key at now, failing if one is refused.
func drain(t *testing.T, l Limiter, key string, n int, now time.Time) {
	t.Helper()
	for i := range n {
		if ok, _ := l.Allow(context.Background(), key, now); !ok {
			t.Fatalf("%s: event %d of %d refused", key, i+1, n)
		}
	}
}

// burstThenRefill is the contract both implementations keep.
func burstThenRefill(t *testing.T, l Limiter) {
	ctx := context.Background()
	drain(t, l, "a", 3, t0)
	ok, wait := l.Allow(ctx, "a", t0)
	if ok || wait != time.Second {
		t.Fatalf("over the burst: %v, retry after %v; want refused, 1s", ok, wait)
	}
	if ok, wait := l.Allow(ctx, "a", t0.Add(400*time.Millisecond)); ok || wait != 600*time.Millisecond {
		t.Fatalf("before a token: %v, retry after %v; want refused, 600ms", ok, wait)
	}
	drain(t, l, "b", 3, t0) // another key has its own bucket
	// One token per second comes back, never more than the burst.
	drain(t, l, "a", 1, t0.Add(time.Second))
	if ok, _ := l.Allow(ctx, "a", t0.Add(time.Second)); ok {
		t.Fatal("two tokens after one second")
	}
	drain(t, l, "a", 3, t0.Add(time.Hour))
	if ok, _ := l.Allow(ctx, "a", t0.Add(time.Hour)); ok {
		t.Fatal("more than the burst after a long wait")
	}
}

// exactlyBurst races goroutines on one key: exactly Burst get through.
func exactlyBurst(t *testing.T, l Limiter, burst int) {
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for range 10 {
				if ok, _ := l.Allow(context.Background(), "race", t0); ok {
					allowed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if got := allowed.Load(); got != int64(burst) {
		t.Fatalf("%d of 640 racing events allowed, want the burst %d", got, burst)
	}
}

func TestLocalBurstThenRefill(t *testing.T) {
	burstThenRefill(t, NewLocal(Rate{Burst: 3, Every: time.Second}, 0))
}

func TestLocalConcurrentAllowsExactlyBurst(t *testing.T) {
	exactlyBurst(t, NewLocal(Rate{Burst: 25, Every: time.Minute}, 0), 25)
}

// A flood of a million made-up keys neither resets a live bucket nor
// grows the limiter past its bound; once the flood's buckets are full
// again, new keys take their places.
func TestLocalFloodKeepsLiveCounts(t *testing.T) {
	const maxKeys = 1000
	l := NewLocal(Rate{Burst: 5, Every: time.Minute}, maxKeys)
	ctx := context.Background()
	drain(t, l, "victim", 5, t0)
	refused := 0
	for i := range 1_000_000 {
		now := t0.Add(time.Duration(i) * time.Microsecond)
		if ok, _ := l.Allow(ctx, "flood:"+strconv.Itoa(i), now); !ok {
			refused++
		}
	}
	if len(l.keys) != maxKeys || len(l.byFull) != maxKeys {
		t.Fatalf("%d keys (%d in the heap), want the bound %d", len(l.keys), len(l.byFull), maxKeys)
	}
	if refused != 1_000_000-(maxKeys-1) {
		t.Fatalf("%d flood keys refused, want all but the %d free places", refused, maxKeys-1)
	}
	if ok, _ := l.Allow(ctx, "victim", t0.Add(time.Second)); ok {
		t.Fatal("the flood reset the victim's bucket")
	}
	// New keys wait for the first bucket to be full again.
	if ok, wait := l.Allow(ctx, "newcomer", t0.Add(time.Second)); ok || wait != time.Minute-time.Second {
		t.Fatalf("a new key while none is idle: %v, retry after %v", ok, wait)
	}
	// Two minutes on, the flood's buckets (one event each) are full and
	// give way; the victim's (five events) is not, and keeps its count.
	later := t0.Add(2 * time.Minute)
	for i := range 2 * maxKeys {
		if ok, _ := l.Allow(ctx, "later:"+strconv.Itoa(i), later); !ok && i < maxKeys-1 {
			t.Fatalf("new key %d refused though idle buckets could go", i)
		}
	}
	drain(t, l, "victim", 2, later)
	if ok, _ := l.Allow(ctx, "victim", later); ok {
		t.Fatal("the victim was evicted: it got a fresh burst")
	}
}

func TestLocalStoreKeepsNamesApart(t *testing.T) {
	s := LocalStore{}
	a, b := s.Limiter("a", Rate{Burst: 1, Every: time.Hour}), s.Limiter("b", Rate{Burst: 1, Every: time.Hour})
	drain(t, a, "k", 1, t0)
	drain(t, b, "k", 1, t0)
}

func TestRateNormal(t *testing.T) {
	if r := (Rate{}).normal(); r != (Rate{Burst: 1, Every: time.Second}) {
		t.Fatalf("zero rate: %+v", r)
	}
}
