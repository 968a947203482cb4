// Package geoiptest writes small MaxMind-format databases for tests, so
// that GeoIP lookups are proven without shipping a real database. Only
// tests import it.
package geoiptest

import (
	"net"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// Write builds a Country database mapping each network (CIDR) to an ISO
// country code, writes it into a temporary directory and returns its path.
// Reserved networks (such as 127.0.0.0/8, where test clients connect
// from) may be mapped too.
func Write(t testing.TB, countries map[string]string) string {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            "Convot-Test-Country",
		IncludeReservedNetworks: true,
		RecordSize:              24,
	})
	if err != nil {
		t.Fatal(err)
	}
	networks := make([]string, 0, len(countries))
	for n := range countries {
		networks = append(networks, n)
	}
	sort.Strings(networks)
	for _, cidr := range networks {
		_, network, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		rec := mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String(countries[cidr])}}
		if err := tree.Insert(network, rec); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "country.mmdb")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}
