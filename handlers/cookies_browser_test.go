package handlers

import (
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/models"
)

// Policy §5 in a real browser: signed out and signed in, on the public
// pages, the dashboard (inbox, a conversation, contacts, settings, the
// audit log, a form that shows a notice) and the widget on a customer's
// page, Convot sets exactly the two cookies it discloses, both essential:
// the session cookie (HttpOnly, SameSite=Lax) and the CSRF cookie
// (HttpOnly, SameSite=Strict), Secure whenever the server runs under TLS;
// the widget sets none; and no request of any page goes to an origin other
// than Convot's own and the customer's page: no ad network, no pixel, no
// third-party script, font or beacon.
func TestOnlyDisclosedCookiesAndNoThirdPartyRequestsInTheBrowser(t *testing.T) {
	browser := chromium(t)
	ts := newTestServer(t)
	w := newInboxWorld(t, ts, "olivia@cookies.test", "Cookie Shop")
	_, conv := w.conversation(t, models.Contact{Name: "Ada"}, "Hello")
	host := hostPage(t, ts.URL, w.org.PublicKey)
	if err := ts.db.Model(&models.Organization{}).Where("id = ?", w.org.ID).Update("allowed_origins", host.URL).Error; err != nil {
		t.Fatal(err)
	}
	own := map[string]bool{origin(t, ts.URL): true, origin(t, host.URL): true}

	var mu sync.Mutex
	var requests []string
	watch := func(d pageDriver) {
		t.Helper()
		if err := chromedp.Listen(d.ctx, func(ev any) {
			if e, ok := ev.(*network.EventRequestWillBeSent); ok && e.Request != nil {
				mu.Lock()
				requests = append(requests, e.Request.URL)
				mu.Unlock()
			}
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := chromedp.Call(d.ctx, network.Enable, network.EnableParams{}); err != nil {
			t.Fatal(err)
		}
	}
	// cookies gathers every cookie the browser holds for Convot and the
	// customer's page, by name, after each step.
	seen := map[string]*network.Cookie{}
	cookies := func(d pageDriver, step string) {
		t.Helper()
		res, err := chromedp.Call(d.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{ts.URL, host.URL}})
		if err != nil {
			t.Fatalf("%s: cookies: %v", step, err)
		}
		for _, c := range res.Cookies {
			seen[c.Name] = c
		}
	}

	operator := pageDriver{t, newBrowserContext(t, browser)}
	watch(operator)
	for _, p := range []string{"/privacy", "/data-deletion", "/login", "/signup", "/password/forgot"} {
		operator.run("public page "+p, chromedp.Navigate(ts.URL+p))
		cookies(operator, p)
	}
	operator.run("sign in",
		chromedp.Navigate(ts.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "olivia@cookies.test"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), "correct horse battery"),
		chromedp.Submit(chromedp.CSS(`input[name=password]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=nav-inbox]`)),
	)
	cookies(operator, "signed in")
	for _, p := range []string{"/inbox", convPath(conv, ""), "/inbox/contacts", "/settings/profile", "/settings/team", "/audit-log", "/audit-log?log=access", "/auditor/promises"} {
		operator.run("dashboard "+p, chromedp.Navigate(ts.URL+p), chromedp.WaitReady(chromedp.CSS(`body`)))
		cookies(operator, p)
	}
	// A form whose answer shows a notice on the next page.
	operator.run("save the profile",
		chromedp.Navigate(ts.URL+"/settings/profile"),
		chromedp.Submit(chromedp.CSS(`input[name=full_name]`)),
		chromedp.WaitVisible(chromedp.CSS(`p.flash`)),
	)
	if got := operator.eval("the notice", `document.querySelector('p.flash').textContent`); got != "Saved." {
		t.Errorf("notice %q, want Saved.", got)
	}
	cookies(operator, "notice")
	// The translation language is a local-storage preference entry.
	operator.run("choose a translation language", chromedp.Navigate(ts.URL+convPath(conv, "")), chromedp.WaitVisible(chromedp.CSS(`[data-testid=ai-language]`)),
		step(chromedp.Evaluate[bool](`(() => { const s = document.querySelector('[data-testid=ai-language]'); s.value = 'de'; s.dispatchEvent(new Event('change')); return true; })()`)))
	if got := operator.eval("stored language", `localStorage.getItem("convot.inbox.language.`+itoa(w.org.ID)+`") || ""`); got != "de" {
		t.Errorf("dashboard language preference %q, want de in local storage", got)
	}
	operator.run("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`[data-testid=ai-language]`)))
	if got := operator.eval("language after reload", `document.querySelector('[data-testid=ai-language]').value`); got != "de" {
		t.Errorf("the dashboard forgot the language: %q", got)
	}
	if loc := operator.eval("address after the notice", `location.search`); strings.Contains(loc, "notice") {
		t.Errorf("the notice stays in the address: %q", loc)
	}

	visitor := pageDriver{t, newBrowserContext(t, browser)}
	watch(visitor)
	visitor.run("widget on the customer's page",
		chromedp.Navigate(host.URL),
		waitJS(`!!(window.ConvotWidget && window.ConvotWidget.root && window.ConvotWidget.root.querySelector('[data-testid=convot-launcher]'))`),
		step(chromedp.Evaluate[bool](`window.ConvotWidget.ready.then(() => true)`, chromedp.EvalAwaitPromise)),
		chromedp.Click(chromedp.JSPath(inShadow("convot-launcher"))),
		waitJS(`window.ConvotWidget.isOpen()`),
		chromedp.SendKeys(chromedp.JSPath(inShadow("convot-input")), "Any cookies?"),
		chromedp.Click(chromedp.JSPath(inShadow("convot-send"))),
		waitJS(`window.ConvotWidget.state().conversationId > 0`),
	)
	visitor.run("choose a language in the widget",
		step(chromedp.Evaluate[bool](`(() => { const s = `+inShadow("convot-language")+`; s.value = 'de'; s.dispatchEvent(new Event('change')); return true; })()`)))
	if got := visitor.eval("widget language", `localStorage.getItem("convot.language.`+w.org.PublicKey+`") || ""`); got != "de" {
		t.Errorf("widget language preference %q, want de in local storage", got)
	}
	// Local storage holds only the entries policy §5 names.
	keys := visitor.eval("storage keys", `Object.keys(localStorage).sort().join(",")`)
	if keys != "convot.language."+w.org.PublicKey+",convot.visitor."+w.org.PublicKey {
		t.Errorf("the widget's local storage: %q", keys)
	}
	res, err := chromedp.Call(visitor.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{ts.URL, host.URL}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Cookies) != 0 {
		t.Errorf("the widget set cookies: %+v", res.Cookies)
	}
	if doc := visitor.eval("host page cookies", `document.cookie`); doc != "" {
		t.Errorf("the customer's page holds cookies after the widget ran: %q", doc)
	}

	// Exactly the disclosed cookies, with their flags.
	var names []string
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	if strings.Join(names, ",") != site.CSRFCookie+","+site.SessionCookie {
		t.Fatalf("cookies set: %v, want exactly %s and %s (policy §5)", names, site.SessionCookie, site.CSRFCookie)
	}
	tls := ts.srv.Config.TLS()
	for name, sameSite := range map[string]network.CookieSameSite{site.SessionCookie: network.CookieSameSiteLax, site.CSRFCookie: network.CookieSameSiteStrict} {
		c := seen[name]
		if !c.HTTPOnly || c.SameSite != sameSite || c.Secure != tls || c.Path != "/" {
			t.Errorf("cookie %s: HttpOnly=%v SameSite=%q Secure=%v Path=%q; want HttpOnly, SameSite=%s, Secure=%v, Path=/", name, c.HTTPOnly, c.SameSite, c.Secure, c.Path, sameSite, tls)
		}
	}

	// No request left for a third party.
	mu.Lock()
	defer mu.Unlock()
	if len(requests) < 10 {
		t.Fatalf("only %d requests seen: the network was not watched", len(requests))
	}
	for _, r := range requests {
		if strings.HasPrefix(r, "data:") || strings.HasPrefix(r, "blob:") {
			continue
		}
		if !own[origin(t, r)] {
			t.Errorf("a request went to a third party: %s", r)
		}
	}
}

// origin is the scheme and host of an address, ws:// counted as http://.
func origin(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("address %q: %v", raw, err)
	}
	scheme := strings.Replace(strings.Replace(u.Scheme, "wss", "https", 1), "ws", "http", 1)
	return scheme + "://" + u.Host
}
