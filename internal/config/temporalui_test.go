package config

import (
	"strings"
	"testing"
)

// CONVOT_TEMPORAL_UI_URL is the UI server's origin alone; the officers'
// link then defaults to CONVOT_BASE_URL/temporal.
func TestTemporalUIUpstream(t *testing.T) {
	c, err := Load(env("CONVOT_TEMPORAL_UI_URL", "http://temporal-ui:8080", "CONVOT_BASE_URL", "https://convot.example/"))
	if err != nil {
		t.Fatal(err)
	}
	if c.TemporalUIUpstream == nil || c.TemporalUIUpstream.String() != "http://temporal-ui:8080" || c.TemporalUIURL != "https://convot.example/temporal" {
		t.Fatalf("upstream %v, link %q", c.TemporalUIUpstream, c.TemporalUIURL)
	}
	c, err = Load(env("CONVOT_TEMPORAL_UI_URL", "http://temporal-ui:8080/", "TEMPORAL_UI_URL", "https://ops.example/temporal"))
	if err != nil || c.TemporalUIURL != "https://ops.example/temporal" || c.TemporalUIUpstream.Path != "" {
		t.Fatalf("an explicit TEMPORAL_UI_URL: %v %+v", err, c)
	}
	if c, err := Load(env()); err != nil || c.TemporalUIUpstream != nil {
		t.Fatalf("default: %v %v", err, c.TemporalUIUpstream)
	}
	for _, bad := range []string{"temporal-ui:8080", "ftp://temporal-ui", "http://temporal-ui:8080/temporal", "http://u:p@temporal-ui", "http://temporal-ui?x=1"} {
		_, err := Load(env("CONVOT_TEMPORAL_UI_URL", bad))
		if err == nil || !strings.Contains(err.Error(), "CONVOT_TEMPORAL_UI_URL") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
