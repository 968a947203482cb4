package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/convot/convot/handlers/dashboard"
	"github.com/convot/convot/internal/backup"
	"github.com/convot/convot/internal/blob"
	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/internal/testdb"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// Publishing a material change refuses an effective date less than thirty
// days away, before anything is recorded; a valid one becomes version 2
// (the embedded policy is version 1) and starts its notice; a version
// whose notice cannot start is taken back.
func TestPolicyPublishRefusesLessThan30Days(t *testing.T) {
	ctx := context.Background()
	db := testdb.New(t)
	now := time.Date(2027, 1, 10, 12, 0, 0, 0, time.UTC)
	var started []workflows.PolicyChangeInput
	start := func(in workflows.PolicyChangeInput) error { started = append(started, in); return nil }
	p := policyPublication{Text: "New policy.", Material: true, Summary: "Shorter log retention."}

	p.Effective = now.Add(29 * 24 * time.Hour)
	if _, err := publishPolicy(ctx, store.New(db.DB, db.Keys), p, now, start); !errors.Is(err, models.ErrNoticeTooShort) {
		t.Fatalf("29 days: %v, want ErrNoticeTooShort", err)
	}
	var n int64
	db.Model(&models.PolicyVersion{}).Count(&n)
	if n != 0 || len(started) != 0 {
		t.Fatalf("a refused publication left %d versions and %d notices", n, len(started))
	}

	p.Effective = now.Add(30 * 24 * time.Hour)
	v, err := publishPolicy(ctx, store.New(db.DB, db.Keys), p, now, start)
	if err != nil {
		t.Fatal(err)
	}
	if v.Version != 2 || len(started) != 1 || started[0].Version != 2 || !started[0].EffectiveAt.Equal(p.Effective) {
		t.Fatalf("published %+v, notices %+v", v, started)
	}
	v1, err := models.PolicyByVersion(ctx, db.DB, 1)
	if err != nil || v1 == nil || !strings.Contains(v1.Text, "Privacy Policy") {
		t.Fatalf("version 1 is not the embedded policy: %v", err)
	}

	failing := func(workflows.PolicyChangeInput) error { return errors.New("temporal down") }
	if _, err := publishPolicy(ctx, store.New(db.DB, db.Keys), p, now, failing); err == nil {
		t.Fatal("a version whose notice failed was published")
	}
	db.Model(&models.PolicyVersion{}).Count(&n)
	if n != 2 {
		t.Fatalf("%d versions after a failed publication, want 2", n)
	}

	// A non-material change needs no notice period and mails no one.
	p.Material, p.Effective = false, now.Add(24*time.Hour)
	if v, err := publishPolicy(ctx, store.New(db.DB, db.Keys), p, now, failing); err != nil || v.Version != 3 {
		t.Fatalf("non-material change: %v", err)
	}

	// A text still holding the e-mail-obfuscation artefact where an
	// address belongs, or a placeholder nothing fills, is refused.
	for _, text := range []string{"Write to " + models.PolicyArtefact + ".", "Write to {{dpo_address}}."} {
		p.Text = text
		if _, err := publishPolicy(ctx, store.New(db.DB, db.Keys), p, now, failing); err == nil || !strings.Contains(err.Error(), "--file") {
			t.Fatalf("published %q: %v", text, err)
		}
	}
	db.Model(&models.PolicyVersion{}).Count(&n)
	if n != 3 {
		t.Fatalf("%d versions after refused texts, want 3", n)
	}
	p.Text = "Write to {{privacy_address}}."
	if v, err := publishPolicy(ctx, store.New(db.DB, db.Keys), p, now, failing); err != nil || v.Version != 4 {
		t.Fatalf("a text with placeholders: %v", err)
	}

	// The command's own checks.
	dir := t.TempDir()
	file := filepath.Join(dir, "policy.txt")
	if err := os.WriteFile(file, []byte("text"), 0o600); err != nil {
		t.Fatal(err)
	}
	soon := time.Now().UTC().Add(10 * 24 * time.Hour).Format(time.DateOnly)
	err = runPolicy(ctx, []string{"publish", "--file", file, "--effective", soon, "--material", "--summary", "x"}, &bytes.Buffer{})
	if !errors.Is(err, models.ErrNoticeTooShort) {
		t.Fatalf("convot policy publish 10 days ahead: %v", err)
	}
	for _, args := range [][]string{
		{"publish", "--file", file},
		{"publish", "--file", file, "--effective", "next week"},
		{"publish", "--file", file, "--effective", "2099-01-01", "--material"},
		{"publish", "--file", filepath.Join(dir, "missing.txt"), "--effective", "2099-01-01"},
	} {
		if err := runPolicy(ctx, args, &bytes.Buffer{}); err == nil {
			t.Errorf("convot policy %v: accepted", args)
		}
	}
}

