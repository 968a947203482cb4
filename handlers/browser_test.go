package handlers

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/convot/convot/internal/testenv"
	"github.com/convot/convot/models"
)

// Browser tests drive Debian's Chromium (headless) against a server
// started in the test: a customer's page embedding the widget on one
// origin, the dashboard on another.

// chromium starts a browser for the test; each context made from the
// returned one with newBrowserContext is a separate profile (cookies,
// local storage).
func chromium(t *testing.T) context.Context {
	t.Helper()
	path := testenv.Chromium(t)
	opts := []chromedp.ExecAllocatorOption{chromedp.ExecPath(path), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900)}
	for _, f := range testenv.ChromiumFlags {
		opts = append(opts, chromedp.Flag(strings.TrimPrefix(f, "--"), true))
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(browser); err != nil { // starts Chromium
		t.Fatalf("start chromium: %v", err)
	}
	return browser
}

// newBrowserContext opens a fresh browser context (like a second person's
// browser) with a deadline.
func newBrowserContext(t *testing.T, browser context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancelTimeout)
	return ctx
}

// pageDriver runs a test's steps in one browser context; a failing step
// fails the test with its name.
type pageDriver struct {
	t   *testing.T
	ctx context.Context
}

func (d pageDriver) run(step string, actions ...chromedp.Action[chromedp.Void]) {
	d.t.Helper()
	if err := chromedp.Do(d.ctx, actions...); err != nil {
		d.t.Fatalf("%s: %v", step, err)
	}
}

// waitJS polls a JS condition for up to 10 seconds.
func (d pageDriver) waitJS(step, expr string) {
	d.t.Helper()
	if _, err := chromedp.Run(d.ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		d.t.Fatalf("%s: %v", step, err)
	}
}

// eval evaluates a JS expression to a string, awaiting a Promise.
func (d pageDriver) eval(step, expr string) string {
	d.t.Helper()
	v, err := chromedp.Run(d.ctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		d.t.Fatalf("%s: %v", step, err)
	}
	return v
}

// hostPage serves a customer's page that embeds the widget, with styles
// that would restyle the widget if it were not isolated.
func hostPage(t *testing.T, convot, orgKey string) *httptest.Server {
	t.Helper()
	page := fmt.Sprintf(`<!doctype html><html><head><meta charset="utf-8"><title>Shop</title>
<style>button, input, textarea, p, div { color: rgb(255, 0, 0) !important; font-size: 40px !important; }</style></head>
<body><h1>Welcome to the shop</h1>
<script src="%s/widget.js" data-org="%s" async></script></body></html>`, convot, orgKey)
	host := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = fmt.Fprint(w, page) // a failed write shows in the browser
	}))
	t.Cleanup(host.Close)
	return host
}

// inShadow is a JS expression for an element in the widget's shadow root.
func inShadow(testid string) string {
	return fmt.Sprintf(`window.ConvotWidget.root.querySelector('[data-testid=%q]')`, testid)
}

// waitJS polls a JS condition until it holds.
func waitJS(cond string) chromedp.Action[chromedp.Void] {
	return step(chromedp.Poll[bool](cond, chromedp.WithPollingInterval(50*time.Millisecond)))
}

// step drops an action's value, to run it among others.
func step[T any](a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := a(ctx, t)
		return chromedp.Void{}, err
	}
}

