package handlers

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/convot/convot/models"
)

// Settings → AI turns features on per provider (local only here: the
// translation feature says it is unavailable instead of pretending);
// Summarize stores a summary shown to operators as text, never markup;
// Suggest drafts without sending; with the feature off nothing runs; a
// help article of another organization is 404.
func TestAIAssistanceInTheDashboard(t *testing.T) {
	ts, w := acmeInbox(t)
	_, conv := w.conversation(t, models.Contact{Name: "Ada", Email: "ada@example.test"}, "My parcel <img src=x onerror=alert(1)> has not arrived. It was due on Monday. Please help me find it.")
	b := w.owner

	page := b.get("/settings/ai")
	if page.status != http.StatusOK || !strings.Contains(page.body, `data-testid="ai-translation-unavailable"`) ||
		!strings.Contains(page.body, "the local provider cannot translate") {
		t.Fatalf("settings page: %d %s", page.status, excerpt(page.body))
	}
	// Off by default: nothing runs.
	if r := b.post(convPath(conv, "/summarize"), nil); r.status != http.StatusConflict || !strings.Contains(r.body, "off for your organization") {
		t.Fatalf("summary while off: %d %s", r.status, r.body)
	}
	// A provider that is not configured, or cannot do the feature: 422.
	for _, bad := range []url.Values{{"summary": {"anthropic"}}, {"translation": {"local"}}} {
		if r := b.post("/settings/ai", bad); r.status != http.StatusUnprocessableEntity {
			t.Fatalf("setting %v: %d", bad, r.status)
		}
	}
	if r := b.post("/settings/ai", url.Values{"summary": {"local"}, "suggested_reply": {"local"}}); r.status != http.StatusSeeOther {
		t.Fatalf("save: %d %s", r.status, excerpt(r.body))
	}
	var org models.Organization
	if err := ts.db.First(&org, w.org.ID).Error; err != nil || org.AISettings != "summary=local;suggested_reply=local" {
		t.Fatalf("stored settings %q %v", org.AISettings, err)
	}

	var before int64
	ts.db.Model(&models.Message{}).Where("conversation_id = ?", conv.ID).Count(&before)
	sum := decodeJSON[struct{ Summary, Provider string }](t, b.post(convPath(conv, "/summarize"), nil))
	if !strings.Contains(sum.Summary, "<img src=x onerror=alert(1)>") || sum.Provider != "local" {
		t.Fatalf("summary %+v", sum)
	}
	view := b.get(convPath(conv, ""))
	if strings.Contains(view.body, "<img src=x") || !strings.Contains(view.body, `data-testid="ai-summary">My parcel &lt;img src=x onerror=alert(1)&gt;`) {
		t.Fatalf("the summary is not shown as text: %s", excerpt(view.body))
	}
	draft := decodeJSON[struct{ Draft string }](t, b.post(convPath(conv, "/suggest"), nil))
	if draft.Draft == "" {
		t.Fatal("no draft")
	}
	var after int64
	ts.db.Model(&models.Message{}).Where("conversation_id = ?", conv.ID).Count(&after)
	if after != before {
		t.Fatalf("summarizing or suggesting sent %d messages", after-before)
	}

	// Help articles: written in Settings → AI; another organization's is 404.
	if r := b.post("/settings/ai/articles", url.Values{"title": {"Shipping"}, "body": {"Parcels arrive in 3 days."}}); r.status != http.StatusSeeOther {
		t.Fatalf("article: %d", r.status)
	}
	if r := b.post("/settings/ai/articles", url.Values{"title": {""}, "body": {"x"}}); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("empty article: %d", r.status)
	}
	var art models.HelpArticle
	if err := ts.db.Where("organization_id = ?", w.org.ID).First(&art).Error; err != nil {
		t.Fatal(err)
	}
	other := newInboxWorld(t, ts, "boris@other.test", "Other")
	if r := other.owner.post("/settings/ai/articles/"+itoa(art.ID)+"/delete", nil); r.status != http.StatusNotFound {
		t.Fatalf("another organization deleted an article: %d", r.status)
	}
	if r := other.owner.post(convPath(conv, "/summarize"), nil); r.status != http.StatusNotFound || strings.Contains(r.body, "parcel") {
		t.Fatalf("another organization summarized: %d", r.status)
	}
}

// Routing rules: an admin gives example texts per operator in Settings →
// AI; bad input is a clear 422 and stores nothing; an operator of another
// organization cannot be a target, and another organization's example is
// 404 and stays.
func TestAIRoutingRulesInSettings(t *testing.T) {
	ts, w := acmeInbox(t)
	b := w.owner
	b.get("/settings/ai")
	if r := b.post("/settings/ai/routing", url.Values{"account": {itoa(w.ownerID)}, "text": {"Where is my parcel?"}}); r.status != http.StatusSeeOther {
		t.Fatalf("example: %d %s", r.status, excerpt(r.body))
	}
	other := newInboxWorld(t, ts, "boris@other.test", "Other")
	for _, bad := range []url.Values{
		{"account": {itoa(w.ownerID)}, "text": {"  "}},
		{"account": {"x"}, "text": {"refund"}},
		{"account": {itoa(w.ownerID)}, "text": {strings.Repeat("x", 2001)}},
		{"account": {itoa(other.ownerID)}, "text": {"refund"}},
	} {
		if r := b.post("/settings/ai/routing", bad); r.status != http.StatusUnprocessableEntity {
			t.Errorf("example %v: %d, want 422", bad, r.status)
		}
	}
	var list []models.RoutingExample
	ts.db.Where("organization_id = ?", w.org.ID).Find(&list)
	if len(list) != 1 || list[0].AccountID != w.ownerID || list[0].Text != "Where is my parcel?" {
		t.Fatalf("stored examples %+v", list)
	}
	if page := b.get("/settings/ai"); !strings.Contains(page.body, "Where is my parcel?") || !strings.Contains(page.body, `data-testid="routing-form"`) {
		t.Fatalf("settings page does not list the example: %s", excerpt(page.body))
	}
	other.owner.get("/settings/ai")
	if r := other.owner.post("/settings/ai/routing/"+itoa(list[0].ID)+"/delete", nil); r.status != http.StatusNotFound {
		t.Fatalf("another organization deleted an example: %d", r.status)
	}
	if page := other.owner.get("/settings/ai"); strings.Contains(page.body, "Where is my parcel?") {
		t.Fatal("another organization sees the example")
	}
	if r := b.post("/settings/ai/routing/"+itoa(list[0].ID)+"/delete", nil); r.status != http.StatusSeeOther {
		t.Fatalf("delete: %d", r.status)
	}
	var n int64
	ts.db.Model(&models.RoutingExample{}).Where("organization_id = ?", w.org.ID).Count(&n)
	if n != 0 {
		t.Fatal("not deleted")
	}
}