// `convot backup restore <id>` restores a backup from the blob store into
// the empty database of DATABASE_URL (or CONVOT_DATA_DIR), refuses one that
// is not empty, and `convot backup list` then shows it.
func TestBackupCommands(t *testing.T) {
	ctx := context.Background()
	key := crypto.GenerateMasterKey(1)
	master, err := crypto.ParseMasterKeys(key)
	if err != nil {
		t.Fatal(err)
	}
	live := testdb.NewWithMaster(t, master)
	org := models.Organization{PublicKey: "pk-cli", CompanyName: "Cli Ltd", Region: "eu", Status: models.OrgActive}
	if err := live.Create(&org).Error; err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	disk, err := blob.NewDisk(filepath.Join(dataDir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	b := &backup.Backups{DB: live.DB, Blobs: disk, Master: master, Context: backup.StorageContext("eu")}
	if _, err := b.Take(ctx, 1, time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CONVOT_DATA_DIR", dataDir)
	t.Setenv("CONVOT_MASTER_KEY", key)
	target := ""
	if base := os.Getenv("DATABASE_URL"); base != "" {
		target = testdb.Schema(t, base)
	}
	t.Setenv("DATABASE_URL", target)

	var out bytes.Buffer
	if err := runBackup(ctx, []string{"restore", "1"}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "restored backup 1") {
		t.Fatalf("restore said %q", out.String())
	}
	if err := runBackup(ctx, []string{"restore", "1"}, &bytes.Buffer{}); !errors.Is(err, backup.ErrNotEmpty) {
		t.Fatalf("a second restore: %v, want ErrNotEmpty", err)
	}
	out.Reset()
	if err := runBackup(ctx, []string{"list"}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "completed") || !strings.Contains(out.String(), "\n1 ") {
		t.Fatalf("list: %q", out.String())
	}
	a, err := openTool(ctx, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	restored, err := a.store.Organization(ctx, org.ID)
	if err != nil {
		t.Fatalf("restored organization: %v", err)
	}
	if restored.CompanyName != "Cli Ltd" {
		t.Fatalf("restored organization %q", restored.CompanyName)
	}
	for _, args := range [][]string{{}, {"restore"}, {"restore", "x"}, {"shred"}} {
		if err := runBackup(ctx, args, &bytes.Buffer{}); err == nil {
			t.Errorf("convot backup %v: accepted", args)
		}
	}
}

// Issue 15 item 10 (policy §13): materiality is not the publisher's word
// alone. A text published as non-material that changes a sentence of the
// sections on data collected, purposes, sharing, transfers or retention
// is material: its notice starts and it cannot take effect within 30
// days. A change elsewhere (the contact section) stays non-material.
func TestPolicyChangeOfDataSectionsIsMaterialWhateverThePublisherSays(t *testing.T) {
	ctx := context.Background()
	db := testdb.New(t)
	st := store.New(db.DB, db.Keys)
	now := time.Date(2027, 1, 10, 12, 0, 0, 0, time.UTC)
	var started []workflows.PolicyChangeInput
	start := func(in workflows.PolicyChangeInput) error { started = append(started, in); return nil }
	embedded, err := dashboard.EmbeddedPolicy()
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SeedPolicy(ctx, embedded, now.Add(-24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	const retention = "retained for thirty (30) days after cancellation"
	if !strings.Contains(embedded, retention) {
		t.Fatalf("the policy no longer says %q", retention)
	}
	longer := strings.Replace(embedded, retention, "retained for ninety (90) days after cancellation", 1)

	// Too soon for a material change: refused, nothing recorded.
	p := policyPublication{Text: longer, Material: false, Effective: now.Add(24 * time.Hour)}
	if _, err := publishPolicy(ctx, st, p, now, start); !errors.Is(err, models.ErrNoticeTooShort) || !strings.Contains(err.Error(), "retention") {
		t.Fatalf("a retention change published as non-material, effective tomorrow: %v", err)
	}
	if len(started) != 0 {
		t.Fatal("a refused publication started a notice")
	}
	p.Effective = now.Add(31 * 24 * time.Hour)
	v, err := publishPolicy(ctx, st, p, now, start)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Material || len(started) != 1 || !started[0].Material || v.Summary == "" {
		t.Fatalf("a retention change published as non-material: %+v, notices %+v", v, started)
	}

	// Sharing: one more recipient is material too.
	shared := strings.Replace(longer, "6. Subprocessors and data sharing\n", "6. Subprocessors and data sharing\nWe also share contact details with our marketing partners.\n", 1)
	if shared == longer {
		t.Fatal("no section 6 heading to change")
	}
	if v, err = publishPolicy(ctx, st, policyPublication{Text: shared, Effective: now.Add(40 * 24 * time.Hour)}, now, start); err != nil || !v.Material || len(started) != 2 {
		t.Fatalf("a sharing change: %v %+v", err, v)
	}

	// A change of the contact section alone: non-material, no notice.
	contact := strings.Replace(shared, "14. Contact us", "14. Contact us\nWrite to us any time.", 1)
	if v, err = publishPolicy(ctx, st, policyPublication{Text: contact, Effective: now.Add(24 * time.Hour)}, now, start); err != nil || v.Material || len(started) != 2 {
		t.Fatalf("a contact-section change: %v %+v", err, v)
	}
}
