package models_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/convot/convot/internal/testdb"
	"github.com/convot/convot/models"
	"gorm.io/gorm"
)

// unmigrated opens an empty database: a PostgreSQL schema of its own when
// DATABASE_URL is set, else SQLite.
func unmigrated(t *testing.T) *gorm.DB {
	t.Helper()
	var db *gorm.DB
	var err error
	if base := os.Getenv("DATABASE_URL"); base != "" {
		db, err = models.Open(testdb.Schema(t, base), "")
	} else {
		db, err = models.OpenSQLite(filepath.Join(t.TempDir(), "convot.db"))
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if sqlDB, err := db.DB(); err == nil {
			_ = sqlDB.Close() // the test is over
		}
	})
	return db
}

// Migration 9 keeps the oldest contact holding an address and turns the
// younger ones into claims on it, so that the unique index can be built.
func TestContactClaimsMigrationKeepsTheOldestHolder(t *testing.T) {
	ctx := context.Background()
	db := unmigrated(t)
	if _, err := models.MigrateUpToForTest(ctx, db, 8); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	insert := func(org uint64, emailIndex, externalIndex string) uint64 {
		t.Helper()
		var id uint64
		err := db.Raw(`INSERT INTO contacts (organization_id, data_key_id, email, email_index, external_id_index, created_at, updated_at)
			VALUES (?, 0, '', ?, ?, ?, ?) RETURNING id`, org, emailIndex, externalIndex, now, now).Scan(&id).Error
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	oldest := insert(1, "same", "")
	younger := insert(1, "same", "")
	youngest := insert(1, "same", "")
	otherOrg := insert(2, "same", "")
	withExternalID := insert(1, "same", "ext")
	noAddress1, noAddress2 := insert(1, "", ""), insert(1, "", "")
	if _, err := models.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	type row struct {
		ID               uint64
		EmailIndex       string
		ClaimedContactID uint64
	}
	want := map[uint64]row{
		oldest: {oldest, "same", 0}, younger: {younger, "", oldest}, youngest: {youngest, "", oldest},
		otherOrg: {otherOrg, "same", 0}, withExternalID: {withExternalID, "same", 0},
		noAddress1: {noAddress1, "", 0}, noAddress2: {noAddress2, "", 0},
	}
	var rows []row
	if err := db.Raw(`SELECT id, email_index, claimed_contact_id FROM contacts`).Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(want) {
		t.Fatalf("%d contacts after the migration, want %d", len(rows), len(want))
	}
	for _, r := range rows {
		if r != want[r.ID] {
			t.Errorf("contact %d: %+v, want %+v", r.ID, r, want[r.ID])
		}
	}
	// The index now refuses a second holder.
	err := db.Exec(`INSERT INTO contacts (organization_id, data_key_id, email_index, created_at, updated_at) VALUES (1, 0, 'same', ?, ?)`, now, now).Error
	if err == nil {
		t.Fatal("a second contact holding the address was accepted")
	}
}
