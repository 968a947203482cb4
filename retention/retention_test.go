package retention_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/convot/convot/internal/obligations"
	"github.com/convot/convot/internal/testdb"
	"github.com/convot/convot/models"
	"github.com/convot/convot/retention"
	"github.com/convot/convot/store"
)

// The sweeps work on what the inventory classifies, never on a hand-kept
// list: whole rows where every classified field has the class, cleared
// columns where a row mixes classes; children before the parents whose
// clock they follow; every clock a column of the migrated schema.
func TestSweepTargetsComeFromTheInventory(t *testing.T) {
	db := testdb.New(t)
	names := func(class string) []string {
		targets, err := retention.Targets(class)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, tg := range targets {
			out = append(out, tg.Name())
			col := tg.Clock.Column
			table := tg.Table
			if tg.Clock.ParentTable != "" {
				table = tg.Clock.ParentTable
			}
			if tg.Clock.Expr == "" && !db.Migrator().HasColumn(table, col) {
				t.Errorf("%s: clock column %s.%s is not in the schema", tg.Name(), table, col)
			}
		}
		return out
	}
	has := func(list []string, want ...string) {
		t.Helper()
		set := map[string]bool{}
		for _, n := range list {
			set[n] = true
		}
		for _, w := range want {
			if !set[w] {
				t.Errorf("targets %v lack %s", list, w)
			}
		}
	}
	security := names(obligations.RetentionSecurityLog)
	has(security, "usage_events", "audit_events", "contacts.ip", "sessions.ip,user_agent")
	support := names(obligations.RetentionSupport)
	// Vulnerability reports are support correspondence too (two years
	// after closing), kept by Convot itself.
	if len(support) != 3 || support[0] != "support_messages" || support[1] != "support_tickets" || support[2] != "vulnerability_reports" {
		t.Errorf("support targets %v: want support_messages, support_tickets, then vulnerability_reports", support)
	}
	has(names(obligations.RetentionBilling), "invoices", "payments")
	if _, err := retention.Targets("account"); err == nil {
		t.Error("the account class is not swept by age")
	}
}

// A sweep deletes only what expired, in batches, counts what it deleted,
// and deletes nothing more when run again.
func TestSweepDeletesOnlyExpiredRowsAndCountsThem(t *testing.T) {
	ctx := context.Background()
	db := testdb.New(t)
	now := time.Now().UTC().Truncate(time.Second)
	cutoff, _ := obligations.RetentionCutoff(obligations.RetentionSecurityLog, now)
	old, young := cutoff.Add(-time.Hour), cutoff.Add(time.Hour)

	org := models.Organization{PublicKey: "pk-sweep", CompanyName: "Sweep Ltd", Region: "eu", Status: models.OrgActive}
	mustDo(t, db.Create(&org).Error)
	acc := models.Account{OrganizationID: org.ID, FullName: "Sam", Email: "sam@sweep.example", Role: models.RoleOwner, Status: "active"}
	mustDo(t, db.Create(&acc).Error)
	for i := 0; i < 7; i++ {
		mustDo(t, db.Create(&models.UsageEvent{OrganizationID: org.ID, AccountID: acc.ID, DataKeyID: acc.DataKeyID, Page: "/old", IP: "192.0.2.1", OccurredAt: old}).Error)
		mustDo(t, db.Create(&models.UsageEvent{OrganizationID: org.ID, AccountID: acc.ID, DataKeyID: acc.DataKeyID, Page: "/young", IP: "192.0.2.2", OccurredAt: young}).Error)
	}
	mustDo(t, db.Create(&models.AuditEvent{OrganizationID: org.ID, DataKeyID: acc.DataKeyID, Action: "auth.login", IP: "192.0.2.1", CreatedAt: old}).Error)
	mustDo(t, db.Create(&models.AuditEvent{OrganizationID: org.ID, DataKeyID: acc.DataKeyID, Action: "auth.login", IP: "192.0.2.2", CreatedAt: young}).Error)
	oldSeen, youngSeen := old, young
	gone := models.Contact{OrganizationID: org.ID, Name: "Old Visitor", IP: "198.51.100.9", LastSeenAt: &oldSeen}
	kept := models.Contact{OrganizationID: org.ID, Name: "Recent Visitor", IP: "198.51.100.10", LastSeenAt: &youngSeen}
	mustDo(t, db.Create(&gone).Error)
	mustDo(t, db.Create(&kept).Error)

	targets, err := retention.Targets(obligations.RetentionSecurityLog)
	mustDo(t, err)
	batches := 0
	stats, err := store.New(db.DB, db.Keys).SweepRetention(ctx, targets, cutoff, 2, store.SweepProgress{}, func(store.SweepProgress) error { batches++; return nil })
	mustDo(t, err)
	if stats.Counts["usage_events"] != 7 || stats.Counts["audit_events"] != 1 || stats.Counts["contacts.ip"] != 1 {
		t.Fatalf("counts %v", stats.Counts)
	}
	if batches < 4 || stats.Batches != batches {
		t.Fatalf("%d batches of at most 2 rows for 7 usage events, 1 audit event, 1 IP", batches)
	}
	var events []models.UsageEvent
	mustDo(t, db.Order("id").Find(&events).Error)
	if len(events) != 7 {
		t.Fatalf("%d usage events left, want the 7 younger than 12 months", len(events))
	}
	for _, e := range events {
		if e.Page != "/young" {
			t.Fatalf("a usage event from %s survived", e.OccurredAt)
		}
	}
	var audits int64
	db.Model(&models.AuditEvent{}).Count(&audits)
	if audits != 1 {
		t.Fatalf("%d audit events left, want 1", audits)
	}
	var c1, c2 models.Contact
	mustDo(t, db.First(&c1, gone.ID).Error)
	mustDo(t, db.First(&c2, kept.ID).Error)
	if c1.IP != "" || c1.Name != "Old Visitor" || c2.IP != "198.51.100.10" {
		t.Fatalf("contacts after the sweep: old %q/%q, recent %q", c1.Name, c1.IP, c2.IP)
	}

	again, err := store.New(db.DB, db.Keys).SweepRetention(ctx, targets, cutoff, 2, store.SweepProgress{}, nil)
	mustDo(t, err)
	if again.Rows != 0 {
		t.Fatalf("a second sweep deleted %d rows: %v", again.Rows, again.Counts)
	}
	if retention.FormatCounts(stats.Counts) == "" {
		t.Fatal("no counts to audit")
	}
}

