package backup

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/convot/convot/internal/blob"
	"github.com/convot/convot/internal/obligations"
	"github.com/convot/convot/internal/testdb"
	"github.com/convot/convot/models"
)

// fixture fills a database with a bit of everything: an organization, an
// owner, two contacts with conversations, messages and logs.
type fixture struct {
	org            models.Organization
	owner          models.Account
	alice, bob     models.Contact
	aliceMessageID uint64
}

func fill(t *testing.T, db *gorm.DB) fixture {
	t.Helper()
	var f fixture
	now := time.Now().UTC()
	f.org = models.Organization{PublicKey: "pk-backup", CompanyName: "Acme GmbH", Region: "eu", Status: models.OrgActive, BillingAddress: "Hauptstr. 1, Berlin"}
	must(t, db.Create(&f.org).Error)
	f.owner = models.Account{OrganizationID: f.org.ID, FullName: "Olivia Owner", Email: "olivia@acme.example", Role: models.RoleOwner, TimeZone: "UTC", Language: "en", Status: "active"}
	must(t, db.Create(&f.owner).Error)
	f.alice = models.Contact{OrganizationID: f.org.ID, Name: "Alice Visitor", Email: "alice@example.com", IP: "203.0.113.7",
		CustomAttributes: map[string]string{"plan": "gold"}, LastSeenAt: &now}
	must(t, db.Create(&f.alice).Error)
	f.bob = models.Contact{OrganizationID: f.org.ID, Name: "Bob Visitor", Email: "bob@example.com"}
	must(t, db.Create(&f.bob).Error)
	for _, c := range []models.Contact{f.alice, f.bob} {
		conv := models.Conversation{OrganizationID: f.org.ID, ContactID: c.ID, DataKeyID: c.DataKeyID, Subject: "Hello from " + c.Name, Channel: "widget", Status: "open", LastMessageAt: now}
		must(t, db.Create(&conv).Error)
		for i := 0; i < 30; i++ {
			m := models.Message{OrganizationID: f.org.ID, ConversationID: conv.ID, DataKeyID: c.DataKeyID, AuthorType: "contact", Body: strings.Repeat("message text of "+c.Name+" ", 5), DeliveryStatus: "sent", CreatedAt: now}
			must(t, db.Create(&m).Error)
			if c.ID == f.alice.ID {
				f.aliceMessageID = m.ID
			}
		}
	}
	for i := 0; i < 50; i++ {
		must(t, db.Create(&models.UsageEvent{OrganizationID: f.org.ID, AccountID: f.owner.ID, DataKeyID: f.owner.DataKeyID, Page: "/inbox", Feature: "/inbox", IP: "198.51.100.1", OccurredAt: now}).Error)
	}
	must(t, db.Create(&models.AuditEvent{OrganizationID: f.org.ID, ActorID: f.owner.ID, DataKeyID: f.owner.DataKeyID, Action: "auth.login", IP: "198.51.100.1", CreatedAt: now}).Error)
	return f
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func newBackups(t *testing.T, db *testdb.DB) (*Backups, string) {
	t.Helper()
	dir := t.TempDir()
	disk, err := blob.NewDisk(dir)
	must(t, err)
	return &Backups{DB: db.DB, Blobs: disk, Master: db.Master, Context: StorageContext("eu")}, dir
}

// reopen opens a second handle on a test database with a key store of its
// own, as a process started after a restore would.
func reopen(t *testing.T, db *testdb.DB) (*gorm.DB, *models.KeyStore) {
	t.Helper()
	fresh, err := models.Open(db.URL, db.DataDir)
	must(t, err)
	t.Cleanup(func() {
		if s, err := fresh.DB(); err == nil {
			_ = s.Close() // the test is over; its result stands either way
		}
	})
	ks, err := models.NewKeyStore(context.Background(), fresh, db.Master)
	must(t, err)
	return fresh, ks
}

// rawRows reads a table as stored, ordered by its first column: sealed
// values as sealed.
func rawRows(t *testing.T, db *gorm.DB, table string) []map[string]any {
	t.Helper()
	rows, err := db.Raw("SELECT * FROM " + table + " ORDER BY 1").Rows()
	must(t, err)
	defer func() { _ = rows.Close() }() // rows.Err reports what reading met
	cols, err := rows.Columns()
	must(t, err)
	var out []map[string]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		must(t, rows.Scan(ptrs...))
		r := map[string]any{}
		for i, v := range vals {
			switch x := v.(type) {
			case time.Time:
				v = x.UTC().Format(time.RFC3339Nano)
			case []byte:
				v = string(x)
			case bool:
				v = int64(0)
				if x {
					v = int64(1)
				}
			}
			r[cols[i]] = v
		}
		out = append(out, r)
	}
	must(t, rows.Err())
	return out
}

