package handlers

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/convot/convot/models"
)

// The audit log names actors (auditors may read the team list), filters by
// actor, action and date range, pages through older events, and downloads
// as CSV and JSON; another organization's events never show.
func TestAuditLogNamesFiltersPagesAndExports(t *testing.T) {
	ts, owner := acmeOwner(t)
	auditor := inviteAndJoin(t, ts, owner, "audrey@acme.test", "auditor")
	agent := inviteAndJoin(t, ts, owner, "adam@acme.test", "agent")
	var olivia models.Account
	ts.db.Where("email_index = ?", ts.db.Keys.BlindIndex("olivia@acme.test")).First(&olivia)
	ctx := context.Background()
	const n = 120 // more than a page
	for i := range n {
		if err := ts.srv.Store.CreateAuditEvent(ctx, &models.AuditEvent{OrganizationID: olivia.OrganizationID, ActorID: olivia.ID,
			Action: "test.event", Target: "contact:" + strconv.Itoa(i), Detail: strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, ev := range []models.AuditEvent{
		{OrganizationID: olivia.OrganizationID, ActorID: 999999, Action: "test.event", Target: "contact:removed"},
		{OrganizationID: olivia.OrganizationID + 100, ActorID: olivia.ID, Action: "test.event", Target: "contact:foreign"},
	} {
		if err := ts.srv.Store.CreateAuditEvent(ctx, &ev); err != nil {
			t.Fatal(err)
		}
	}

	wantGet(t, agent, "/audit-log", http.StatusForbidden, "agent reads the audit log")
	page := auditor.get("/audit-log")
	if page.status != http.StatusOK || !strings.Contains(page.body, "Olivia Owner") || strings.Contains(page.body, "account:") {
		t.Fatalf("audit log page %d: actors not named\n%s", page.status, page.body)
	}

	// JSON: every event of the action, named, none of another organization.
	var doc struct {
		Events []struct {
			ID      uint64 `json:"id"`
			Actor   string `json:"actor"`
			ActorID uint64 `json:"actor_id"`
			Target  string `json:"target"`
		} `json:"events"`
	}
	r := auditor.get("/audit-log?format=json&action=test.event")
	if err := json.Unmarshal([]byte(r.body), &doc); err != nil {
		t.Fatalf("%v: %s", err, r.body)
	}
	if len(doc.Events) != n+1 {
		t.Fatalf("%d events, want %d", len(doc.Events), n+1)
	}
	for _, e := range doc.Events {
		switch {
		case e.Target == "contact:foreign":
			t.Fatal("another organization's event listed")
		case e.ActorID == olivia.ID && e.Actor != "Olivia Owner", e.ActorID == 999999 && e.Actor != "removed account 999999":
			t.Fatalf("event %d names its actor %q", e.ID, e.Actor)
		}
	}

	// Filters, in the CSV download.
	today := time.Now().UTC().Format("2006-01-02")
	csvRows := func(query string) int {
		t.Helper()
		r := auditor.get("/audit-log?format=csv&" + query)
		rows, err := csv.NewReader(strings.NewReader(r.body)).ReadAll()
		if err != nil || r.status != http.StatusOK || len(rows) == 0 {
			t.Fatalf("%s: %d %v", query, r.status, err)
		}
		return len(rows) - 1
	}
	for query, want := range map[string]int{
		"action=test.event": n + 1,
		"action=test.event&actor=" + strconv.FormatUint(olivia.ID, 10): n,
		"actor=999999":                  1,
		"action=no.such":                0,
		"from=2000-01-01&to=2000-01-02": 0,
		"action=test.event&from=" + today + "&to=" + today: n + 1,
	} {
		if got := csvRows(query); got != want {
			t.Errorf("%s: %d rows, want %d", query, got, want)
		}
	}
	if r := auditor.get("/audit-log?format=csv&actor=999999"); !strings.Contains(r.body, "removed account 999999") {
		t.Errorf("CSV lacks the removed actor: %s", r.body)
	}

	// Pages: 100 events, then the older ones by the link.
	first := auditor.get("/audit-log?action=test.event")
	if got := strings.Count(first.body, "<code>test.event</code>"); got != 100 {
		t.Fatalf("first page shows %d events", got)
	}
	j := strings.Index(first.body, `">Older entries`)
	if j < 0 {
		t.Fatal("no link to older entries")
	}
	next := strings.ReplaceAll(first.body[strings.LastIndex(first.body[:j], `href="?`)+len(`href="`):j], "&amp;", "&")
	second := auditor.get("/audit-log" + next)
	if got := strings.Count(second.body, "<code>test.event</code>"); got != n+1-100 || strings.Contains(second.body, "Older entries") {
		t.Fatalf("second page (%s) shows %d events", next, got)
	}

	wantGet(t, auditor, "/audit-log?from=yesterday", http.StatusBadRequest, "bad date")
	wantGet(t, auditor, "/audit-log?actor=olivia", http.StatusBadRequest, "bad actor")
	wantGet(t, auditor, "/audit-log?format=xml", http.StatusBadRequest, "unknown format")
}
