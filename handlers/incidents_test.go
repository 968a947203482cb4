package handlers

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/convot/convot/models"
	"github.com/convot/convot/workflows"
)

// fakeBreaches records what the dashboard asks of incident workflows.
type fakeBreaches struct {
	mu       sync.Mutex
	starts   []workflows.BreachInput
	assessed []workflows.BreachAssessSignal
	sent     []workflows.BreachNoticeSentSignal
	startErr error
}

func (f *fakeBreaches) Start(_ context.Context, in workflows.BreachInput) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.startErr != nil {
		return f.startErr
	}
	f.starts = append(f.starts, in)
	return nil
}

func (f *fakeBreaches) Assess(_ context.Context, _ uint64, sig workflows.BreachAssessSignal) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.assessed = append(f.assessed, sig)
	return nil
}

func (f *fakeBreaches) NoticeSent(_ context.Context, _ uint64, sig workflows.BreachNoticeSentSignal) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, sig)
	return nil
}

func incidentValues(aware time.Time) url.Values {
	return url.Values{
		"aware_at":        {aware.UTC().Format("2006-01-02T15:04")},
		"nature":          {"A laptop with an export of contacts was stolen"},
		"categories":      {"user.contact.email", "user.name"},
		"subject_kinds":   {"end_user"},
		"approx_subjects": {"350"},
		"approx_records":  {"350"},
		"consequences":    {"Phishing"},
		"measures":        {"Disk encryption verified; passwords rotated"},
		"contact_name":    {"Olivia Owner"},
		"contact_email":   {"dpo@acme.test"},
	}
}

