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
		"DATABASE_URL":            "mysql://x",
		"REDIS_URL":               "localhost",
		"TEMPORAL_ADDRESS":        "nocolon",
		"CONVOT_MASTER_KEY":       "abc",
		"CONVOT_BASE_URL":         "ftp://x",
		"CONVOT_HTTP_ADDR":        "8080",
		"CONVOT_TLS_CERT":         "/nonexistent.pem",
		"CONVOT_TEMPORAL_PORT":    "99999",
		"CONVOT_MAX_BODY_BYTES":   "12",
		"CONVOT_LOG_LEVEL":        "loud",
		"CONVOT_PRIVACY_ADDRESS":  "privacy at example",
		"CONVOT_SECURITY_ADDRESS": "Security <security@example.com>",
		"CONVOT_SUPPORT_ADDRESS":  "support@",
	} {
		_, err := Load(env(setting, value, "CONVOT_TLS_KEY", map[bool]string{true: "/nonexistent.key"}[setting == "CONVOT_TLS_CERT"]))
		if err == nil || !strings.Contains(err.Error(), setting) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s=%q: %v", setting, value, err)
		}
	}
}

// The three contact addresses of policy §14 come from settings, each a
// bare address, and differ: mail to each is taken in differently.
func TestContactAddressesFromSettings(t *testing.T) {
	c, err := Load(env())
	if err != nil {
		t.Fatal(err)
	}
	if c.PrivacyAddress != "privacy@convot.io" || c.SecurityAddress != "security@convot.io" || c.SupportAddress != "support@convot.io" {
		t.Fatalf("default addresses: %q %q %q", c.PrivacyAddress, c.SecurityAddress, c.SupportAddress)
	}
	c, err = Load(env("CONVOT_PRIVACY_ADDRESS", "DPO@Example.com", "CONVOT_SECURITY_ADDRESS", "psirt@example.com", "CONVOT_SUPPORT_ADDRESS", "help@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	if c.PrivacyAddress != "dpo@example.com" || c.SecurityAddress != "psirt@example.com" || c.SupportAddress != "help@example.com" {
		t.Fatalf("configured addresses: %q %q %q", c.PrivacyAddress, c.SecurityAddress, c.SupportAddress)
	}
	if _, err := Load(env("CONVOT_SECURITY_ADDRESS", "privacy@convot.io")); err == nil || !strings.Contains(err.Error(), "CONVOT_SECURITY_ADDRESS") {
		t.Fatalf("the same address for privacy and security: %v", err)
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
