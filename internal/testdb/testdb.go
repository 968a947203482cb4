// Package testdb gives each test a fresh, migrated database: SQLite in a
// temporary directory, or, when DATABASE_URL is set (as in CI), a schema of
// its own in that PostgreSQL database, dropped when the test ends.
package testdb

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/models"
)

// DB is a test database with its key store.
type DB struct {
	*gorm.DB
	Keys   *models.KeyStore
	Master *crypto.MasterKeys
	// URL reopens the same database (the PostgreSQL schema) from another
	// handle, or is empty for SQLite.
	URL     string
	DataDir string
}

// New returns a migrated database whose master key is fresh.
func New(t testing.TB) *DB {
	t.Helper()
	master, err := crypto.ParseMasterKeys(crypto.GenerateMasterKey(1))
	if err != nil {
		t.Fatal(err)
	}
	return NewWithMaster(t, master)
}

// NewWithMaster returns a migrated database under the given master keys.
func NewWithMaster(t testing.TB, master *crypto.MasterKeys) *DB {
	t.Helper()
	dbURL := ""
	if base := os.Getenv("DATABASE_URL"); base != "" {
		dbURL = Schema(t, base)
	}
	return open(t, master, dbURL)
}

// NewSQLite returns a migrated SQLite database whatever DATABASE_URL says,
// for code whose SQLite path differs from its PostgreSQL one.
func NewSQLite(t testing.TB) *DB {
	t.Helper()
	master, err := crypto.ParseMasterKeys(crypto.GenerateMasterKey(1))
	if err != nil {
		t.Fatal(err)
	}
	return open(t, master, "")
}

// open sets up the database at dbURL (SQLite when empty) in a temporary
// directory, closed when the test ends.
func open(t testing.TB, master *crypto.MasterKeys, dbURL string) *DB {
	t.Helper()
	dir := t.TempDir()
	db, ks, err := models.Setup(context.Background(), dbURL, dir, master)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if sqlDB, err := db.DB(); err == nil {
			_ = sqlDB.Close() // the test is over; its result stands either way
		}
	})
	return &DB{DB: db, Keys: ks, Master: master, URL: dbURL, DataDir: dir}
}

// Schema creates an empty PostgreSQL schema for the test and returns a URL
// whose search_path points at it.
func Schema(t testing.TB, base string) string {
	t.Helper()
	admin, err := models.Open(base, "")
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("t_%s_%d", strings.ToLower(crypto.RandomToken(6)), time.Now().UnixNano()%1e6)
	name = strings.NewReplacer("-", "_").Replace(name)
	if err := admin.Exec(`CREATE SCHEMA "` + name + `"`).Error; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin.Exec(`DROP SCHEMA "` + name + `" CASCADE`)
		if sqlDB, err := admin.DB(); err == nil {
			_ = sqlDB.Close() // the test is over; its result stands either way
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}
