package handlers

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
)

func TestAuditorSurface(t *testing.T) {
	ts, owner := acmeOwner(t)
	auditor := inviteAndJoin(t, ts, owner, "audrey@acme.test", "auditor")
	agent := inviteAndJoin(t, ts, owner, "adam@acme.test", "agent")
	var org models.Account
	ts.db.Where("email_index = ?", ts.db.Keys.BlindIndex("olivia@acme.test")).First(&org)

	// Decisions of this organization and of another one.
	log := models.DecisionLog{DB: ts.db.DB}
	gate, err := policies.NewGate(context.Background(), log)
	if err != nil {
		t.Fatal(err)
	}
	for _, orgID := range []uint64{org.OrganizationID, org.OrganizationID + 100} {
		// A denial is a decision, not an error: err says the gate failed.
		if _, err := gate.Authorize(context.Background(), policies.Flow{Subprocessor: "anthropic", Purpose: "functional.ai.summary",
			Categories: []string{"user.content.message"}, Organization: policies.OrgContext{ID: orgID, Region: "eu"},
			Subject: policies.SubjectContext{Kind: "end_user"}, Feature: "summary"}); err != nil {
			t.Fatal(err)
		}
	}

	for _, path := range []string{"/auditor", "/auditor/policies", "/auditor/decisions", "/auditor/subprocessors", "/auditor/processing", "/auditor/promises"} {
		if r := auditor.get(path); r.status != http.StatusOK {
			t.Errorf("auditor GET %s: %d", path, r.status)
		}
		if r := agent.get(path); r.status != http.StatusForbidden {
			t.Errorf("agent GET %s: %d, want 403", path, r.status)
		}
	}
	if r := auditor.get("/auditor/policies"); !strings.Contains(r.body, "package convot.egress") || !strings.Contains(r.body, "PASS") {
		t.Fatal("policies page lacks the Rego source or the test results")
	}
	if r := auditor.get("/auditor/subprocessors"); !strings.Contains(r.body, "Wildbit") && !strings.Contains(r.body, "Postmark") {
		t.Fatal("registry page lacks Postmark")
	}

	// The decision log shows this organization's decisions only, and
	// filters by subprocessor, result and date.
	r := auditor.get("/auditor/decisions?format=json")
	var doc struct{ Decisions []models.EgressDecision }
	if err := json.Unmarshal([]byte(r.body), &doc); err != nil {
		t.Fatalf("%v: %s", err, r.body)
	}
	if len(doc.Decisions) != 1 || doc.Decisions[0].OrganizationID != org.OrganizationID || doc.Decisions[0].Allow {
		t.Fatalf("decisions: %+v", doc.Decisions)
	}
	today := time.Now().UTC().Format("2006-01-02")
	for query, want := range map[string]int{
		"subprocessor=anthropic&result=deny&from=" + today + "&to=" + today: 1,
		"subprocessor=stripe":           0,
		"result=allow":                  0,
		"from=2000-01-01&to=2000-01-02": 0,
	} {
		r := auditor.get("/auditor/decisions?format=csv&" + query)
		rows, err := csv.NewReader(strings.NewReader(r.body)).ReadAll()
		if err != nil || len(rows)-1 != want {
			t.Errorf("%s: %d rows (%v), want %d", query, len(rows)-1, err, want)
		}
	}
	wantGet(t, auditor, "/auditor/decisions?from=yesterday", http.StatusBadRequest, "bad date")
	wantGet(t, auditor, "/auditor/processing?format=xml", http.StatusBadRequest, "unknown format")
	// Downloads of the record of processing and the ledger.
	rows, err := csv.NewReader(strings.NewReader(auditor.get("/auditor/processing?format=csv").body)).ReadAll()
	if err != nil || len(rows) < 30 || rows[0][0] != "Data subject" {
		t.Fatalf("record of processing CSV: %d rows, %v", len(rows), err)
	}
	var ledger policies.Ledger
	if err := json.Unmarshal([]byte(auditor.get("/auditor/promises?format=json").body), &ledger); err != nil || len(ledger.Promises) < 14 {
		t.Fatalf("ledger JSON: %v", err)
	}
	// Read-only: the auditor changes nothing.
	auditor.get("/auditor")
	for _, path := range []string{"/settings/team/invite", "/settings/organization"} {
		if r := auditor.post(path, url.Values{"email": {"x@acme.test"}, "role": {"agent"}, "company_name": {"X"}}); r.status != http.StatusForbidden {
			t.Errorf("auditor POST %s: %d, want 403", path, r.status)
		}
	}
}
