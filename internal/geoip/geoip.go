// Package geoip derives the approximate location policy §2.2 lists (a
// country, nothing finer) from a visitor's IP address, using a
// MaxMind-format database file (GeoLite2/GeoIP2 Country or City, or any
// .mmdb with a country.iso_code). The lookup is local: the address never
// leaves the process. Without a configured database there is no country.
package geoip

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/oschwald/maxminddb-golang/v2"
)

// DB looks up countries. A nil *DB answers "" for every address.
type DB struct {
	reader *maxminddb.Reader
}

// Open reads the database at path (CONVOT_GEOIP_DB). An empty path means no
// GeoIP: it returns nil and no error.
func Open(path string) (*DB, error) {
	if strings.TrimSpace(path) == "" {
		return nil, nil
	}
	r, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("CONVOT_GEOIP_DB: %w", err)
	}
	return &DB{reader: r}, nil
}

// record is the part of a Country or City record we read: the country's
// ISO code, or the registered country's when the address has no country.
type record struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	RegisteredCountry struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"registered_country"`
}

// Country returns the ISO 3166-1 alpha-2 code of the country an address is
// in, or "" when there is no database, the address is malformed, or the
// database does not know it.
func (d *DB) Country(ip string) string {
	if d == nil || d.reader == nil {
		return ""
	}
	addr, err := netip.ParseAddr(strings.TrimSpace(ip))
	if err != nil {
		return ""
	}
	var rec record
	if err := d.reader.Lookup(addr.Unmap()).Decode(&rec); err != nil {
		return ""
	}
	code := rec.Country.ISOCode
	if code == "" {
		code = rec.RegisteredCountry.ISOCode
	}
	if len(code) != 2 {
		return ""
	}
	return strings.ToUpper(code)
}

// Close releases the database.
func (d *DB) Close() error {
	if d == nil || d.reader == nil {
		return nil
	}
	return d.reader.Close()
}
