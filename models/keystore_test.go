package models_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/internal/testdb"
	"github.com/convot/convot/models"
)

func newContact(t *testing.T, db *testdb.DB) *models.Contact {
	t.Helper()
	org := &models.Organization{PublicKey: crypto.RandomToken(12), CompanyName: "Acme GmbH", Region: "eu", Status: models.OrgActive}
	if err := db.Create(org).Error; err != nil {
		t.Fatal(err)
	}
	c := &models.Contact{
		OrganizationID: org.ID, Name: "Alice Liddell", Email: "alice@example.com", Phone: "+49 30 1234567",
		CustomAttributes: map[string]string{"plan": "gold"}, IP: "203.0.113.7",
	}
	if err := db.Create(c).Error; err != nil {
		t.Fatal(err)
	}
	return c
}

// The raw row holds no plaintext email, name, phone or IP: only sealed values.
func TestPersonalColumnsAreEncryptedAtRest(t *testing.T) {
	db := testdb.New(t)
	c := newContact(t, db)
	var raw map[string]any
	if err := db.Raw("SELECT * FROM contacts WHERE id = ?", c.ID).Scan(&raw).Error; err != nil {
		t.Fatal(err)
	}
	for col, v := range raw {
		s, _ := v.(string)
		if b, ok := v.([]byte); ok {
			s = string(b)
		}
		for _, plain := range []string{"alice@example.com", "Alice", "1234567", "203.0.113.7", "gold"} {
			if strings.Contains(s, plain) {
				t.Errorf("column %s holds plaintext %q", col, plain)
			}
		}
	}
	if email, _ := raw["email"].(string); !strings.HasPrefix(email, "ck1.") {
		t.Fatalf("email column is not sealed: %q", raw["email"])
	}
	var got models.Contact
	if err := db.First(&got, c.ID).Error; err != nil {
		t.Fatal(err)
	}
	if got.Email != "alice@example.com" || got.Name != "Alice Liddell" || got.CustomAttributes["plan"] != "gold" {
		t.Fatalf("decrypted contact = %+v", got)
	}
	// Lookup by email goes through the blind index.
	var found models.Contact
	if err := db.Where("email_index = ?", db.Keys.BlindIndex("ALICE@example.com ")).First(&found).Error; err != nil {
		t.Fatalf("blind index lookup: %v", err)
	}
	if found.ID != c.ID {
		t.Fatalf("blind index found %d, want %d", found.ID, c.ID)
	}
}

// A sealed value moved to another column does not open.
func TestSealedValueIsBoundToItsColumn(t *testing.T) {
	db := testdb.New(t)
	c := newContact(t, db)
	if err := db.Exec("UPDATE contacts SET name = email WHERE id = ?", c.ID).Error; err != nil {
		t.Fatal(err)
	}
	var got models.Contact
	if err := db.First(&got, c.ID).Error; err == nil {
		t.Fatalf("a value moved between columns was accepted: name=%q", got.Name)
	}
}

// Destroying the subject's data key makes the data unreadable everywhere.
func TestDestroyedKeyShredsData(t *testing.T) {
	db := testdb.New(t)
	c := newContact(t, db)
	var raw struct{ Email string }
	db.Raw("SELECT email FROM contacts WHERE id = ?", c.ID).Scan(&raw)
	if err := db.Keys.Destroy(db.DB, c.DataKeyID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Keys.Open(context.Background(), "email", raw.Email); !errors.Is(err, models.ErrKeyDestroyed) {
		t.Fatalf("open after destroy: %v, want ErrKeyDestroyed", err)
	}
	// A fresh key store, as another node or a restored backup would have.
	fresh := reopenDB(t, db)
	ks, err := models.NewKeyStore(context.Background(), fresh, db.Master)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Open(context.Background(), "email", raw.Email); !errors.Is(err, models.ErrKeyDestroyed) {
		t.Fatalf("open on a fresh node after destroy: %v, want ErrKeyDestroyed", err)
	}
	var got models.Contact
	if err := db.First(&got, c.ID).Error; err != nil {
		t.Fatal(err)
	}
	if got.Email != "" || got.Name != "" {
		t.Fatalf("shredded contact still reads %q %q", got.Name, got.Email)
	}
}

// Rotating the master key re-wraps every data key; afterwards the old master
// key can be dropped and every row still reads.
func TestMasterKeyRotationKeepsEveryRowReadable(t *testing.T) {
	v1 := crypto.GenerateMasterKey(1)
	m1, _ := crypto.ParseMasterKeys(v1)
	db := testdb.NewWithMaster(t, m1)
	var ids []uint64
	for i := 0; i < 3; i++ {
		ids = append(ids, newContact(t, db).ID)
	}
	v2 := crypto.GenerateMasterKey(2)
	both, err := crypto.ParseMasterKeys(v2 + "," + v1)
	if err != nil {
		t.Fatal(err)
	}
	ks, err := models.NewKeyStore(context.Background(), reopenDB(t, db), both)
	if err != nil {
		t.Fatal(err)
	}
	n, err := ks.Rewrap(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n < 7 { // 3 orgs + 3 contacts + the system key + the blind-index key
		t.Fatalf("rewrapped %d keys, want at least 7", n)
	}
	// The old master key is gone now.
	only2, _ := crypto.ParseMasterKeys(v2)
	fresh := reopenDB(t, db)
	ks2, err := models.NewKeyStore(context.Background(), fresh, only2)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		var c models.Contact
		if err := fresh.First(&c, id).Error; err != nil {
			t.Fatalf("contact %d after rotation: %v", id, err)
		}
		if c.Email != "alice@example.com" {
			t.Fatalf("contact %d reads %q after rotation", id, c.Email)
		}
	}
	// The blind index survives rotation: lookups still match.
	var count int64
	fresh.Model(&models.Contact{}).Where("email_index = ?", ks2.BlindIndex("alice@example.com")).Count(&count)
	if count != 3 {
		t.Fatalf("blind index after rotation matched %d contacts, want 3", count)
	}
}

func TestMigrationsCoverEveryModelAndAreIdempotent(t *testing.T) {
	db := testdb.New(t)
	applied, err := models.Migrate(context.Background(), db.DB)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != 0 {
		t.Fatalf("second migrate applied %v", applied)
	}
	m := db.Migrator()
	for _, model := range models.All() {
		if !m.HasTable(model) {
			t.Errorf("%T: no table", model)
			continue
		}
		stmt := &gormStatement{DB: db.DB}
		if err := stmt.Parse(model); err != nil {
			t.Fatal(err)
		}
		for _, f := range stmt.Schema.Fields {
			if f.DBName != "" && !m.HasColumn(model, f.DBName) {
				t.Errorf("%T: column %s missing from the migrations", model, f.DBName)
			}
		}
	}
}
