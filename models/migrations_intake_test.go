package models_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/convot/convot/models"
	"github.com/convot/convot/web"
)

// Migration 70 turns the e-mail-obfuscation artefact of a policy version
// seeded before it (the embedded text as it was) into the placeholders
// the embedded text now has, each by its context, and leaves other texts
// alone.
func TestPolicyTextMigrationNamesTheContactAddresses(t *testing.T) {
	ctx := context.Background()
	f, err := web.Static().Open("privacy-policy.txt")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(f)
	_ = f.Close()
	if err != nil {
		t.Fatal(err)
	}
	embedded := string(b)
	if err := models.CheckPolicyText(embedded); err != nil {
		t.Fatalf("the embedded policy: %v", err)
	}
	artefact := models.PolicyArtefact
	old := models.FillPolicy(embedded, models.ContactAddresses{Privacy: artefact, Security: artefact, Support: artefact})
	if strings.Count(old, artefact) != 6 {
		t.Fatalf("the old text has the artefact %d times, want 6", strings.Count(old, artefact))
	}

	db := unmigrated(t)
	if _, err := models.MigrateUpToForTest(ctx, db, 69); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for v, text := range map[int]string{1: old, 2: "Mail " + artefact + " in another wording."} {
		if err := db.Exec(`INSERT INTO policy_versions (version, text, summary, material, published_at, effective_at, created_at) VALUES (?, ?, '', FALSE, ?, ?, ?)`, v, text, now, now, now).Error; err != nil {
			t.Fatal(err)
		}
	}
	if _, err := models.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	v1, err := models.PolicyByVersion(ctx, db, 1)
	if err != nil || v1 == nil {
		t.Fatal(err)
	}
	if v1.Text != embedded {
		t.Fatalf("version 1 after the migration differs from the embedded text:\n%s", v1.Text)
	}
	if v2, err := models.PolicyByVersion(ctx, db, 2); err != nil || v2.Text != "Mail "+artefact+" in another wording." {
		t.Fatalf("another text was changed: %v %+v", err, v2)
	}
}
