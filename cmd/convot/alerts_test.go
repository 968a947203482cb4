package main

import (
	"context"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/convot/convot/alerts"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/store"
)

// The unusual-activity alerts as the app wires them: the gate's denials
// reach the gate_denials rule through its decision log; at the threshold
// (CONVOT_ALERT_GATE_DENIALS) the alert is in the audit log, the owner is
// mailed (the outbox), and convot_security_alerts_total on the admin
// listener, present for every rule from the start, moves by one.
func TestSecurityAlertsOnTheAdminListener(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	adminPort := freePort(t)
	t.Setenv("CONVOT_DATA_DIR", t.TempDir())
	t.Setenv("CONVOT_MASTER_KEY", "")
	t.Setenv("DATABASE_URL", "")
	t.Setenv("CONVOT_ADMIN_ADDR", "127.0.0.1:"+strconv.Itoa(adminPort))
	t.Setenv("CONVOT_ALERT_GATE_DENIALS", "3/1h")
	a, err := openApp(ctx, true, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	if _, _, err := seedOwner(ctx, a.store); err != nil {
		t.Fatal(err)
	}
	owners, err := a.store.ActiveOwners(ctx, 1)
	if err != nil || len(owners) != 1 {
		t.Fatalf("owners %v, %v", owners, err)
	}
	org, err := a.store.Organization(ctx, owners[0].OrganizationID)
	if err != nil {
		t.Fatal(err)
	}
	stopAdmin, err := startAdmin(ctx, a.cfg, adminServer{ready: func(context.Context) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer stopAdmin()
	admin := "http://127.0.0.1:" + strconv.Itoa(adminPort)

	before := scrape(t, admin)
	for _, rule := range alerts.Rules {
		if _, ok := sum(before, "convot_security_alerts_total", `rule="`+rule+`"`); !ok {
			t.Errorf("convot_security_alerts_total{rule=%q} is not exported", rule)
		}
	}
	if _, ok := sum(before, "convot_sentry_dropped_events_total"); !ok {
		t.Error("convot_sentry_dropped_events_total is not exported")
	}
	// An AI flow with the feature off is denied, three times.
	deny := func() {
		t.Helper()
		d, err := a.gate.Authorize(ctx, policies.Flow{Subprocessor: "openai", Purpose: "functional.ai.embeddings",
			Categories: []string{"user.content.message"}, Organization: org.GateContext(),
			Subject: policies.SubjectContext{Kind: "end_user"}, Feature: "embeddings"})
		if err != nil {
			t.Fatal(err)
		}
		if d.Allow {
			t.Fatal("the flow was allowed")
		}
	}
	deny()
	deny()
	if v, _ := sum(scrape(t, admin), "convot_security_alerts_total", `rule="gate_denials"`); v != 0 {
		t.Fatalf("two denials of three raised the alert: %v", v)
	}
	deny()
	b, _ := sum(before, "convot_security_alerts_total", `rule="gate_denials"`)
	v, _ := sum(scrape(t, admin), "convot_security_alerts_total", `rule="gate_denials"`)
	if v-b != 1 {
		t.Fatalf("convot_security_alerts_total{rule=\"gate_denials\"} %v -> %v, want +1", b, v)
	}
	events, err := a.store.AuditLog(ctx, org.ID, store.AuditFilter{Action: alerts.AuditAction, Limit: 10})
	if err != nil || len(events) != 1 {
		t.Fatalf("alert events %+v, %v; want one", events, err)
	}
	mails, err := a.outbox.List()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range mails {
		if m.Tag == alerts.MailTag && strings.Contains(m.To, owners[0].Email) && m.Refused == "" {
			found = true
		}
	}
	if !found {
		t.Fatalf("no alert mail to the owner in the outbox: %+v", mails)
	}
}