// Support correspondence goes two years after its ticket closed, messages
// with their ticket; an open ticket stays however old.
func TestSupportCorrespondenceGoesTwoYearsAfterClose(t *testing.T) {
	ctx := context.Background()
	db := testdb.New(t)
	now := time.Now().UTC().Truncate(time.Second)
	cutoff, _ := obligations.RetentionCutoff(obligations.RetentionSupport, now)
	org := models.Organization{PublicKey: "pk-support", CompanyName: "Help Ltd", Region: "eu", Status: models.OrgActive}
	mustDo(t, db.Create(&org).Error)
	acc := models.Account{OrganizationID: org.ID, FullName: "Hana", Email: "hana@help.example", Role: models.RoleOwner, Status: "active"}
	mustDo(t, db.Create(&acc).Error)
	closedLong := cutoff.Add(-24 * time.Hour)
	closedRecently := cutoff.Add(24 * time.Hour)
	ancient := now.AddDate(-5, 0, 0)
	tickets := []*models.SupportTicket{
		{Subject: "expired", Status: models.TicketClosed, ClosedAt: &closedLong, CreatedAt: ancient},
		{Subject: "recent", Status: models.TicketClosed, ClosedAt: &closedRecently, CreatedAt: ancient},
		{Subject: "open", Status: models.TicketOpen, CreatedAt: ancient},
	}
	for _, tk := range tickets {
		tk.OrganizationID, tk.AccountID, tk.DataKeyID = org.ID, acc.ID, acc.DataKeyID
		mustDo(t, db.Create(tk).Error)
		for i := 0; i < 3; i++ {
			mustDo(t, db.Create(&models.SupportMessage{TicketID: tk.ID, OrganizationID: org.ID, DataKeyID: acc.DataKeyID,
				AuthorType: models.SupportAuthorCustomer, Body: "about " + tk.Subject, CreatedAt: ancient}).Error)
		}
	}
	stats, err := retention.Sweep(ctx, store.New(db.DB, db.Keys), obligations.RetentionSupport, cutoff, store.SweepProgress{}, nil)
	mustDo(t, err)
	if stats.Counts["support_messages"] != 3 || stats.Counts["support_tickets"] != 1 {
		t.Fatalf("counts %v", stats.Counts)
	}
	var left []models.SupportTicket
	mustDo(t, db.Order("id").Find(&left).Error)
	if len(left) != 2 || left[0].Subject != "recent" || left[1].Subject != "open" {
		t.Fatalf("tickets left: %+v", left)
	}
	var msgs int64
	db.Model(&models.SupportMessage{}).Where("ticket_id = ?", tickets[0].ID).Count(&msgs)
	if msgs != 0 {
		t.Fatalf("%d messages of the expired ticket left", msgs)
	}
	db.Model(&models.SupportMessage{}).Count(&msgs)
	if msgs != 6 {
		t.Fatalf("%d messages left, want 6", msgs)
	}
}

// A sweep resumes from its progress: a retried activity does not start
// over.
func TestSweepResumesFromProgress(t *testing.T) {
	ctx := context.Background()
	db := testdb.New(t)
	now := time.Now().UTC()
	cutoff, _ := obligations.RetentionCutoff(obligations.RetentionSecurityLog, now)
	org := models.Organization{PublicKey: "pk-resume", Region: "eu", Status: models.OrgActive}
	mustDo(t, db.Create(&org).Error)
	for i := 0; i < 10; i++ {
		mustDo(t, db.Create(&models.UsageEvent{OrganizationID: org.ID, DataKeyID: org.DataKeyID, Feature: "x", OccurredAt: cutoff.Add(-time.Minute)}).Error)
	}
	targets, err := retention.Targets(obligations.RetentionSecurityLog)
	mustDo(t, err)
	stop := context.Canceled
	var saved store.SweepProgress
	calls := 0
	_, err = store.New(db.DB, db.Keys).SweepRetention(ctx, targets, cutoff, 3, store.SweepProgress{}, func(p store.SweepProgress) error {
		calls++
		saved = store.SweepProgress{Target: p.Target, After: p.After, Counts: map[string]int64{}}
		for k, v := range p.Counts {
			saved.Counts[k] = v
		}
		if calls == 2 && targets[p.Target].Table == "usage_events" {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("the interrupted sweep ended with %v", err)
	}
	stats, err := store.New(db.DB, db.Keys).SweepRetention(ctx, targets, cutoff, 3, saved, nil)
	mustDo(t, err)
	if stats.Counts["usage_events"] != 10 {
		t.Fatalf("resumed sweep counted %d usage events in all, want 10", stats.Counts["usage_events"])
	}
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
