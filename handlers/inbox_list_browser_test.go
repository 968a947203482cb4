package handlers

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/convot/convot/conversation"
	"github.com/convot/convot/models"
	"github.com/convot/convot/workflows"
)

// signInOperator signs the Acme owner in, in a fresh browser context.
func signInOperator(t *testing.T, ts *testServer, email string) pageDriver {
	t.Helper()
	page := pageDriver{t, newBrowserContext(t, chromium(t))}
	page.run("sign in",
		chromedp.Navigate(ts.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS(`input[name="email"]`), email),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "correct horse battery"),
		chromedp.Submit(chromedp.CSS(`input[name="password"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="nav-inbox"]`)),
	)
	return page
}

// waitAcrossNavigation polls a condition that holds on the page a
// navigation leads to, retrying while the old page goes away.
func (d pageDriver) waitAcrossNavigation(step, expr string) {
	d.t.Helper()
	var err error
	for i := 0; i < 5; i++ {
		if _, err = chromedp.Run(d.ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(10*time.Second))); err == nil {
			return
		}
		if !strings.Contains(err.Error(), "navigated or closed") && !strings.Contains(err.Error(), "context") {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	d.t.Fatalf("%s: %v", step, err)
}

func testid(id string) chromedp.CSS { return chromedp.CSS(`[data-testid="` + id + `"]`) }

// At 1280×900 a long conversation opens at its newest message with the
// composer and its Send button in view; scrolling to the top loads the
// older messages above, keeping the reader's place.
func TestInboxOpensAtNewestInBrowser(t *testing.T) {
	ts, w := acmeInbox(t)
	ada, conv := w.conversation(t, models.Contact{Name: "Ada Lovelace"}, "message 1")
	for i := 2; i <= 70; i++ {
		w.contactSays(t, ada, conv, fmt.Sprintf("message %d", i))
	}
	page := signInOperator(t, ts, "olivia@acme.test")
	page.run("open", chromedp.Navigate(ts.URL+"/inbox/conversations/"+itoa(conv.ID)), chromedp.WaitVisible(testid("composer-send")))
	page.waitJS("at the newest", `(() => { const l = document.querySelector('[data-testid="message-list"]');
		const bodies = [...l.querySelectorAll('[data-testid="message-body"]')];
		return bodies.length === 50 && bodies[bodies.length-1].textContent === "message 70" && l.scrollHeight - l.scrollTop - l.clientHeight < 4 && l.scrollHeight > l.clientHeight; })()`)
	if got := page.eval("send in view", `(() => { const r = document.querySelector('[data-testid="composer-send"]').getBoundingClientRect();
		return window.innerWidth + "x" + String(r.top >= 0 && r.bottom <= window.innerHeight && r.width > 0); })()`); got != "1280xtrue" {
		t.Fatalf("window width x Send button in view: %s", got)
	}
	page.run("scroll to the top", chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid="message-list"]').scrollTop = 0`))
	page.waitJS("older loaded", `(() => { const bodies = [...document.querySelectorAll('[data-testid="message-body"]')].map(b => b.textContent);
		return bodies.length === 70 && bodies[0] === "message 1" && bodies[69] === "message 70" && !document.querySelector('[data-testid="messages-earlier"]'); })()`)
	if got := page.eval("place kept", `String(document.querySelector('[data-testid="message-list"]').scrollTop > 0)`); got != "true" {
		t.Fatal("loading older messages jumped to the top")
	}
	// Bad paging input is refused.
	if r := w.owner.fetch("GET", convPath(conv, "/messages?before_id=x"), "", nil); r.status != 400 {
		t.Fatalf("before_id=x: %d", r.status)
	}
}

// The widget opens at the newest message too, and loads older ones when
// the visitor scrolls up.
func TestWidgetOpensAtNewestInBrowser(t *testing.T) {
	w := newWidgetWorld(t)
	host := hostPage(t, w.ts.URL, w.org.PublicKey)
	w.ts.db.Model(&models.Organization{}).Where("id = ?", w.org.ID).Update("allowed_origins", host.URL)
	w.ts.srv.widget.ForgetOrganization(w.org.PublicKey)
	page := pageDriver{t, newBrowserContext(t, chromium(t))}
	page.run("load the page", chromedp.Navigate(host.URL+"/"))
	page.waitJS("session", `window.ConvotWidget && ConvotWidget.state().started`)
	page.eval("send", `ConvotWidget.send("first question").then(m => String(m.id))`)
	var convID uint64
	w.ts.db.Model(&models.Conversation{}).Where("organization_id = ?", w.org.ID).Select("id").Scan(&convID)
	for i := 1; i <= 70; i++ {
		w.operatorSays(t, convID, fmt.Sprintf("answer %d", i), false)
	}
	page.run("reload", chromedp.Reload())
	page.waitJS("session again", `window.ConvotWidget && ConvotWidget.state().started`)
	page.run("open", chromedp.Click(chromedp.JSPath(inShadow("convot-launcher"))))
	page.waitJS("at the newest", `(() => { const l = `+inShadow("convot-messages")+`;
		const bodies = [...ConvotWidget.root.querySelectorAll('[data-testid=convot-message-body]')];
		return bodies.length === 50 && bodies[49].textContent === "answer 70" && l.scrollHeight > l.clientHeight && l.scrollHeight - l.scrollTop - l.clientHeight < 4; })()`)
	page.run("scroll up", chromedp.Evaluate[chromedp.Void](inShadow("convot-messages")+`.scrollTop = 0`))
	page.waitJS("older loaded", `(() => { const bodies = [...ConvotWidget.root.querySelectorAll('[data-testid=convot-message-body]')].map(b => b.textContent);
		return bodies.length === 71 && bodies[0] === "first question" && bodies[70] === "answer 70"; })()`)
}

// The list: last-message previews, relative times with the full time in
// the title, labels made in settings and put on in the conversation,
// filtering by label, and bulk resolve with checkboxes.
func TestInboxListInBrowser(t *testing.T) {
	ts, w := acmeInbox(t)
	_, conv := w.conversation(t, models.Contact{Name: "Ada Lovelace"}, "Where is my parcel?")
	_, other := w.conversation(t, models.Contact{Name: "Grace Hopper"}, "Refund please")
	page := signInOperator(t, ts, "olivia@acme.test")
	page.run("inbox", chromedp.Navigate(ts.URL+"/inbox?status=open&assignment=all"), chromedp.WaitVisible(testid("conversation-item")))
	page.waitJS("previews and times", `(() => { const items = [...document.querySelectorAll('[data-testid="conversation-item"]')];
		const p = id => items.find(i => i.dataset.conversationId === id);
		const ada = p("`+itoa(conv.ID)+`"), t = ada.querySelector('[data-testid="conversation-item-time"]');
		return ada.querySelector('[data-testid="conversation-item-preview"]').textContent === "Where is my parcel?" &&
			p("`+itoa(other.ID)+`").querySelector('[data-testid="conversation-item-preview"]').textContent === "Refund please" &&
			/^(just now|\d+ min ago|\d+ h ago|yesterday|\d+ days ago)$/.test(t.textContent) && t.title.length > 8; })()`)

	// Settings › Labels: make one.
	page.run("make a label",
		chromedp.Navigate(ts.URL+"/settings/labels"),
		chromedp.SendKeys(testid("label-name"), "billing"),
		chromedp.Click(testid("label-save")),
		chromedp.WaitVisible(testid("label-row")),
	)
	// Put it on Ada's conversation.
	page.run("label the conversation",
		chromedp.Navigate(ts.URL+"/inbox/conversations/"+itoa(conv.ID)+"?status=all&assignment=all"),
		chromedp.WaitVisible(testid("label-add")),
		chromedp.Click(testid("label-add")),
		chromedp.WaitVisible(testid("conversation-label")),
	)
	page.waitJS("label in the list", `[...document.querySelectorAll('[data-testid="conversation-item"]')].find(i => i.dataset.conversationId === "`+itoa(conv.ID)+`").querySelector('[data-testid="conversation-item-label"]')?.textContent === "billing"`)
	// Filter by it.
	page.run("filter by label",
		chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector('[data-testid="label-filter"]'); s.value = s.options[1].value; s.dispatchEvent(new Event("change", {bubbles: true})); })()`))
	page.waitAcrossNavigation("filtered", `location.search.includes("label=") && [...document.querySelectorAll('[data-testid="conversation-item"]')].map(i => i.dataset.conversationId).join() === "`+itoa(conv.ID)+`"`)
	// Remove it.
	page.run("remove label",
		chromedp.Navigate(ts.URL+"/inbox/conversations/"+itoa(conv.ID)+"?status=all&assignment=all"),
		chromedp.Click(testid("conversation-label-remove")))
	page.waitAcrossNavigation("label removed", `document.readyState === "complete" && !document.querySelector('[data-testid="conversation-label"]') && !!document.querySelector('[data-testid="label-add"]')`)

	// Bulk: check both, resolve.
	page.run("all open", chromedp.Navigate(ts.URL+"/inbox?status=open&assignment=all"), chromedp.WaitVisible(testid("conversation-item-check")))
	page.run("check both", chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('[data-testid="conversation-item-check"]').forEach(c => c.click())`),
		chromedp.Click(testid("bulk-apply")))
	page.waitAcrossNavigation("both resolved", `location.pathname === "/inbox" && !!document.querySelector('[data-testid="conversation-list-empty"]')`)
	for _, c := range []*models.Conversation{conv, other} {
		if got := reloadConversation(t, ts, c); got.Status != models.ConversationResolved {
			t.Errorf("conversation %d: %s after bulk resolve", c.ID, got.Status)
		}
	}
	// All statuses shows them.
	page.run("all statuses", chromedp.Click(testid("filter-status-all")))
	page.waitJS("all listed", `document.querySelectorAll('[data-testid="conversation-item"]').length === 2 && location.search.includes("status=all")`)
}

