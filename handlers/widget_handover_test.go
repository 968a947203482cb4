package handlers

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/convot/convot/conversation"
	"github.com/convot/convot/models"
)

// "Talk to a person": 409 while the organization has no bot; with it on,
// the visitor's conversation is handed to the team (persisted, once): the
// visitor reads a notice, the operators the event line and "Needs a
// human"; a malformed body is 400, another visitor's or another
// organization's conversation 404.
func TestWidgetTalkToAPerson(t *testing.T) {
	w := newWidgetWorld(t)
	v := w.visitor(t)
	v.boot("https://shop.example/")
	id := v.start("Hallo, wo ist mein Paket?")
	path := fmt.Sprintf("/conversations/%d/handover", id)

	if r := v.call(http.MethodPost, path, map[string]any{}); r.status != http.StatusConflict {
		t.Fatalf("without a bot: %d %s", r.status, r.body)
	}
	if err := w.ts.db.Model(&models.Organization{}).Where("id = ?", w.org.ID).Update("ai_settings", "automated_answer=local").Error; err != nil {
		t.Fatal(err)
	}
	w.ts.srv.widget.ForgetOrganization(w.org.PublicKey)
	settings := v.boot("https://shop.example/")["settings"].(map[string]any)
	if settings["automated_answers"] != true {
		t.Fatalf("settings %v", settings)
	}
	if r := v.do(http.MethodPost, path, "application/json", strings.NewReader("{")); r.status != http.StatusBadRequest {
		t.Fatalf("malformed body: %d %s", r.status, r.body)
	}
	stranger := w.visitor(t)
	stranger.boot("https://shop.example/")
	if r := stranger.call(http.MethodPost, path, map[string]any{}); r.status != http.StatusNotFound {
		t.Fatalf("another visitor: %d %s", r.status, r.body)
	}
	other := newWidgetWorldOn(t, w.ts, "boris@other.test", "Other")
	ov := other.visitor(t)
	ov.boot("https://shop.example/")
	if r := ov.call(http.MethodPost, path, map[string]any{}); r.status != http.StatusNotFound {
		t.Fatalf("another organization: %d %s", r.status, r.body)
	}

	before := len(v.messages(id, 0))
	r := v.call(http.MethodPost, path, nil)
	if r.status != http.StatusOK || r.json(t)["conversation"].(map[string]any)["handed_over"] != true {
		t.Fatalf("handover: %d %s", r.status, r.body)
	}
	msgs := v.messages(id, 0)
	if len(msgs) != before+1 || msgs[len(msgs)-1]["body"] != conversation.HandoverNotice || msgs[len(msgs)-1]["author_type"] != "system" {
		t.Fatalf("the visitor's messages: %v", msgs)
	}
	conv := w.conversation(t, id)
	if conv.HandedOverAt == nil || conv.HandoverReason != models.HandoverAsked {
		t.Fatalf("not persisted: %+v", conv)
	}
	// Twice: nothing more.
	if r := v.call(http.MethodPost, path, map[string]any{}); r.status != http.StatusOK || len(v.messages(id, 0)) != before+1 {
		t.Fatalf("second handover: %d, %d messages", r.status, len(v.messages(id, 0)))
	}
	page := w.owner.get(fmt.Sprintf("/inbox/conversations/%d", id))
	if !strings.Contains(page.body, "Handed to the team: the visitor asked for a person") ||
		!strings.Contains(page.body, `data-testid="conversation-needs-human"`) {
		t.Fatalf("the operators' view: %s", excerpt(page.body))
	}
}

// newWidgetWorldOn is a second organization on the same server, its
// widget allowed on widgetSite.
func newWidgetWorldOn(t *testing.T, ts *testServer, email, company string) *widgetWorld {
	t.Helper()
	owner := ts.browser(t)
	owner.signup(email, company)
	w := &widgetWorld{ts: ts, owner: owner}
	if err := ts.db.Order("id DESC").First(&w.org).Error; err != nil {
		t.Fatal(err)
	}
	if err := ts.db.Model(&models.Organization{}).Where("id = ?", w.org.ID).Update("allowed_origins", widgetSite).Error; err != nil {
		t.Fatal(err)
	}
	return w
}
