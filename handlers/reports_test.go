package handlers

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/convot/convot/models"
)

// seedReport stores conversations with known times in w's organization
// (and one in other's, which the report must not count).
func seedReport(t *testing.T, w, other *inboxWorld, bobID, billingID uint64) {
	t.Helper()
	db := w.ts.db
	at := func(s string) time.Time {
		v, err := time.Parse("2006-01-02 15:04", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	ptr := func(v time.Time) *time.Time { return &v }
	id := func(v uint64) *uint64 { return &v }
	type seed struct {
		org      *models.Organization
		created  string
		assignee *uint64
		labels   string
		replies  []string // operator messages
		note     string   // a private note, ignored
		resolved string
		score    int
	}
	seeds := []seed{
		{w.org, "2026-03-02 09:00", id(w.ownerID), "," + itoa(billingID) + ",", []string{"2026-03-02 09:02", "2026-03-02 09:30"}, "", "2026-03-02 10:00", 5},
		{w.org, "2026-03-02 12:00", id(bobID), "," + itoa(billingID) + ",", []string{"2026-03-02 12:10"}, "", "2026-03-02 12:30", 2},
		{w.org, "2026-03-04 08:00", id(bobID), ",", []string{"2026-03-04 08:04"}, "2026-03-04 08:01", "", 0},
		{w.org, "2026-03-10 15:00", nil, ",", nil, "", "", 0},
		{w.org, "2026-02-20 15:00", id(bobID), ",", []string{"2026-02-20 15:01"}, "", "2026-02-20 16:00", 1}, // before the range
		{other.org, "2026-03-03 10:00", id(other.ownerID), ",", []string{"2026-03-03 10:01"}, "", "2026-03-03 10:05", 1},
	}
	for i, s := range seeds {
		ct := models.Contact{OrganizationID: s.org.ID, Name: "Visitor " + itoa(uint64(i))}
		if err := db.Create(&ct).Error; err != nil {
			t.Fatal(err)
		}
		conv := models.Conversation{OrganizationID: s.org.ID, ContactID: ct.ID, DataKeyID: ct.DataKeyID, Channel: "widget",
			Status: models.ConversationOpen, AssigneeID: s.assignee, LabelIDs: s.labels, LastMessageAt: at(s.created), CreatedAt: at(s.created), UpdatedAt: at(s.created)}
		if s.resolved != "" {
			conv.Status, conv.ResolvedAt = models.ConversationResolved, ptr(at(s.resolved))
		}
		if err := db.Create(&conv).Error; err != nil {
			t.Fatal(err)
		}
		msg := func(author string, body string, when string, private bool) {
			m := models.Message{OrganizationID: s.org.ID, ConversationID: conv.ID, DataKeyID: ct.DataKeyID, AuthorType: author,
				Body: body, Private: private, DeliveryStatus: "sent", CreatedAt: at(when)}
			if err := db.Create(&m).Error; err != nil {
				t.Fatal(err)
			}
		}
		msg("contact", "hello", s.created, false)
		if s.note != "" {
			msg("operator", "note", s.note, true)
		}
		for _, r := range s.replies {
			msg("operator", "reply", r, false)
		}
		if s.score > 0 {
			if err := db.Create(&models.ConversationRating{OrganizationID: s.org.ID, ConversationID: conv.ID, ContactID: ct.ID,
				DataKeyID: ct.DataKeyID, AssigneeID: s.assignee, Score: s.score, Comment: "c", CreatedAt: at(s.resolved)}).Error; err != nil {
				t.Fatal(err)
			}
		}
	}
}

// The reports page computes its numbers from the stored times of the
// organization's conversations in the range: per day, first response
// (operator messages, not notes), resolution, ratings; by operator, label
// and week. Agents cannot see it; bad dates are a clear 400.
func TestReportsPage(t *testing.T) {
	ts, w := acmeInbox(t)
	other := newInboxWorld(t, ts, "bea@beta.test", "Beta")
	agent := inviteAndJoin(t, ts, w.owner, "bob@acme.test", "agent")
	_ = agent
	bob := accountByEmail(t, ts, "bob@acme.test")
	owner := accountByEmail(t, ts, "olivia@acme.test")
	billing := models.Label{OrganizationID: w.org.ID, Name: "billing", CreatedAt: time.Now()}
	if err := ts.db.Create(&billing).Error; err != nil {
		t.Fatal(err)
	}
	seedReport(t, w, other, bob.ID, billing.ID)

	page := signInOperator(t, ts, "olivia@acme.test")
	page.run("open", chromedp.Navigate(ts.URL+"/reports?from=2026-03-01&to=2026-03-10"), chromedp.WaitVisible(testid("report-total")))
	cell := func(sel string) string {
		return page.eval(sel, `(() => { const e = document.querySelector(`+"`"+sel+"`"+`); return e ? e.textContent.trim() : "missing"; })()`)
	}
	want := map[string]string{
		`[data-testid="total-conversations"]`:                                                                     "4",
		`[data-testid="total-first-response"]`:                                                                    "5m 20s", // (2 + 10 + 4) / 3 minutes
		`[data-testid="total-resolution"]`:                                                                        "45m 00s",
		`[data-testid="total-rating"]`:                                                                            "3.5",
		`[data-testid="total-ratings"]`:                                                                           "2",
		`[data-date="2026-03-02"] [data-testid="day-count"]`:                                                      "2",
		`[data-date="2026-03-03"] [data-testid="day-count"]`:                                                      "0",
		`[data-date="2026-03-04"] [data-testid="day-count"]`:                                                      "1",
		`[data-date="2026-03-10"] [data-testid="day-count"]`:                                                      "1",
		`[data-testid="report-operators"] [data-key="` + bob.FullName + `"] [data-testid="row-conversations"]`:    "2",
		`[data-testid="report-operators"] [data-key="` + bob.FullName + `"] [data-testid="row-first-response"]`:   "7m 00s",
		`[data-testid="report-operators"] [data-key="` + bob.FullName + `"] [data-testid="row-resolution"]`:       "30m 00s",
		`[data-testid="report-operators"] [data-key="` + bob.FullName + `"] [data-testid="row-rating"]`:           "2.0",
		`[data-testid="report-operators"] [data-key="` + owner.FullName + `"] [data-testid="row-first-response"]`: "2m 00s",
		`[data-testid="report-operators"] [data-key="` + owner.FullName + `"] [data-testid="row-resolution"]`:     "1h 00m",
		`[data-testid="report-operators"] [data-key="` + owner.FullName + `"] [data-testid="row-rating"]`:         "5.0",
		`[data-testid="report-operators"] [data-key="Unassigned"] [data-testid="row-first-response"]`:             "—",
		`[data-testid="report-labels"] [data-key="billing"] [data-testid="row-conversations"]`:                    "2",
		`[data-testid="report-labels"] [data-key="billing"] [data-testid="row-first-response"]`:                   "6m 00s",
		`[data-testid="report-labels"] [data-key="billing"] [data-testid="row-rating"]`:                           "3.5",
		`[data-testid="report-labels"] [data-key="No label"] [data-testid="row-conversations"]`:                   "2",
		`[data-testid="report-weeks"] [data-key="2026-W10"] [data-testid="row-conversations"]`:                    "3",
		`[data-testid="report-weeks"] [data-key="2026-W11"] [data-testid="row-conversations"]`:                    "1",
	}
	for sel, v := range want {
		if got := cell(sel); got != v {
			t.Errorf("%s: %q, want %q", sel, got, v)
		}
	}
	if got := page.eval("days", `String(document.querySelectorAll('[data-testid="report-day"]').length)`); got != "10" {
		t.Errorf("%s day rows, want 10", got)
	}
	// The range filter: only 2 March.
	page.run("narrow", chromedp.Navigate(ts.URL+"/reports?from=2026-03-02&to=2026-03-02"), chromedp.WaitVisible(testid("report-total")))
	if got := cell(`[data-testid="total-conversations"]`); got != "2" {
		t.Errorf("conversations on 2 March: %s", got)
	}
	wantGet(t, agent, "/reports", http.StatusForbidden, "agent reports page")
	for _, q := range []string{"from=x", "to=2026-13-01", "from=2026-03-05&to=2026-03-01", "from=2020-01-01&to=2026-01-01"} {
		r := w.owner.get("/reports?" + q)
		if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "date") && !strings.Contains(string(r.body), "366") {
			t.Errorf("%s: %d", q, r.status)
		}
	}
}

// At 1280×900 (the browser window; its viewport is a little shorter) the
// grouped sidebar (Inbox, Contacts, Reports, Settings,
// Privacy, Audit) fits one screen: every link of the owner's, who sees
// the most, is in view without scrolling.
func TestSidebarFitsOneScreenInBrowser(t *testing.T) {
	ts, _ := acmeInbox(t)
	page := signInOperator(t, ts, "olivia@acme.test")
	page.run("open", chromedp.Navigate(ts.URL+"/settings/team"), chromedp.WaitVisible(testid("sidebar")))
	got := page.eval("sidebar", `(() => { const s = document.querySelector('[data-testid="sidebar"]');
		const links = [...s.querySelectorAll('a, button')];
		const out = links.filter(a => { const r = a.getBoundingClientRect(); return r.height === 0 || r.bottom > window.innerHeight || r.right > 260; });
		const groups = [...s.querySelectorAll('.group')].map(g => g.textContent.trim()).join(",");
		const names = links.map(a => a.textContent.trim());
		return [window.innerWidth + "x" + String(window.innerHeight <= 900), links.length > 15, out.length, s.scrollHeight <= s.clientHeight, groups,
			["Inbox","Contacts","Reports","Team","Privacy requests","Audit log"].every(n => names.includes(n))].join("|"); })()`)
	if got != "1280xtrue|true|0|true|Settings,Privacy,Audit|true" {
		t.Fatalf("sidebar at 1280x900: %s", got)
	}
}