// A backup restored into an empty database gives back every table, row for
// row, sealed columns exactly as they were stored; the manifest says what
// the backup holds.
func TestBackupRestoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	defer func(old int) { partLimit = old }(partLimit)
	partLimit = 4 << 10 // many parts
	live := testdb.New(t)
	f := fill(t, live.DB)
	b, dir := newBackups(t, live)

	taken := time.Now().UTC()
	m, err := b.Take(ctx, 1, taken, nil)
	must(t, err)
	if m.SchemaVersion != models.LatestMigration() || m.MasterVersion != live.Master.Current() || len(m.Parts) < 3 {
		t.Fatalf("manifest: schema %d, master v%d, %d parts", m.SchemaVersion, m.MasterVersion, len(m.Parts))
	}
	tablesIn := map[string]int64{}
	for _, tb := range m.Tables {
		tablesIn[tb.Name] = tb.Rows
	}
	if tablesIn["messages"] != 60 || tablesIn["usage_events"] != 50 || tablesIn["contacts"] != 2 {
		t.Fatalf("row counts in the manifest: %v", tablesIn)
	}
	if _, ok := tablesIn["backups"]; ok {
		t.Fatal("backup records are in the backup")
	}
	// Nothing in the blob store is readable: no name, address or message.
	err = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, secret := range []string{"Alice", "alice@example.com", "Acme", "message text", "203.0.113.7", "auth.login"} {
			if strings.Contains(string(raw), secret) {
				t.Errorf("%s holds %q in clear", path, secret)
			}
		}
		return nil
	})
	must(t, err)

	target := testdb.NewWithMaster(t, live.Master)
	got, err := b.Restore(ctx, target.DB, 1)
	must(t, err)
	if got.Rows() != m.Rows() {
		t.Fatalf("restored %d rows, backed up %d", got.Rows(), m.Rows())
	}
	for _, tb := range m.Tables {
		want, have := rawRows(t, live.DB, tb.Name), rawRows(t, target.DB, tb.Name)
		if len(want) != len(have) {
			t.Fatalf("%s: %d rows restored, %d backed up", tb.Name, len(have), len(want))
		}
		for i := range want {
			for col, v := range want[i] {
				if have[i][col] != v {
					t.Fatalf("%s row %d column %s: restored %v, was %v", tb.Name, i, col, have[i][col], v)
				}
			}
		}
	}
	// The restored database opens with the backup's keys and reads as the
	// live one; new rows get new IDs.
	db2, _ := reopen(t, target)
	var alice models.Contact
	must(t, db2.First(&alice, f.alice.ID).Error)
	if alice.Name != "Alice Visitor" || alice.Email != "alice@example.com" || alice.CustomAttributes["plan"] != "gold" {
		t.Fatalf("restored contact reads %+v", alice)
	}
	var msg models.Message
	must(t, db2.First(&msg, f.aliceMessageID).Error)
	if !strings.HasPrefix(msg.Body, "message text of Alice") {
		t.Fatalf("restored message reads %q", msg.Body)
	}
	carol := models.Contact{OrganizationID: f.org.ID, Name: "Carol"}
	must(t, db2.Create(&carol).Error)
	if carol.ID <= f.bob.ID {
		t.Fatalf("a new contact got ID %d after a restore of IDs up to %d", carol.ID, f.bob.ID)
	}
	var record models.Backup
	must(t, db2.First(&record, 1).Error)
	if record.Status != models.BackupCompleted || !record.ExpiresAt.Equal(m.TakenAt.Add(obligations.BackupRetention)) {
		t.Fatalf("the restored database's record of backup 1: %+v", record)
	}

	// Restoring again, into what is no longer empty, is refused.
	if _, err := b.Restore(ctx, target.DB, 1); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("restore into a database with data: %v, want ErrNotEmpty", err)
	}
	if _, err := b.Restore(ctx, live.DB, 1); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("restore into the live database: %v, want ErrNotEmpty", err)
	}
	if _, err := b.Restore(ctx, testdb.NewWithMaster(t, live.Master).DB, 99); !errors.Is(err, ErrNotFound) {
		t.Fatalf("restore of an unknown backup: %v, want ErrNotFound", err)
	}
}

