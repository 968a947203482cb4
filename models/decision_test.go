package models_test

import (
	"context"
	"testing"
	"time"

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
