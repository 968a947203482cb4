package store_test

import (
	"context"
	"slices"
	"testing"

	"github.com/convot/convot/internal/testdb"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
)

// Erasing an End User announces contact.deleted to the organization's
// endpoints (IDs only, in the erasure's transaction), removes the events
// that named the contact before, and the completeness scan stays clean.
func TestErasureAnnouncesContactDeletedAndScansClean(t *testing.T) {
	ctx := context.Background()
	db := testdb.New(t)
	f := newPrivacyFixture(t, db)
	st := store.New(db.DB, db.Keys)
	ep := &models.WebhookEndpoint{URL: "https://hooks.example/x", Secret: "whsec_AAAA", Enabled: true, Events: ",message.created,contact.deleted,"}
	if err := st.CreateWebhookEndpoint(ctx, f.org.ID, ep); err != nil {
		t.Fatal(err)
	}
	if err := st.EmitConversationEvent(ctx, f.org.ID, 0, f.contact.ID, models.WebhookMessageCreated); err != nil {
		t.Fatal(err)
	}
	s, err := st.LocateEndUser(ctx, f.org.ID, f.contact.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := st.PlanErasure(ctx, f.org.ID, s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.EraseSubject(ctx, f.org.ID, s); err != nil {
		t.Fatal(err)
	}
	var evs []models.WebhookEvent
	if err := db.Where("organization_id = ?", f.org.ID).Order("id").Find(&evs).Error; err != nil {
		t.Fatal(err)
	}
	var deleted []uint64
	for _, e := range evs {
		if e.Type != models.WebhookContactDeleted || e.ContactID != 0 {
			t.Errorf("event left after the erasure: %+v", e)
		}
		deleted = append(deleted, e.DeletedContactID)
	}
	slices.Sort(deleted)
	want := slices.Clone(s.IDs)
	slices.Sort(want)
	if !slices.Equal(deleted, want) {
		t.Fatalf("contact.deleted for %v, want %v", deleted, want)
	}
	report, err := st.ScanErasure(ctx, f.org.ID, s, plan.Terms)
	if err != nil {
		t.Fatal(err)
	}
	if !report.Clean {
		t.Fatalf("scan after erasure: %+v", report)
	}
}
