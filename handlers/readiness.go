package handlers

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/sdk/client"

	"github.com/convot/convot/subprocessors"
)

// readinessTimeout bounds each dependency's check: a load balancer's probe
// must not hang on the dependency it asks about.
const readinessTimeout = 2 * time.Second

// dependencyCheck is one dependency's state in /readyz.
type dependencyCheck struct {
	Status string `json:"status"` // up or down
	Error  string `json:"error,omitempty"`
	// Redis only: what the fail-fast breaker counted since the start.
	Failures *uint64 `json:"failures,omitempty"`
	Skipped  *uint64 `json:"skipped,omitempty"`
}

// redisProbe is a hub backed by Redis (realtime.Redis): it can be pinged and
// counts its failures.
type redisProbe interface {
	Ping(ctx context.Context) error
	Health() subprocessors.RedisHealth
}

// readyz answers whether this node can serve: every dependency it was
// configured with (the database always; Redis when REDIS_URL is set;
// Temporal when the node has a client) answers, checked side by side.
// 200 when all are up, 503 naming the one that is down; /healthz stays
// the liveness probe.
func (s *Server) readyz(c *gin.Context) {
	checks := map[string]func(context.Context) error{"database": s.Store.Ping}
	redis, hasRedis := s.Hub.(redisProbe)
	if hasRedis {
		checks["redis"] = redis.Ping
	}
	if s.Temporal != nil {
		checks["temporal"] = func(ctx context.Context) error {
			_, err := s.Temporal.CheckHealth(ctx, &client.CheckHealthRequest{})
			return err
		}
	}
	results := make(map[string]dependencyCheck, len(checks))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, check := range checks {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(c.Request.Context(), readinessTimeout)
			defer cancel()
			r := dependencyCheck{Status: "up"}
			if err := check(ctx); err != nil {
				// Only the name: the error may quote an address.
				r = dependencyCheck{Status: "down", Error: name + " unreachable"}
			}
			mu.Lock()
			results[name] = r
			mu.Unlock()
		})
	}
	wg.Wait()
	if hasRedis {
		h := redis.Health()
		r := results["redis"]
		r.Failures, r.Skipped = &h.Failures, &h.Skipped
		if h.LastError != "" && r.Status == "down" {
			r.Error = "redis: " + h.LastError
		}
		results["redis"] = r
	}
	status, code := "ready", http.StatusOK
	for _, r := range results {
		if r.Status != "up" {
			status, code = "unavailable", http.StatusServiceUnavailable
		}
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(code, gin.H{"status": status, "checks": results})
}
