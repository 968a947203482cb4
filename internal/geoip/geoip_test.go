package geoip_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/convot/convot/internal/geoip"
	"github.com/convot/convot/internal/geoip/geoiptest"
)

func TestCountryFromATestDatabase(t *testing.T) {
	path := geoiptest.Write(t, map[string]string{"81.2.69.0/24": "GB", "127.0.0.0/8": "de", "2001:db8::/32": "FR"})
	db, err := geoip.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	for ip, want := range map[string]string{
		"81.2.69.142":      "GB",
		"127.0.0.1":        "DE", // normalised to upper case
		"::ffff:127.0.0.1": "DE", // IPv4-mapped addresses are unmapped
		"2001:db8::1":      "FR",
		"8.8.8.8":          "", // unknown network
		"not an ip":        "",
		"":                 "",
	} {
		if got := db.Country(ip); got != want {
			t.Errorf("Country(%q) = %q, want %q", ip, got, want)
		}
	}
}

func TestNoDatabaseMeansNoCountry(t *testing.T) {
	db, err := geoip.Open("")
	if err != nil || db != nil {
		t.Fatalf("Open(\"\") = %v, %v; want nil, nil", db, err)
	}
	if got := db.Country("81.2.69.142"); got != "" {
		t.Fatalf("nil DB gave %q", got)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestBadDatabaseIsAClearError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "broken.mmdb")
	if err := os.WriteFile(path, []byte("not a database"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := geoip.Open(path); err == nil {
		t.Fatal("a broken file opened")
	}
	if _, err := geoip.Open(filepath.Join(t.TempDir(), "missing.mmdb")); err == nil {
		t.Fatal("a missing file opened")
	}
}
