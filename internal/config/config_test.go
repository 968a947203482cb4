package config

import (
	"strings"
	"testing"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestDefaults(t *testing.T) {
	c, err := Load(env())
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != ":8080" || c.TemporalNamespace != "default" || c.TemporalUIPort != 8233 || c.MaxBodyBytes != 1<<20 {
		t.Fatalf("defaults: %+v", c)
	}
	if c.TLS() {
		t.Fatal("TLS on by default")
	}
}

func TestMalformedSettingsNameTheSetting(t *testing.T) {
	for setting, value := range map[string]string{
		"DATABASE_URL":          "mysql://x",
		"REDIS_URL":             "localhost",
		"TEMPORAL_ADDRESS":      "nocolon",
		"CONVOT_MASTER_KEY":     "abc",
		"CONVOT_BASE_URL":       "ftp://x",
		"CONVOT_HTTP_ADDR":      "8080",
		"CONVOT_TLS_CERT":       "/nonexistent.pem",
		"CONVOT_TEMPORAL_PORT":  "99999",
		"CONVOT_MAX_BODY_BYTES": "12",
		"CONVOT_LOG_LEVEL":      "loud",
	} {
		_, err := Load(env(setting, value, "CONVOT_TLS_KEY", map[bool]string{true: "/nonexistent.key"}[setting == "CONVOT_TLS_CERT"]))
		if err == nil || !strings.Contains(err.Error(), setting) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s=%q: %v", setting, value, err)
		}
	}
}

// Policy §7 names the EEA, the United Kingdom and Switzerland: a deployment
// may run in each of them (and in the US); another region is refused.
func TestRegions(t *testing.T) {
	for _, r := range []string{"us", "eu", "uk", "ch"} {
		c, err := Load(env("CONVOT_REGION", r))
		if err != nil || c.Region != r {
			t.Errorf("CONVOT_REGION=%s: %v", r, err)
		}
	}
	if _, err := Load(env("CONVOT_REGION", "mars")); err == nil || !strings.Contains(err.Error(), "CONVOT_REGION") {
		t.Errorf("CONVOT_REGION=mars: %v", err)
	}
}
