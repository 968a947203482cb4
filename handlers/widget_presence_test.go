package handlers

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/convot/convot/models"
)

// In Chromium, on a site whose origin the team has not allowed: the
// widget shows why (the refusal carries CORS headers, so the browser lets
// the widget read it) instead of "Failed to fetch", and the composer is
// disabled. The attach button is an SVG paperclip, not an emoji.
func TestWidgetRefusedOriginInBrowser(t *testing.T) {
	w := newWidgetWorld(t)
	host := hostPage(t, w.ts.URL, w.org.PublicKey) // its origin is not in the allowed origins
	page := pageDriver{t, newBrowserContext(t, chromium(t))}
	page.run("load the page", chromedp.Navigate(host.URL+"/"))
	page.waitJS("widget", `!!(window.ConvotWidget && window.ConvotWidget.root)`)
	page.run("open", chromedp.Click(chromedp.JSPath(inShadow("convot-launcher"))))
	page.waitJS("refusal shown", `!`+inShadow("convot-refused")+`.hidden && `+inShadow("convot-refused")+`.getBoundingClientRect().height > 0`)
	msg := page.eval("refusal", inShadow("convot-refused")+`.textContent`)
	if !strings.Contains(msg, "not allowed") || !strings.Contains(msg, "allowed origins") || strings.Contains(msg, "Failed to fetch") {
		t.Fatalf("refusal shown: %q", msg)
	}
	if got := page.eval("composer", `String(`+inShadow("convot-input")+`.disabled && `+inShadow("convot-send")+`.disabled)`); got != "true" {
		t.Fatal("the composer stays usable on a refused site")
	}
	if got := page.eval("paperclip", `String(!!`+inShadow("convot-attach")+`.querySelector("svg path") && `+inShadow("convot-attach")+`.textContent.trim() === "")`); got != "true" {
		t.Fatal("the attach button is not an SVG icon")
	}
	var contacts int64
	w.ts.db.Model(&models.Contact{}).Where("organization_id = ?", w.org.ID).Count(&contacts)
	if contacts != 0 {
		t.Fatalf("a refused site created %d contacts", contacts)
	}
}

// In Chromium: while nobody is online the widget says "We're away"; an
// operator's reply clears it at once (the live message), without waiting
// for the next status check (which would still say away: no operator's
// inbox is open here).
func TestWidgetPresenceLiveInBrowser(t *testing.T) {
	w := newWidgetWorld(t)
	host := hostPage(t, w.ts.URL, w.org.PublicKey)
	w.ts.db.Model(&models.Organization{}).Where("id = ?", w.org.ID).Update("allowed_origins", host.URL)
	w.ts.srv.widget.ForgetOrganization(w.org.PublicKey)
	page := pageDriver{t, newBrowserContext(t, chromium(t))}
	page.run("load the page", chromedp.Navigate(host.URL+"/"))
	page.waitJS("session", `window.ConvotWidget && ConvotWidget.state().started`)
	page.run("open", chromedp.Click(chromedp.JSPath(inShadow("convot-launcher"))))
	page.waitJS("away", inShadow("convot-status")+`.textContent === "We're away" && !`+inShadow("convot-offline")+`.hidden`)
	page.eval("send", `ConvotWidget.send("Anyone there?").then(m => String(m.id))`)
	page.waitJS("live", `ConvotWidget.state().connected`)
	var convID uint64
	w.ts.db.Model(&models.Conversation{}).Where("organization_id = ?", w.org.ID).Select("id").Scan(&convID)
	w.operatorSays(t, convID, "Yes, I'm here.", false)
	page.waitJS("online at once", inShadow("convot-status")+`.textContent === "We're online" && `+inShadow("convot-offline")+`.hidden`)
}
