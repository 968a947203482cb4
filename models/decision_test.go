package models_test

import (
	"context"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/convot/convot/internal/testdb"
	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
)

// The gate's decisions land in the database with everything an auditor
// filters by.
func TestGateDecisionsAreRecorded(t *testing.T) {
	db := testdb.New(t)
	log := models.DecisionLog{DB: db.DB}
	ctx := context.Background()
	gate, err := policies.NewGate(ctx, log)
	if err != nil {
		t.Fatal(err)
	}
	org := policies.OrgContext{ID: 7, Region: "eu", AIFeatures: nil}
	allowed := policies.Flow{Subprocessor: "aws", Purpose: "essential.service.storage", Categories: []string{"user.content.attachment"},
		Organization: org, Subject: policies.SubjectContext{Kind: "end_user"}, DestinationRegion: "eu"}
	denied := policies.Flow{Subprocessor: "anthropic", Purpose: "functional.ai.summary", Categories: []string{"user.content.message"},
		Organization: org, Subject: policies.SubjectContext{Kind: "end_user"}, Feature: "summary"}
	if d, err := gate.Authorize(ctx, allowed); err != nil || !d.Allow {
		t.Fatalf("storage flow: %+v %v", d, err)
	}
	if d, _ := gate.Authorize(ctx, denied); d.Allow {
		t.Fatal("AI flow with the feature off was allowed")
	}
	all, err := log.Decisions(ctx, models.DecisionFilter{OrganizationID: 7})
	if err != nil || len(all) != 2 {
		t.Fatalf("decisions: %d %v", len(all), err)
	}
	denials, _ := log.Decisions(ctx, models.DecisionFilter{Result: "deny", Subprocessor: "anthropic", From: time.Now().Add(-time.Hour)})
	if len(denials) != 1 || denials[0].Reason == "" || denials[0].PolicyRevision != gate.Revision() || denials[0].Categories != "user.content.message" {
		t.Fatalf("denials: %+v", denials)
	}
	if none, _ := log.Decisions(ctx, models.DecisionFilter{OrganizationID: 8}); len(none) != 0 {
		t.Fatal("filter by organization returned another organization's decisions")
	}
}

// Group commit: every concurrent decision is committed before Record
// returns, each exactly once; a closed log refuses (so the gate denies).
func TestGroupDecisionLogCommitsEveryDecision(t *testing.T) {
	db := testdb.New(t)
	log := models.NewGroupDecisionLog(db.DB)
	ctx := context.Background()
	const callers, each = 16, 25
	errs := make(chan error, callers*each)
	for c := range callers {
		go func() {
			for i := range each {
				errs <- log.Record(ctx, policies.DecisionRecord{OrganizationID: uint64(1000 + c), Subprocessor: "redis",
					Purpose: "essential.service", Categories: []string{"user.content.message"}, Allow: true,
					Reason: "test", PolicyRevision: "r", Time: time.Now().Add(time.Duration(i))})
			}
		}()
	}
	for range callers * each {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	var n int64
	db.Model(&models.EgressDecision{}).Where("organization_id >= 1000").Count(&n)
	if n != callers*each {
		t.Fatalf("%d decisions recorded, want %d", n, callers*each)
	}
	log.Close()
	if err := log.Record(ctx, policies.DecisionRecord{Subprocessor: "redis", Time: time.Now()}); err == nil {
		t.Fatal("a closed decision log accepted a decision")
	}
	gate, err := policies.NewGate(ctx, log)
	if err != nil {
		t.Fatal(err)
	}
	flow := policies.Flow{Subprocessor: "aws", Purpose: "essential.service.storage", Categories: []string{"user.content.attachment"},
		Organization: policies.OrgContext{ID: 7, Region: "eu"}, Subject: policies.SubjectContext{Kind: "end_user"}, DestinationRegion: "eu"}
	if d, err := gate.Authorize(ctx, flow); err == nil && d.Allow {
		t.Fatal("the gate allowed a flow it could not record")
	}
}

// The group log writes its rows its own way on PostgreSQL (arrays, straight
// to the driver): every field of a record reads back as DecisionLog's
// records it, on PostgreSQL (DATABASE_URL, as in CI) and on SQLite.
func TestGroupDecisionLogRecordsEveryField(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 12, 7, 10, 30, 15, 123456000, time.FixedZone("CET", 3600))
	record := policies.DecisionRecord{OrganizationID: 42, Subprocessor: "anthropic", Purpose: "functional.ai.summary",
		Categories: []string{"user.content.message", "user.contact.email"}, Allow: true, Reason: "allowed; email redacted",
		Drop: []string{"user.device"}, Redact: []string{"user.contact.email", "user.contact.phone"}, PolicyRevision: "rev-1", Time: at}
	databases := map[string]func(t *testing.T) *gorm.DB{
		"testdb": func(t *testing.T) *gorm.DB { return testdb.New(t).DB },
		"sqlite": func(t *testing.T) *gorm.DB { return testdb.NewSQLite(t).DB },
	}
	for name, open := range databases {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			group := models.NewGroupDecisionLog(db)
			defer group.Close()
			if err := group.Record(ctx, record); err != nil {
				t.Fatal(err)
			}
			other := record
			other.OrganizationID = 43
			if err := (models.DecisionLog{DB: db}).Record(ctx, other); err != nil {
				t.Fatal(err)
			}
			got, err := models.DecisionLog{DB: db}.Decisions(ctx, models.DecisionFilter{OrganizationID: 42})
			if err != nil || len(got) != 1 {
				t.Fatalf("%d decisions, %v", len(got), err)
			}
			want, err := models.DecisionLog{DB: db}.Decisions(ctx, models.DecisionFilter{OrganizationID: 43})
			if err != nil || len(want) != 1 {
				t.Fatalf("%d decisions, %v", len(want), err)
			}
			g, w := got[0], want[0]
			if !g.CreatedAt.Equal(at) || !w.CreatedAt.Equal(at) {
				t.Errorf("created at %v (DecisionLog's %v), want %v", g.CreatedAt, w.CreatedAt, at)
			}
			g.ID, w.ID, g.OrganizationID, w.OrganizationID, g.CreatedAt, w.CreatedAt = 0, 0, 0, 0, at, at
			if g != w {
				t.Errorf("group log recorded\n %+v\nDecisionLog records\n %+v", g, w)
			}
			if g.Categories != "user.content.message,user.contact.email" || g.Redact != "user.contact.email,user.contact.phone" ||
				g.Drop != "user.device" || !g.Allow || g.Reason != record.Reason || g.PolicyRevision != "rev-1" ||
				g.Subprocessor != "anthropic" || g.Purpose != record.Purpose {
				t.Errorf("recorded %+v", g)
			}
		})
	}
}