// Alerts while the tab is hidden, as the operator chose them (kept in
// local storage): the unread count in the title, a WebAudio chime, a
// desktop notification after opting in (the Notification API stubbed in
// the page). Keyboard shortcuts; image thumbnails.
func TestInboxAlertsAndShortcutsInBrowser(t *testing.T) {
	ts, w := acmeInbox(t)
	ada, conv := w.conversation(t, models.Contact{Name: "Ada Lovelace"}, "Hello")
	_, second := w.conversation(t, models.Contact{Name: "Grace Hopper"}, "Second")
	page := signInOperator(t, ts, "olivia@acme.test")
	page.run("inbox", chromedp.Navigate(ts.URL+"/inbox?status=open&assignment=all"))
	page.waitJS("live", `document.getElementById("inbox").dataset.live === "live"`)
	page.run("stub", chromedp.Evaluate[chromedp.Void](`
		window.__notes = []; window.__tones = 0; window.__asked = 0;
		window.Notification = function (title, opts) { window.__notes.push({title, opts}); };
		window.Notification.permission = "default";
		window.Notification.requestPermission = () => { window.__asked++; window.Notification.permission = "granted"; return Promise.resolve("granted"); };
		const Real = window.AudioContext;
		window.AudioContext = function () { const c = new Real(); const make = c.createOscillator.bind(c);
			c.createOscillator = () => { const o = make(); const start = o.start.bind(o); o.start = (at) => { window.__tones++; start(at); }; return o; }; return c; };
	`))
	if got := page.eval("not asked yet", `String(window.__asked)`); got != "0" {
		t.Fatal("the page asked for notifications before the operator opted in")
	}
	page.run("opt in",
		chromedp.Click(chromedp.CSS(`[data-testid="alert-settings"] summary`)),
		chromedp.Click(testid("alert-sound")),
		chromedp.Click(testid("alert-desktop")),
	)
	page.waitJS("prefs stored", `(() => { const p = JSON.parse(localStorage.getItem("convot.inbox.alerts.`+itoa(w.org.ID)+`") || "{}"); return p.sound === true && p.desktop === true && p.title === true && window.__asked === 1; })()`)
	page.run("hide the tab", chromedp.Evaluate[chromedp.Void](`Object.defineProperty(document, "visibilityState", {configurable: true, get: () => "hidden"}); document.dispatchEvent(new Event("visibilitychange"))`))
	base := page.eval("title", `document.title`)
	w.contactSays(t, ada, conv, "Are you there?")
	page.waitJS("alerted", `document.title === "(1) " + `+jsString(base)+` && window.__notes.length === 1 && window.__notes[0].title.includes("Ada Lovelace") && window.__tones >= 2`)
	w.contactSays(t, ada, conv, "Hello?")
	page.waitJS("count grows", `document.title.startsWith("(2) ") && window.__notes.length === 2`)
	page.run("show the tab", chromedp.Evaluate[chromedp.Void](`Object.defineProperty(document, "visibilityState", {configurable: true, get: () => "visible"}); document.dispatchEvent(new Event("visibilitychange"))`))
	page.waitJS("title restored", `document.title === `+jsString(base))
	// A visible tab is not alerted.
	w.contactSays(t, ada, conv, "Still here")
	page.waitJS("listed", `[...document.querySelectorAll('[data-testid="conversation-item-preview"]')].some(p => p.textContent === "Still here")`)
	if got := page.eval("no alert", `String(window.__notes.length) + document.title`); got != "2"+base {
		t.Fatalf("alerted while visible: %s", got)
	}
	// The preferences survive a reload.
	page.run("reload", chromedp.Reload(), chromedp.WaitReady(testid("alert-sound")))
	if got := page.eval("prefs painted", `String(document.querySelector('[data-testid="alert-sound"]').checked)`); got != "true" {
		t.Fatal("the sound preference was not restored")
	}

	// An image from the visitor shows as a thumbnail.
	png, _ := hex.DecodeString("89504e470d0a1a0a0000000d4948445200000001000000010806000000" +
		"1f15c4890000000d4944415478da63f8cfc0f01f0005000201e221bc330000000049454e44ae426082")
	att, err := ts.srv.Conversations.StoreAttachment(context.Background(), w.org, reloadConversation(t, ts, conv), "photo.png", png)
	if err != nil {
		t.Fatal(err)
	}
	w.ts.advance(1)
	if _, _, err := ts.srv.Conversations.Post(context.Background(), w.org, reloadConversation(t, ts, conv), conversation.Author{Kind: workflows.AuthorContact, ID: ada.ID}, "", false, []uint64{att.ID}); err != nil {
		t.Fatal(err)
	}
	page.run("open", chromedp.Navigate(ts.URL+"/inbox/conversations/"+itoa(conv.ID)+"?status=open&assignment=all"))
	page.waitJS("thumbnail", `(() => { const i = document.querySelector('[data-testid="attachment-thumb"]'); return !!i && i.complete && i.naturalWidth === 1; })()`)
	page.waitJS("live", `document.getElementById("inbox").dataset.live === "live"`)

	// Shortcuts: n note, r reply, e resolve, j / k next and previous.
	press := func(key string) {
		page.run("press "+key, chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur()`), chromedp.KeyEvent(key))
	}
	press("n")
	page.waitJS("note mode", `document.querySelector('[data-testid="composer-note-toggle"]').checked && document.activeElement === document.querySelector('[data-testid="composer-textarea"]') && document.activeElement.value === ""`)
	press("r")
	page.waitJS("reply mode", `!document.querySelector('[data-testid="composer-note-toggle"]').checked`)
	press("e")
	page.waitJS("resolved", `document.querySelector('[data-testid="conversation-status"]').textContent === "resolved"`)
	order := page.eval("order", `[...document.querySelectorAll('[data-testid="conversation-item"]')].map(i => i.dataset.conversationId).join()`)
	ids := strings.Split(order, ",")
	if len(ids) == 0 || ids[0] == itoa(conv.ID) {
		t.Fatalf("list after resolving: %q", order)
	}
	press("j")
	page.waitAcrossNavigation("next", `location.pathname === "/inbox/conversations/`+ids[0]+`"`)
	if ids[0] != itoa(second.ID) {
		t.Fatalf("list order %q, want %d first", order, second.ID)
	}
}

// ConvotWidget.identify on the visitor's page updates the sidebar of an
// operator who has the conversation open, without a reload.
func TestIdentifyUpdatesSidebarInBrowser(t *testing.T) {
	w := newWidgetWorld(t)
	host := hostPage(t, w.ts.URL, w.org.PublicKey)
	w.ts.db.Model(&models.Organization{}).Where("id = ?", w.org.ID).Update("allowed_origins", host.URL)
	w.ts.srv.widget.ForgetOrganization(w.org.PublicKey)
	browser := chromium(t)
	visitor := pageDriver{t, newBrowserContext(t, browser)}
	visitor.run("load the page", chromedp.Navigate(host.URL+"/"))
	visitor.waitJS("session", `window.ConvotWidget && ConvotWidget.state().started`)
	visitor.eval("send", `ConvotWidget.send("Hello").then(m => String(m.id))`)
	var convID uint64
	w.ts.db.Model(&models.Conversation{}).Where("organization_id = ?", w.org.ID).Select("id").Scan(&convID)

	operator := pageDriver{t, newBrowserContext(t, browser)}
	operator.run("sign in",
		chromedp.Navigate(w.ts.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS(`input[name="email"]`), "olivia@acme.test"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "correct horse battery"),
		chromedp.Submit(chromedp.CSS(`input[name="password"]`)),
		chromedp.WaitVisible(testid("nav-inbox")),
		chromedp.Navigate(w.ts.URL+"/inbox/conversations/"+itoa(convID)),
	)
	operator.waitJS("live", `document.getElementById("inbox").dataset.live === "live"`)
	if got := operator.eval("before", `document.querySelector('[data-testid="contact-field-email"]').textContent`); got != "—" {
		t.Fatalf("email before identify: %q", got)
	}
	visitor.eval("identify", `ConvotWidget.identify({name: "Ada Lovelace", email: "ada@example.test", custom_attributes: {plan: "pro"}}).then(() => "ok")`)
	operator.waitJS("sidebar updated", `document.querySelector('[data-testid="contact-field-email"]').textContent === "ada@example.test" &&
		document.querySelector('[data-testid="contact-name"]').textContent === "Ada Lovelace" &&
		document.querySelector('[data-testid="contact-custom"]')?.textContent.includes("pro") &&
		document.querySelector('[data-testid="conversation-title"]').textContent === "Ada Lovelace"`)
}

// An operator coming online clears the widget's "We're away" at once: the
// live presence event, not the status check (which the page here keeps
// answering "away" to prove it).
func TestWidgetOperatorComesOnlineInBrowser(t *testing.T) {
	w := newWidgetWorld(t)
	host := hostPage(t, w.ts.URL, w.org.PublicKey)
	w.ts.db.Model(&models.Organization{}).Where("id = ?", w.org.ID).Update("allowed_origins", host.URL)
	w.ts.srv.widget.ForgetOrganization(w.org.PublicKey)
	browser := chromium(t)
	visitor := pageDriver{t, newBrowserContext(t, browser)}
	visitor.run("load the page", chromedp.Navigate(host.URL+"/"))
	visitor.waitJS("session", `window.ConvotWidget && ConvotWidget.state().started`)
	visitor.run("status stays away", chromedp.Evaluate[chromedp.Void](`(() => { const real = window.fetch;
		window.fetch = (url, init) => String(url).endsWith("/status") ? Promise.resolve(new Response('{"operators_online":false}', {status: 200, headers: {"Content-Type": "application/json"}})) : real(url, init); })()`))
	visitor.run("open", chromedp.Click(chromedp.JSPath(inShadow("convot-launcher"))))
	visitor.eval("send", `ConvotWidget.send("Anyone there?").then(m => String(m.id))`)
	visitor.waitJS("live and away", `ConvotWidget.state().connected && `+inShadow("convot-status")+`.textContent === "We're away"`)

	operator := pageDriver{t, newBrowserContext(t, browser)}
	operator.run("sign in and open the inbox",
		chromedp.Navigate(w.ts.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS(`input[name="email"]`), "olivia@acme.test"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "correct horse battery"),
		chromedp.Submit(chromedp.CSS(`input[name="password"]`)),
		chromedp.WaitVisible(testid("nav-inbox")),
		chromedp.Navigate(w.ts.URL+"/inbox"),
	)
	operator.waitJS("operator live", `document.getElementById("inbox").dataset.live === "live"`)
	visitor.waitJS("online at once", inShadow("convot-status")+`.textContent === "We're online" && `+inShadow("convot-offline")+`.hidden`)
}