// An officer records a breach on the dashboard: its workflow starts with
// the time of awareness; the assessment and the notice's sending are
// signals; a notice after 72 hours needs the reasons for the delay; bad
// input gets a clear 422; agents may not; another organization gets 404.
func TestOfficerRecordsABreach(t *testing.T) {
	ts := newTestServer(t)
	fb := &fakeBreaches{}
	ts.srv.Breaches = fb
	owner := ts.browser(t)
	owner.signup("olivia@acme.test", "Acme")
	if r := owner.get("/incidents"); r.status != http.StatusOK || !strings.Contains(r.body, "Record a breach") {
		t.Fatalf("incidents page: %d", r.status)
	}
	aware := ts.clock().Add(-2 * time.Hour)
	for name, patch := range map[string]url.Values{
		"no nature":       {"nature": {""}},
		"future":          {"aware_at": {ts.clock().Add(2 * time.Hour).UTC().Format("2006-01-02T15:04")}},
		"bad category":    {"categories": {"user.secret"}},
		"nobody":          {"subject_kinds": {}},
		"negative number": {"approx_records": {"-3"}},
		"bad contact":     {"contact_email": {"not an address"}},
	} {
		form := incidentValues(aware)
		for k, v := range patch {
			form[k] = v
		}
		if r := owner.post("/incidents", form); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `class="error"`) {
			t.Errorf("%s: %d, want 422 with a message", name, r.status)
		}
	}
	r := owner.post("/incidents", incidentValues(aware))
	if r.status != http.StatusSeeOther || r.location != "/incidents/1" {
		t.Fatalf("record: %d %s %s", r.status, r.location, excerpt(r.body))
	}
	if len(fb.starts) != 1 || fb.starts[0].IncidentID != 1 || !fb.starts[0].AwareAt.Equal(aware.UTC().Truncate(time.Minute)) {
		t.Fatalf("workflow starts: %+v", fb.starts)
	}
	var inc models.Incident
	if err := ts.db.First(&inc, 1).Error; err != nil {
		t.Fatal(err)
	}
	if inc.Nature != "A laptop with an export of contacts was stolen" || !inc.NoticeDueAt.Equal(inc.AwareAt.Add(72*time.Hour)) || inc.ApproxSubjects != 350 {
		t.Fatalf("incident %+v", inc)
	}
	var raw string
	ts.db.Raw("SELECT nature FROM incidents WHERE id = 1").Scan(&raw)
	if strings.Contains(raw, "laptop") {
		t.Fatal("the incident's description is stored in clear")
	}
	assertAudit(t, ts, "incident.recorded")
	if r := owner.get("/incidents/1"); r.status != http.StatusOK || !strings.Contains(r.body, "Breach #1") || !strings.Contains(r.body, "user.contact.email") {
		t.Fatalf("incident page: %d", r.status)
	}

	// Assessment.
	if r := owner.post("/incidents/1/assess", url.Values{"risk": {"catastrophic"}, "reason": {"x"}}); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("unknown risk: %d", r.status)
	}
	if r := owner.post("/incidents/1/assess", url.Values{"risk": {"high"}, "reason": {"Addresses and names of 350 people"}}); r.status != http.StatusSeeOther {
		t.Fatalf("assess: %d %s", r.status, excerpt(r.body))
	}
	if len(fb.assessed) != 1 || fb.assessed[0].Risk != "high" || fb.assessed[0].ActorID == 0 {
		t.Fatalf("assessments: %+v", fb.assessed)
	}

	// 73 hours after awareness: the notice needs the reasons for the delay.
	ts.advance(71 * time.Hour)
	owner.login("olivia@acme.test", "correct horse battery") // the session has timed out meanwhile
	owner.get("/incidents/1")
	if r := owner.post("/incidents/1/notice-sent", nil); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "reasons for the delay") {
		t.Fatalf("late notice without reasons: %d", r.status)
	}
	if len(fb.sent) != 0 {
		t.Fatal("a late notice without reasons was signalled")
	}
	if r := owner.post("/incidents/1/notice-sent", url.Values{"delay_reasons": {"The police held the evidence"}}); r.status != http.StatusSeeOther {
		t.Fatalf("late notice with reasons: %d %s", r.status, excerpt(r.body))
	}
	if len(fb.sent) != 1 || fb.sent[0].SentAt.IsZero() {
		t.Fatalf("notice signals: %+v", fb.sent)
	}
	ts.db.First(&inc, 1)
	if inc.DelayReasons != "The police held the evidence" {
		t.Fatalf("delay reasons %q", inc.DelayReasons)
	}

	// Agents may not; another organization finds nothing.
	agent := inviteAndJoin(t, ts, owner, "adam@acme.test", "agent")
	if r := agent.get("/incidents"); r.status != http.StatusForbidden {
		t.Fatalf("agent: %d, want 403", r.status)
	}
	other := ts.browser(t)
	other.signup("boris@other.test", "Other")
	if r := other.get("/incidents/1"); r.status != http.StatusNotFound {
		t.Fatalf("another organization's incident: %d, want 404", r.status)
	}
	other.get("/incidents")
	for _, path := range []string{"/incidents/1/assess", "/incidents/1/notice-sent", "/incidents/1/track"} {
		if r := other.post(path, url.Values{"risk": {"none"}, "reason": {"x"}}); r.status != http.StatusNotFound {
			t.Errorf("POST %s from another organization: %d, want 404", path, r.status)
		}
	}
	if r := other.get("/incidents"); strings.Contains(r.body, "/incidents/1\"") {
		t.Fatal("another organization's incident listed")
	}
}

// When the workflow cannot start, the incident is kept and the page offers
// to start tracking it again.
func TestIncidentTrackingCanBeRetried(t *testing.T) {
	ts := newTestServer(t)
	fb := &fakeBreaches{startErr: errors.New("temporal unavailable")}
	ts.srv.Breaches = fb
	owner := ts.browser(t)
	owner.signup("olivia@acme.test", "Acme")
	owner.get("/incidents")
	if r := owner.post("/incidents", incidentValues(ts.clock().Add(-time.Hour))); r.status != http.StatusServiceUnavailable {
		t.Fatalf("record without Temporal: %d, want 503", r.status)
	}
	if r := owner.get("/incidents/1"); !strings.Contains(r.body, "Start tracking") {
		t.Fatal("no offer to start tracking")
	}
	fb.mu.Lock()
	fb.startErr = nil
	fb.mu.Unlock()
	if r := owner.post("/incidents/1/track", nil); r.status != http.StatusSeeOther {
		t.Fatalf("track: %d", r.status)
	}
	if len(fb.starts) != 1 {
		t.Fatalf("starts %+v", fb.starts)
	}
}