// A changed part or manifest is noticed, and nothing is restored.
func TestTamperedBackupIsRefused(t *testing.T) {
	ctx := context.Background()
	live := testdb.New(t)
	fill(t, live.DB)
	b, dir := newBackups(t, live)
	m, err := b.Take(ctx, 7, time.Now(), nil)
	must(t, err)
	path := filepath.Join(dir, "backups", "7", m.Parts[0].Name)
	raw, err := os.ReadFile(path)
	must(t, err)
	raw[len(raw)/2] ^= 1
	must(t, os.WriteFile(path, raw, 0o600))
	target := testdb.NewWithMaster(t, live.Master)
	if _, err := b.Restore(ctx, target.DB, 7); !errors.Is(err, ErrTampered) {
		t.Fatalf("restore of a changed part: %v, want ErrTampered", err)
	}
	var n int64
	target.DB.Raw("SELECT COUNT(*) FROM organizations").Scan(&n)
	if n != 0 {
		t.Fatalf("a refused restore left %d organizations", n)
	}

	mpath := filepath.Join(dir, "backups", "7", "manifest")
	man, err := os.ReadFile(mpath)
	must(t, err)
	must(t, os.WriteFile(mpath, []byte(strings.Replace(string(man), `"rows":2`, `"rows":3`, 1)), 0o600))
	if _, err := b.Manifest(ctx, 7); !errors.Is(err, ErrTampered) {
		t.Fatalf("a changed manifest: %v, want ErrTampered", err)
	}
}

// Crypto-shredding reaches the backups: a contact erased after a backup
// was taken cannot be read from a restore of that backup. The sealed
// values come back as they were stored, but the key that opens them is
// gone from the backup as from the live database.
func TestErasedSubjectCannotBeReadFromARestoredBackup(t *testing.T) {
	ctx := context.Background()
	live := testdb.New(t)
	f := fill(t, live.DB)
	b, _ := newBackups(t, live)
	_, err := b.Take(ctx, 1, time.Now(), nil)
	must(t, err)
	var sealedName string
	must(t, live.DB.Raw("SELECT name FROM contacts WHERE id = ?", f.alice.ID).Scan(&sealedName).Error)

	// Alice is erased: her data key is destroyed in the live database...
	must(t, live.Keys.Destroy(live.DB, f.alice.DataKeyID))
	// ...and the shredding pass (hourly, and before every backup) removes
	// it from every backup kept.
	n, err := b.ShredKeys(ctx, 1)
	must(t, err)
	if n != 1 {
		t.Fatalf("shredding removed %d keys from the backup, want 1", n)
	}
	if again, err := b.ShredKeys(ctx, 1); err != nil || again != 0 {
		t.Fatalf("a second shredding pass: %d, %v; want nothing to do", again, err)
	}

	target := testdb.NewWithMaster(t, live.Master)
	_, err = b.Restore(ctx, target.DB, 1)
	must(t, err)
	db2, ks2 := reopen(t, target)
	var restoredName string
	must(t, db2.Raw("SELECT name FROM contacts WHERE id = ?", f.alice.ID).Scan(&restoredName).Error)
	if restoredName != sealedName || restoredName == "" {
		t.Fatal("the sealed name was not restored as it was stored")
	}
	if _, err := ks2.Open(ctx, "name", restoredName); !errors.Is(err, models.ErrKeyDestroyed) {
		t.Fatalf("opening the erased contact's name from the restore: %v, want ErrKeyDestroyed", err)
	}
	var alice, bob models.Contact
	must(t, db2.First(&alice, f.alice.ID).Error)
	if alice.Name != "" || alice.Email != "" || alice.IP != "" || len(alice.CustomAttributes) != 0 {
		t.Fatalf("the erased contact reads %+v from the restore", alice)
	}
	var body string
	must(t, db2.Raw("SELECT body FROM messages WHERE id = ?", f.aliceMessageID).Scan(&body).Error)
	if _, err := ks2.Open(ctx, "body", body); !errors.Is(err, models.ErrKeyDestroyed) {
		t.Fatalf("opening the erased contact's message: %v, want ErrKeyDestroyed", err)
	}
	// Everyone else is intact.
	must(t, db2.First(&bob, f.bob.ID).Error)
	if bob.Name != "Bob Visitor" || bob.Email != "bob@example.com" {
		t.Fatalf("another contact reads %+v from the restore", bob)
	}
}

// Deleting a backup removes every blob it had, and is idempotent.
func TestDeleteRemovesEveryBlob(t *testing.T) {
	ctx := context.Background()
	live := testdb.New(t)
	fill(t, live.DB)
	b, dir := newBackups(t, live)
	_, err := b.Take(ctx, 3, time.Now(), nil)
	must(t, err)
	must(t, b.Delete(ctx, 3))
	must(t, b.Delete(ctx, 3))
	entries, _ := os.ReadDir(filepath.Join(dir, "backups", "3"))
	if len(entries) != 0 {
		t.Fatalf("%d blobs left after delete", len(entries))
	}
	if _, err := b.Manifest(ctx, 3); !errors.Is(err, ErrNotFound) {
		t.Fatalf("manifest of a deleted backup: %v", err)
	}
}
