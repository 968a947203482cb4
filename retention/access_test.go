package retention_test

import (
	"context"
	"testing"
	"time"

	"github.com/convot/convot/internal/obligations"
	"github.com/convot/convot/internal/testdb"
	"github.com/convot/convot/models"
	"github.com/convot/convot/retention"
	"github.com/convot/convot/store"
)

// Operators' access to personal data is an access log with its own
// retention class: its sweep deletes access events older than twelve
// months and nothing younger, and leaves the security log (its own
// class) alone.
func TestAccessLogSweepDeletesEventsOlderThanTwelveMonths(t *testing.T) {
	ctx := context.Background()
	db := testdb.New(t)
	st := store.New(db.DB, db.Keys)
	targets, err := retention.Targets(obligations.RetentionAccessLog)
	if err != nil || len(targets) != 1 || targets[0].Name() != "access_events" {
		t.Fatalf("access_log targets %v %v: want access_events whole rows", targets, err)
	}
	if rule := models.Retention[obligations.RetentionAccessLog].Rule; rule == "" {
		t.Fatal("the access_log class is not declared")
	}
	now := time.Now().UTC()
	old, young := now.AddDate(0, -12, -1), now.AddDate(0, -11, 0)
	for _, at := range []time.Time{old, young} {
		if err := db.Create(&models.AccessEvent{OrganizationID: 1, AccountID: 2, Action: models.AccessContactViewed, Target: "contact:3", CreatedAt: at}).Error; err != nil {
			t.Fatal(err)
		}
		if err := st.CreateAuditEvent(ctx, &models.AuditEvent{OrganizationID: 1, ActorID: 2, DataKeyID: db.Keys.SystemKey(), Action: "auth.login", Target: "account:2", CreatedAt: old}); err != nil {
			t.Fatal(err)
		}
	}
	cutoff, err := obligations.RetentionCutoff(obligations.RetentionAccessLog, now)
	if err != nil {
		t.Fatal(err)
	}
	stats, err := retention.Sweep(ctx, st, obligations.RetentionAccessLog, cutoff, store.SweepProgress{}, func(store.SweepProgress) error { return nil })
	if err != nil || stats.Counts["access_events"] != 1 {
		t.Fatalf("sweep: %+v %v, want one access event deleted", stats, err)
	}
	var left []models.AccessEvent
	db.Find(&left)
	if len(left) != 1 || !left[0].CreatedAt.After(cutoff) {
		t.Fatalf("left %+v: want only the event younger than twelve months", left)
	}
	var audits int64
	db.Model(&models.AuditEvent{}).Count(&audits)
	if audits != 2 {
		t.Fatalf("the access sweep deleted security-log events: %d left, want 2", audits)
	}
}
