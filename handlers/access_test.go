package handlers

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/convot/convot/internal/realtime"
	"github.com/convot/convot/models"
)

// accessEvents lists an organization's access events, oldest first.
func accessEvents(t *testing.T, ts *testServer, orgID uint64) []models.AccessEvent {
	t.Helper()
	var list []models.AccessEvent
	if err := ts.db.Where("organization_id = ?", orgID).Order("id").Find(&list).Error; err != nil {
		t.Fatal(err)
	}
	return list
}

// Issue 15 (auditor-grade logs): every opening of personal data by an
// operator is recorded, with the operator and the object's ID and nothing
// else: viewing a contact, opening a conversation (once, however many
// messages it shows; a live catch-up records nothing), downloading a
// file or an export. The audit log shows and filters them; another
// organization's ids are refused and leave no event.
func TestOperatorAccessToPersonalDataIsRecorded(t *testing.T) {
	ts, w := acmeInbox(t)
	ct, conv := w.conversation(t, models.Contact{Name: "Ada Lovelace", Email: "ada@example.test"}, "Here is my receipt")
	for i := range 30 {
		w.contactSays(t, ct, conv, "message "+strconv.Itoa(i))
	}
	sent := decodeJSON[struct{ Message realtime.MessageView }](t, w.owner.upload(convPath(conv, "/reply"), map[string]string{"body": "file"}, "a.txt", []byte("a file")))
	att := sent.Message.Attachments[0]
	ts.db.Where("organization_id = ?", w.org.ID).Delete(&models.AccessEvent{}) // from a clean slate

	if r := w.owner.get("/inbox/contacts/" + itoa(ct.ID)); r.status != http.StatusOK {
		t.Fatalf("contact page %d", r.status)
	}
	if r := w.owner.get(convPath(conv, "")); r.status != http.StatusOK {
		t.Fatalf("conversation page %d", r.status)
	}
	if r := w.owner.get(convPath(conv, "/messages")); r.status != http.StatusOK {
		t.Fatalf("messages %d", r.status)
	}
	if r := w.owner.get(convPath(conv, "/messages?after_id=1")); r.status != http.StatusOK {
		t.Fatalf("catch-up %d", r.status)
	}
	if r := w.owner.get(convPath(conv, "/attachments/"+itoa(att.ID))); r.status != http.StatusOK {
		t.Fatalf("attachment %d", r.status)
	}
	got := accessEvents(t, ts, w.org.ID)
	want := []struct{ action, target string }{
		{models.AccessContactViewed, "contact:" + itoa(ct.ID)},
		{models.AccessConversationOpened, "conversation:" + itoa(conv.ID)},
		{models.AccessConversationOpened, "conversation:" + itoa(conv.ID)},
		{models.AccessAttachmentDownloaded, "attachment:" + itoa(att.ID)},
	}
	if len(got) != len(want) {
		t.Fatalf("%d access events, want %d (one per opening, none per message or catch-up): %+v", len(got), len(want), got)
	}
	idOnly := regexp.MustCompile(`^[a-z_]+:[0-9]+$`)
	for i, e := range got {
		if e.Action != want[i].action || e.Target != want[i].target || e.AccountID != w.ownerID {
			t.Errorf("event %d: %+v, want %s %s by %d", i, e, want[i].action, want[i].target, w.ownerID)
		}
		if !idOnly.MatchString(e.Target) || strings.Contains(e.Target, "ada") {
			t.Errorf("event %d names more than an ID: %q", i, e.Target)
		}
	}

	// The audit log shows them under "Access to personal data", named and
	// filterable; the download is itself recorded.
	page := w.owner.get("/audit-log?log=access")
	if page.status != http.StatusOK || !strings.Contains(page.body, models.AccessContactViewed) || !strings.Contains(page.body, "contact:"+itoa(ct.ID)) {
		t.Fatalf("access log page %d:\n%s", page.status, excerpt(page.body))
	}
	filtered := w.owner.get("/audit-log?log=access&format=csv&action=" + models.AccessAttachmentDownloaded + "&actor=" + itoa(w.ownerID))
	if filtered.status != http.StatusOK || strings.Count(filtered.body, "\n") != 2 || !strings.Contains(filtered.body, "attachment:"+itoa(att.ID)) {
		t.Fatalf("filtered access log %d:\n%s", filtered.status, filtered.body)
	}
	if sec := w.owner.get("/audit-log?format=json"); strings.Contains(sec.body, models.AccessContactViewed) {
		t.Fatal("access events are mixed into the security log")
	}
	if last := accessEvents(t, ts, w.org.ID); last[len(last)-1].Action != models.AccessExportDownloaded {
		t.Fatalf("downloading the log was not recorded: %+v", last[len(last)-1])
	}
	wantGet(t, w.owner, "/audit-log?log=reads", http.StatusBadRequest, "unknown log")

	// Another organization: A's ids are refused, nothing is recorded for
	// them, and A's events never show in B's log.
	b := newInboxWorld(t, ts, "boris@other.test", "Other")
	for _, p := range []string{"/inbox/contacts/" + itoa(ct.ID), convPath(conv, ""), convPath(conv, "/messages"), convPath(conv, "/attachments/"+itoa(att.ID))} {
		wantGet(t, b.owner, p, http.StatusNotFound, "another organization's "+p)
	}
	if n := len(accessEvents(t, ts, b.org.ID)); n != 0 {
		t.Fatalf("refused openings recorded %d events", n)
	}
	if r := b.owner.get("/audit-log?log=access&format=json"); strings.Contains(r.body, "contact:"+itoa(ct.ID)) {
		t.Fatalf("B sees A's access events: %s", r.body)
	}
}

