package handlers

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/convot/convot/models"
)

// The rating API: only a resolved conversation of the visitor's own, a
// score from 1 to 5, once; the comment is sealed at rest.
func TestWidgetRatingAPI(t *testing.T) {
	w := newWidgetWorld(t)
	v := w.visitor(t)
	v.boot(widgetSite + "/")
	convID := v.start("Where is my parcel?")
	path := "/conversations/" + itoa(convID) + "/rating"
	if r := v.call(http.MethodPost, path, map[string]any{"score": 5}); r.status != http.StatusConflict || !strings.Contains(r.errorText(t), "resolved") {
		t.Fatalf("rating an open conversation: %d %s", r.status, r.body)
	}
	if r := w.owner.post(convPath(w.conversation(t, convID), "/resolve"), nil); r.status >= 400 {
		t.Fatalf("resolve: %d", r.status)
	}
	if r := v.call(http.MethodGet, path, nil); r.status != http.StatusOK || r.json(t)["rating"] != nil {
		t.Fatalf("rating before rated: %d %s", r.status, r.body)
	}
	for _, bad := range []map[string]any{{"score": 0}, {"score": 6}, {"score": -1}, {"score": 3, "comment": strings.Repeat("x", 2001)}} {
		if r := v.call(http.MethodPost, path, bad); r.status != http.StatusUnprocessableEntity || r.errorText(t) == "" {
			t.Fatalf("%v: %d %s", bad, r.status, r.body)
		}
	}
	if r := v.call(http.MethodPost, path, map[string]any{"score": "five"}); r.status != http.StatusBadRequest {
		t.Fatalf("a score that is not a number: %d %s", r.status, r.body)
	}
	other := w.visitor(t)
	other.boot(widgetSite + "/")
	other.start("Hello")
	if r := other.call(http.MethodPost, path, map[string]any{"score": 1}); r.status != http.StatusNotFound {
		t.Fatalf("another visitor rated the conversation: %d %s", r.status, r.body)
	}
	if r := v.call(http.MethodPost, path, map[string]any{"score": 4, "comment": "Quick and kind answer"}); r.status != http.StatusCreated {
		t.Fatalf("rate: %d %s", r.status, r.body)
	}
	if r := v.call(http.MethodPost, path, map[string]any{"score": 1}); r.status != http.StatusConflict || !strings.Contains(r.errorText(t), "already") {
		t.Fatalf("a second rating: %d %s", r.status, r.body)
	}
	got := v.call(http.MethodGet, path, nil).json(t)["rating"].(map[string]any)
	if got["score"].(float64) != 4 || got["comment"] != "Quick and kind answer" {
		t.Fatalf("rating read back: %v", got)
	}
	if found := dbContains(t, w.ts, "Quick and kind answer"); len(found) != 0 {
		t.Fatalf("the comment is stored in plaintext in %v", found)
	}
	r, err := w.ts.srv.Store.ConversationRating(context.Background(), w.org.ID, convID)
	if err != nil || r.Score != 4 || r.AssigneeID != nil && *r.AssigneeID != w.ownerID {
		t.Fatalf("stored rating %+v, %v", r, err)
	}
}

// In Chromium: the operator resolves the conversation and the widget
// says so at once (the live socket), asks for a rating, takes 4 stars and
// a comment, and thanks the visitor; reloaded, it does not ask again.
func TestWidgetRatingInBrowser(t *testing.T) {
	w := newWidgetWorld(t)
	host := hostPage(t, w.ts.URL, w.org.PublicKey)
	w.ts.db.Model(&models.Organization{}).Where("id = ?", w.org.ID).Update("allowed_origins", host.URL)
	w.ts.srv.widget.ForgetOrganization(w.org.PublicKey)
	page := pageDriver{t, newBrowserContext(t, chromium(t))}
	page.run("load the page", chromedp.Navigate(host.URL+"/"))
	page.waitJS("session", `window.ConvotWidget && ConvotWidget.state().started`)
	page.run("open", chromedp.Click(chromedp.JSPath(inShadow("convot-launcher"))))
	page.eval("send", `ConvotWidget.send("My order is late").then(m => String(m.id))`)
	page.waitJS("live", `ConvotWidget.state().connected`)
	if got := page.eval("no notice yet", `String(`+inShadow("convot-resolved")+`.hidden)`); got != "true" {
		t.Fatal("the resolved notice shows on an open conversation")
	}
	var convID uint64
	w.ts.db.Model(&models.Conversation{}).Where("organization_id = ?", w.org.ID).Select("id").Scan(&convID)
	if r := w.owner.post(convPath(w.conversation(t, convID), "/resolve"), nil); r.status >= 400 {
		t.Fatalf("resolve: %d", r.status)
	}
	page.waitJS("told at once", `!`+inShadow("convot-resolved")+`.hidden && `+inShadow("convot-resolved")+`.getBoundingClientRect().height > 0 && !`+inShadow("convot-rating")+`.hidden`)
	if txt := page.eval("notice", inShadow("convot-resolved")+`.textContent`); !strings.Contains(txt, "resolved") {
		t.Fatalf("notice: %q", txt)
	}
	page.run("rate",
		chromedp.Click(chromedp.JSPath(inShadow("convot-rate-4"))),
		chromedp.SendKeys(chromedp.JSPath(inShadow("convot-rating-comment")), "Thanks, sorted"),
		chromedp.Click(chromedp.JSPath(inShadow("convot-rating-submit"))),
	)
	page.waitJS("thanked", `!`+inShadow("convot-rating-thanks")+`.hidden && `+inShadow("convot-rating")+`.hidden`)
	r, err := w.ts.srv.Store.ConversationRating(context.Background(), w.org.ID, convID)
	if err != nil || r.Score != 4 || r.Comment != "Thanks, sorted" {
		t.Fatalf("stored rating %+v, %v", r, err)
	}
	page.run("reload", chromedp.Navigate(host.URL+"/"))
	page.waitJS("session again", `window.ConvotWidget && ConvotWidget.state().started && ConvotWidget.state().conversationId > 0`)
	page.run("open again", chromedp.Click(chromedp.JSPath(inShadow("convot-launcher"))))
	page.waitJS("not asked again", `!`+inShadow("convot-resolved")+`.hidden && !`+inShadow("convot-rating-thanks")+`.hidden && `+inShadow("convot-rating")+`.hidden`)
}
