package config

import (
	"strings"
	"testing"
	"time"
)

// The alerts' thresholds, Sentry's traces sample rate and the OTLP
// endpoint: defaults, values, and malformed ones refused naming the setting.
func TestObservabilitySettings(t *testing.T) {
	c, err := Load(env())
	if err != nil {
		t.Fatal(err)
	}
	want := AlertThresholds{FailedSignInsAccount: Threshold{10, time.Hour}, FailedSignInsIP: Threshold{20, time.Hour},
		GateDenials: Threshold{50, time.Hour}, BulkDownloads: Threshold{100, time.Hour}, NewCountry: true}
	if c.Alerts != want || c.SentryTracesSampleRate != 0 || c.OTLPEndpoint != "" {
		t.Fatalf("defaults: alerts %+v, rate %v, endpoint %q", c.Alerts, c.SentryTracesSampleRate, c.OTLPEndpoint)
	}
	c, err = Load(env("CONVOT_ALERT_GATE_DENIALS", "off", "CONVOT_ALERT_BULK_DOWNLOADS", "7/15m", "CONVOT_ALERT_NEW_COUNTRY", "off",
		"CONVOT_SENTRY_TRACES_SAMPLE_RATE", "0.25", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Alerts.GateDenials.Off() || c.Alerts.BulkDownloads != (Threshold{7, 15 * time.Minute}) || c.Alerts.NewCountry ||
		c.SentryTracesSampleRate != 0.25 || c.OTLPEndpoint != "http://collector:4318" {
		t.Fatalf("values: %+v, %v, %q", c.Alerts, c.SentryTracesSampleRate, c.OTLPEndpoint)
	}
	for setting, value := range map[string]string{
		"CONVOT_ALERT_FAILED_SIGN_INS_ACCOUNT": "10",
		"CONVOT_ALERT_FAILED_SIGN_INS_IP":      "0/1h",
		"CONVOT_ALERT_GATE_DENIALS":            "5/1s",
		"CONVOT_ALERT_BULK_DOWNLOADS":          "x/1h",
		"CONVOT_ALERT_NEW_COUNTRY":             "yes",
		"CONVOT_SENTRY_TRACES_SAMPLE_RATE":     "NaN",
		"OTEL_EXPORTER_OTLP_ENDPOINT":          "collector:4318",
	} {
		_, err := Load(env(setting, value))
		if err == nil || !strings.Contains(err.Error(), setting) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s=%q: %v", setting, value, err)
		}
	}
	if _, err := Load(env("CONVOT_SENTRY_TRACES_SAMPLE_RATE", "1.5")); err == nil {
		t.Error("a sample rate above 1 was accepted")
	}
}
