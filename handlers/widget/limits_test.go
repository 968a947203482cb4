package widget

import (
	"context"
	"testing"
	"time"

	"github.com/convot/convot/internal/ratelimit"
)

func TestWidgetRateLimiterRefills(t *testing.T) {
	l := ratelimit.LocalStore{}.Limiter("widget-messages", Rate{Burst: 2, Every: time.Second})
	ctx, now := context.Background(), time.Unix(1000, 0)
	if ok, _ := l.Allow(ctx, "a", now); !ok {
		t.Fatal("first")
	}
	if ok, _ := l.Allow(ctx, "a", now); !ok {
		t.Fatal("second")
	}
	ok, wait := l.Allow(ctx, "a", now)
	if ok || wait != time.Second || retryAfterSeconds(wait) != 1 {
		t.Fatalf("third: %v %v", ok, wait)
	}
	if ok, _ := l.Allow(ctx, "b", now); !ok {
		t.Fatal("another key is limited")
	}
	if ok, _ := l.Allow(ctx, "a", now.Add(time.Second)); !ok {
		t.Fatal("no refill")
	}
}