// evalAwait evaluates an expression, waiting for the Promise it returns.
func evalAwait[T any](ctx context.Context, expr string) (T, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

func TestWidgetToInboxInTheBrowser(t *testing.T) {
	browser := chromium(t)
	ts := newTestServer(t)
	w := newInboxWorld(t, ts, "olivia@browser.test", "Browser Shop")
	host := hostPage(t, ts.URL, w.org.PublicKey)
	if err := ts.db.Model(&models.Organization{}).Where("id = ?", w.org.ID).Update("allowed_origins", host.URL).Error; err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "receipt.png")
	png, _ := hex.DecodeString("89504e470d0a1a0a0000000d4948445200000001000000010806000000" +
		"1f15c4890000000d4944415478da63f8cfc0f01f0005000201e221bc330000000049454e44ae426082")
	if err := os.WriteFile(file, png, 0o600); err != nil {
		t.Fatal(err)
	}

	// The operator signs in in one browser context and opens the inbox.
	operator := newBrowserContext(t, browser)
	err := chromedp.Do(operator,
		chromedp.Navigate(ts.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "olivia@browser.test"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), "correct horse battery"),
		chromedp.Submit(chromedp.CSS(`input[name=password]`)),
		// A link only the signed-in header has: a dev login page has a
		// header nav too, and navigating away mid-submit loses the page.
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=nav-inbox]`)),
		chromedp.Navigate(ts.URL+"/inbox"),
		waitJS(`document.querySelector('[data-testid=inbox]').getAttribute('data-live') === 'live'`),
	)
	if err != nil {
		t.Fatalf("operator: %v", err)
	}

	// The visitor, in another context, opens the customer's page, sends a
	// message and a file through the widget's own controls.
	visitor := newBrowserContext(t, browser)
	var fontSize string
	err = chromedp.Do(visitor,
		chromedp.Navigate(host.URL),
		waitJS(`!!(window.ConvotWidget && window.ConvotWidget.root && window.ConvotWidget.root.querySelector('[data-testid=convot-launcher]'))`),
		step(chromedp.Evaluate[bool](`window.ConvotWidget.ready.then(() => true)`, chromedp.EvalAwaitPromise)),
		chromedp.Click(chromedp.JSPath(inShadow("convot-launcher"))),
		waitJS(`window.ConvotWidget.isOpen()`),
		chromedp.SendKeys(chromedp.JSPath(inShadow("convot-input")), "Where is my order?"),
		chromedp.Click(chromedp.JSPath(inShadow("convot-send"))),
		waitJS(`[...window.ConvotWidget.root.querySelectorAll('[data-testid=convot-message-body]')].some(e => e.textContent === 'Where is my order?')`),
		waitJS(`window.ConvotWidget.state().conversationId > 0`),
		chromedp.SetUploadFiles(chromedp.JSPath(inShadow("convot-file")), []string{file}),
		waitJS(`!!window.ConvotWidget.root.querySelector('[data-testid=convot-attachment-image], [data-testid=convot-attachment]')`),
	)
	if err != nil {
		t.Fatalf("visitor: %v", err)
	}
	fontSize, err = chromedp.Run(visitor, chromedp.Evaluate[string](`getComputedStyle(`+inShadow("convot-send")+`).fontSize`))
	if err != nil {
		t.Fatal(err)
	}
	if fontSize == "40px" {
		t.Error("the host page's styles reached the widget: it is not isolated")
	}

	// The operator sees the new conversation live, opens it, sees the
	// message and the file, and replies.
	err = chromedp.Do(operator, waitJS(`[...document.querySelectorAll('[data-testid=conversation-item]')].length === 1`))
	if err != nil {
		t.Fatalf("operator: the conversation did not appear live: %v", err)
	}
	// Opening it is a page load; wait for the new page's socket.
	href, err := chromedp.Run(operator, chromedp.Evaluate[string](`document.querySelector('[data-testid=conversation-item] a').href`))
	if err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(operator,
		chromedp.Navigate(href),
		waitJS(`document.querySelector('[data-testid=inbox]').getAttribute('data-live') === 'live'`),
		waitJS(`[...document.querySelectorAll('[data-testid=message-body]')].some(e => e.textContent === 'Where is my order?')`),
		waitJS(`!!document.querySelector('[data-testid=attachment-link]')`),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=composer-textarea]`), "It ships today."),
		chromedp.Click(chromedp.CSS(`[data-testid=composer-send]`)),
		waitJS(`[...document.querySelectorAll('[data-testid=message-body]')].some(e => e.textContent === 'It ships today.')`),
	)
	if err != nil {
		t.Fatalf("operator reply: %v", err)
	}
	attachmentStatus, err := evalAwait[int](operator, `fetch(document.querySelector('[data-testid=attachment-link]').href).then(r => r.status)`)
	if err != nil || attachmentStatus != http.StatusOK {
		t.Fatalf("operator opening the attachment: %d %v", attachmentStatus, err)
	}

	// The visitor sees the reply live, and still has the conversation
	// after a reload.
	err = chromedp.Do(visitor,
		waitJS(`[...window.ConvotWidget.root.querySelectorAll('[data-testid=convot-message-body]')].some(e => e.textContent === 'It ships today.')`),
		chromedp.Reload(),
		waitJS(`!!(window.ConvotWidget && window.ConvotWidget.root)`),
		step(chromedp.Evaluate[bool](`window.ConvotWidget.ready.then(() => true)`, chromedp.EvalAwaitPromise)),
		step(chromedp.Evaluate[bool](`window.ConvotWidget.open(), true`)),
		waitJS(`[...window.ConvotWidget.root.querySelectorAll('[data-testid=convot-message-body]')].map(e => e.textContent).join('|').includes('Where is my order?|It ships today.')`),
	)
	if err != nil {
		t.Fatalf("visitor after reload: %v", err)
	}
	var contacts int64
	ts.db.Model(&models.Contact{}).Where("organization_id = ?", w.org.ID).Count(&contacts)
	if contacts != 1 {
		t.Errorf("%d contacts after a reload, want the same one", contacts)
	}

	// Identity verification: with it on, a wrong hash is refused and
	// changes nothing.
	if err := ts.db.Model(&models.Organization{}).Where("id = ?", w.org.ID).
		Updates(map[string]any{"identity_verification": true}).Error; err != nil {
		t.Fatal(err)
	}
	ts.srv.widget.ForgetOrganization(w.org.PublicKey) // as the settings page does
	refused, err := evalAwait[string](visitor, `window.ConvotWidget.identify({email: "mallory@example.com", user_hash: "00"}).then(() => "accepted", e => String(e && (e.status || e.message || e)))`)
	if err != nil {
		t.Fatal(err)
	}
	if refused == "accepted" {
		t.Fatal("identify with a wrong user_hash was accepted")
	}
	var ct models.Contact
	if err := ts.db.Where("organization_id = ?", w.org.ID).First(&ct).Error; err != nil {
		t.Fatal(err)
	}
	if ct.Email != "" {
		t.Errorf("a refused identify changed the contact's email to %q", ct.Email)
	}
}
