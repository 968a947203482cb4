package models_test

import (
	"context"
	"testing"
	"time"

	"github.com/convot/convot/models"
)

// Migration 10 drops the inbound copies of a mail taken in twice before
// it (the oldest row stays, so replies still thread into the first
// conversation), keeps outbound rows and other organizations' mail, and
// then refuses a second inbound row for the same Message-ID.
func TestInboundMailMigrationKeepsTheOldestCopy(t *testing.T) {
	ctx := context.Background()
	db := unmigrated(t)
	if _, err := models.MigrateUpToForTest(ctx, db, 9); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	insert := func(org, conv uint64, direction, index string) uint64 {
		t.Helper()
		var id uint64
		err := db.Raw(`INSERT INTO email_messages (organization_id, conversation_id, data_key_id, direction, header_id, header_id_index, created_at)
			VALUES (?, ?, 0, ?, '', ?, ?) RETURNING id`, org, conv, direction, index, now).Scan(&id).Error
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	first := insert(1, 10, "in", "mail-a")
	insert(1, 11, "in", "mail-a")
	insert(1, 12, "in", "mail-a")
	outbound := insert(1, 10, "out", "mail-a")
	otherOrg := insert(2, 20, "in", "mail-a")
	otherMail := insert(1, 13, "in", "mail-b")
	if _, err := models.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	var kept []uint64
	if err := db.Raw(`SELECT id FROM email_messages ORDER BY id`).Scan(&kept).Error; err != nil {
		t.Fatal(err)
	}
	want := []uint64{first, outbound, otherOrg, otherMail}
	if len(kept) != len(want) {
		t.Fatalf("rows after the migration: %v, want %v", kept, want)
	}
	for i := range want {
		if kept[i] != want[i] {
			t.Fatalf("rows after the migration: %v, want %v", kept, want)
		}
	}
	err := db.Exec(`INSERT INTO email_messages (organization_id, conversation_id, data_key_id, direction, header_id, header_id_index, created_at)
		VALUES (1, 14, 0, 'in', '', 'mail-a', ?)`, now).Error
	if err == nil {
		t.Fatal("a second inbound row for one Message-ID was accepted")
	}
}
