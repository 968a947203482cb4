package main

import (
	"testing"

	"github.com/convot/convot/internal/config"
	"github.com/convot/convot/internal/crypto"
)

// REDIS_URL puts the rate limits in Redis (connecting on first use);
// without it they stay per node.
func TestOpenRateLimits(t *testing.T) {
	master, err := crypto.ParseMasterKeys(crypto.GenerateMasterKey(1))
	if err != nil {
		t.Fatal(err)
	}
	scripts, limits, err := openRateLimits(&config.Config{}, master)
	if err != nil || scripts != nil || limits != nil {
		t.Fatalf("without REDIS_URL: %v %v %v", scripts, limits, err)
	}
	scripts, limits, err = openRateLimits(&config.Config{RedisURL: "redis://127.0.0.1:1/0"}, master)
	if err != nil || scripts == nil || limits == nil {
		t.Fatalf("with REDIS_URL: %v %v %v", scripts, limits, err)
	}
	if err := scripts.Close(); err != nil {
		t.Fatal(err)
	}
}