// Issue 15: auditors see incidents (their organization's only), backup
// runs, retention sweep runs and key rotations, read-only, as pages and
// downloads; an agent does not.
func TestAuditorSeesIncidentsBackupsSweepsAndKeyRotations(t *testing.T) {
	ts, owner := acmeOwner(t)
	auditor := inviteAndJoin(t, ts, owner, "audrey@acme.test", "auditor")
	agent := inviteAndJoin(t, ts, owner, "adam@acme.test", "agent")
	olivia := accountByEmail(t, ts, "olivia@acme.test")
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Second)
	for _, inc := range []models.Incident{
		{OrganizationID: olivia.OrganizationID, RecordedByID: olivia.ID, AwareAt: now, NoticeDueAt: now.Add(72 * time.Hour), Status: models.IncidentOpen, ApproxSubjects: 4242},
		{OrganizationID: olivia.OrganizationID + 100, AwareAt: now, NoticeDueAt: now.Add(72 * time.Hour), Status: models.IncidentOpen, ApproxSubjects: 9191},
	} {
		inc.DataKeyID, inc.AffectedOrganizations, inc.Categories, inc.SubjectKinds = ts.db.Keys.SystemKey(), []uint64{inc.OrganizationID}, []string{}, []string{}
		if err := ts.srv.Store.CreateIncident(ctx, &inc); err != nil {
			t.Fatal(err)
		}
	}
	completed := now.Add(time.Minute)
	if err := ts.srv.Store.CreateBackup(ctx, &models.Backup{Status: models.BackupCompleted, TakenAt: now, CompletedAt: &completed,
		ExpiresAt: now.Add(90 * 24 * time.Hour), TableCount: 17, RowCount: 31337, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	for _, ev := range []models.AuditEvent{
		{Action: "retention.swept", Target: "retention:security_log", Detail: "cutoff 2025-12-06T03:00:00Z; audit_events=7"},
		{Action: "keys.rotated", Target: "master:v2", Detail: "123 keys re-wrapped"},
		{OrganizationID: olivia.OrganizationID + 100, Action: "keys.rotated", Target: "master:v9", Detail: "not the deployment's"},
	} {
		ev.DataKeyID, ev.CreatedAt = ts.db.Keys.SystemKey(), now
		if err := ts.srv.Store.CreateAuditEvent(ctx, &ev); err != nil {
			t.Fatal(err)
		}
	}
	pages := map[string][]string{
		"/auditor/incidents":     {"4242", models.IncidentOpen},
		"/auditor/backups":       {"31337", "17", models.BackupCompleted},
		"/auditor/sweeps":        {"retention:security_log", "audit_events=7"},
		"/auditor/key-rotations": {"master:v2", "123 keys re-wrapped"},
	}
	for path, wants := range pages {
		r := auditor.get(path)
		if r.status != http.StatusOK {
			t.Fatalf("auditor GET %s: %d", path, r.status)
		}
		for _, w := range wants {
			if !strings.Contains(r.body, w) {
				t.Errorf("%s lacks %q", path, w)
			}
		}
		for _, format := range []string{"json", "csv"} {
			if d := auditor.get(path + "?format=" + format); d.status != http.StatusOK || !strings.Contains(d.body, wants[0]) {
				t.Errorf("%s as %s: %d %s", path, format, d.status, excerpt(d.body))
			}
		}
		wantGet(t, agent, path, http.StatusForbidden, "agent reads "+path)
	}
	if r := auditor.get("/auditor/incidents"); strings.Contains(r.body, "9191") {
		t.Fatal("another organization's incident shows")
	}
	if r := auditor.get("/auditor/key-rotations"); strings.Contains(r.body, "master:v9") {
		t.Fatal("an organization's event shows as the deployment's key rotation")
	}
	if r := auditor.get("/auditor"); !strings.Contains(r.body, "/auditor/key-rotations") {
		t.Fatal("the auditor index does not link the new pages")
	}
}

// Issue 15: the promise ledger shows when each cited test last passed, as
// recorded from a `go test -json` run, and says "not recorded" for a test
// no run named, never a time of its own.
func TestPromiseLedgerShowsWhenTestsLastPassed(t *testing.T) {
	ts, owner := acmeOwner(t)
	auditor := inviteAndJoin(t, ts, owner, "audrey@acme.test", "auditor")
	ctx := t.Context()
	passed := time.Date(2026, 11, 30, 10, 11, 12, 0, time.UTC)
	if err := ts.srv.Store.RecordTestResult(ctx, "models.TestEveryModelFieldIsClassified", "pass", "abc123", passed); err != nil {
		t.Fatal(err)
	}
	if err := ts.srv.Store.RecordTestResult(ctx, "handlers.TestSignupLoginAndCSRF", "pass", "", passed); err != nil {
		t.Fatal(err)
	}
	if err := ts.srv.Store.RecordTestResult(ctx, "handlers.TestSignupLoginAndCSRF", "fail", "", passed.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	type ledgerDoc struct {
		Promises []struct {
			Tests      []string          `json:"tests"`
			LastPassed map[string]string `json:"last_passed"`
		} `json:"promises"`
	}
	doc := decodeJSON[ledgerDoc](t, auditor.get("/auditor/promises?format=json"))
	seen := map[string]string{}
	for _, p := range doc.Promises {
		for _, name := range p.Tests {
			if p.LastPassed[name] == "" {
				t.Fatalf("test %s has no last-passed entry", name)
			}
			seen[name] = p.LastPassed[name]
		}
	}
	if got := seen["models.TestEveryModelFieldIsClassified"]; got != "2026-11-30T10:11:12Z (abc123)" {
		t.Errorf("recorded pass shows %q", got)
	}
	if got := seen["handlers.TestSignupLoginAndCSRF"]; !strings.HasPrefix(got, "latest run fail at 2026-11-30T11:11:12Z") || !strings.Contains(got, "last passed: 2026-11-30T10:11:12Z") {
		t.Errorf("a failing latest run shows %q", got)
	}
	if got := seen["cmd/convot.TestInventoryCommandPrintsTheRecordOfProcessing"]; got != "not recorded" {
		t.Errorf("an unrecorded test shows %q", got)
	}
	for name, v := range seen {
		if strings.HasPrefix(name, "rego:") && v != "passed in this server" {
			t.Errorf("Rego test %s shows %q", name, v)
		}
	}
	if page := auditor.get("/auditor/promises"); !strings.Contains(page.body, "Last passed") || !strings.Contains(page.body, "not recorded") {
		t.Fatal("the ledger page lacks the last-passed column")
	}
}
