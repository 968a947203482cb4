package handlers

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/convot/convot/alerts"
	"github.com/convot/convot/internal/config"
	"github.com/convot/convot/models"
)

// The dashboard feeds the unusual-activity alerts: wrong passwords count
// against the account, downloads of exports against the downloader; at the
// threshold the alert is in the audit log (its Security alerts tab) and
// the owner is mailed.
func TestDashboardRaisesUnusualActivityAlerts(t *testing.T) {
	ts := newConfiguredTestServer(t, func(s *Server) {
		s.Alerts = &alerts.Monitor{Store: s.Store, Mail: s.Mail, MailFrom: s.Config.MailFrom, BaseURL: "http://convot.test",
			IPSecret: []byte("test"), Now: s.now, Thresholds: config.AlertThresholds{
				FailedSignInsAccount: config.Threshold{Count: 3, Window: time.Hour},
				BulkDownloads:        config.Threshold{Count: 2, Window: time.Hour}}}
	})
	b := ts.browser(t)
	b.signup("olivia@acme.test", "Acme")
	b.logout()
	count := func(rule string) int64 {
		var n int64
		ts.db.Model(&models.AuditEvent{}).Where("action = ? AND detail LIKE ?", alerts.AuditAction, rule+":%").Count(&n)
		return n
	}
	for i := range 2 {
		if r := b.login("olivia@acme.test", "wrong guess "+string(rune('a'+i))); r.status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i+1, r.status)
		}
	}
	if n := count(alerts.RuleFailedSignInsAccount); n != 0 {
		t.Fatalf("two failures raised %d alerts", n)
	}
	b.login("olivia@acme.test", "wrong guess c")
	if n := count(alerts.RuleFailedSignInsAccount); n != 1 {
		t.Fatalf("the third failure raised %d alerts, want 1", n)
	}
	mails, err := ts.outbox.List()
	if err != nil {
		t.Fatal(err)
	}
	alerted := 0
	for _, m := range mails {
		if m.Tag == alerts.MailTag && m.To == "olivia@acme.test" {
			alerted++
		}
	}
	if alerted != 1 {
		t.Fatalf("%d alert mails to the owner, want 1", alerted)
	}

	if r := b.login("olivia@acme.test", "correct horse battery"); r.status != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", r.status)
	}
	for range 2 {
		if r := b.get("/audit-log?format=csv"); r.status != http.StatusOK {
			t.Fatalf("audit log download: %d", r.status)
		}
	}
	if n := count(alerts.RuleBulkDownloads); n != 1 {
		t.Fatalf("two downloads raised %d bulk_downloads alerts, want 1", n)
	}
	page := b.get("/audit-log?action=" + alerts.AuditAction)
	if page.status != http.StatusOK || !strings.Contains(page.body, "Security alerts") ||
		!strings.Contains(page.body, alerts.RuleFailedSignInsAccount+":") || !strings.Contains(page.body, alerts.RuleBulkDownloads+":") {
		t.Fatalf("the audit log's alerts: %d %s", page.status, excerpt(page.body))
	}
}
