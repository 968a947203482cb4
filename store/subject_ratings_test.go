package store_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/convot/convot/internal/testdb"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
)

// A visitor's rating goes with them: the access export lists it with its
// comment decrypted, erasure deletes it (the bystander's stays), and the
// scanner finds nothing left.
func TestRatingsExportedAndErased(t *testing.T) {
	ctx := context.Background()
	db := testdb.New(t)
	f := newPrivacyFixture(t, db)
	st := store.New(db.DB, db.Keys)
	now := time.Now().UTC()
	var bystanderConv models.Conversation
	if err := db.Where("contact_id = ?", f.bystander.ID).First(&bystanderConv).Error; err != nil {
		t.Fatal(err)
	}
	for _, c := range []*models.Conversation{f.conv, &bystanderConv} {
		if err := db.Model(c).Updates(map[string]any{"status": models.ConversationResolved, "resolved_at": now}).Error; err != nil {
			t.Fatal(err)
		}
		if err := st.CreateRating(ctx, f.org.ID, &models.ConversationRating{ConversationID: c.ID, ContactID: c.ContactID, DataKeyID: c.DataKeyID,
			Score: 3, Comment: "rated by " + itoaU(c.ContactID), CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	s, err := st.LocateEndUser(ctx, f.org.ID, f.contact.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	exported := false
	if _, err := st.CollectSubjectData(ctx, f.org.ID, s, func(tb *store.ExportTable) error {
		if tb.Model == "ConversationRating" {
			for _, r := range tb.Rows {
				exported = exported || slices.Contains(r, "rated by "+itoaU(f.contact.ID))
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !exported {
		t.Fatal("the access export lacks the rating's comment")
	}
	plan, err := st.PlanErasure(ctx, f.org.ID, s)
	if err != nil {
		t.Fatal(err)
	}
	res, err := st.EraseSubject(ctx, f.org.ID, s)
	if err != nil {
		t.Fatal(err)
	}
	if res.Deleted["ConversationRating"] != 1 {
		t.Fatalf("erasure result %+v", res.Deleted)
	}
	if n := count(t, db, &models.ConversationRating{}, "contact_id = ?", f.contact.ID); n != 0 {
		t.Errorf("%d of the subject's ratings left", n)
	}
	if n := count(t, db, &models.ConversationRating{}, "contact_id = ?", f.bystander.ID); n != 1 {
		t.Errorf("the bystander's ratings: %d, want 1", n)
	}
	report, err := st.ScanErasure(ctx, f.org.ID, s, plan.Terms)
	if err != nil || !report.Clean {
		t.Fatalf("scan after erasure: %+v %v", report, err)
	}
}

func itoaU(v uint64) string { return strconv.FormatUint(v, 10) }
