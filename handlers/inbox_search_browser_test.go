package handlers

import (
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/convot/convot/models"
)

// An operator types words in the inbox's search box and sees the
// conversation that holds them, with its decrypted snippet and the word
// marked, then opens it.
func TestInboxSearchInBrowser(t *testing.T) {
	ts, w := acmeInbox(t)
	_, conv := w.conversation(t, models.Contact{Name: "Ada Lovelace", Email: "ada@example.test"}, "My parcel to Zürich never arrived, tracking 99812")
	w.conversation(t, models.Contact{Name: "Grace Hopper"}, "Where is my invoice?")

	page := pageDriver{t, newBrowserContext(t, chromium(t))}
	run, waitJS, eval := page.run, page.waitJS, page.eval
	sel := func(id string) chromedp.CSS { return chromedp.CSS(`[data-testid="` + id + `"]`) }
	run("sign in",
		chromedp.Navigate(ts.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS(`input[name="email"]`), "olivia@acme.test"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "correct horse battery"),
		chromedp.Submit(chromedp.CSS(`input[name="password"]`)),
		chromedp.WaitVisible(sel("nav-inbox")),
	)
	run("search from the inbox",
		chromedp.Navigate(ts.URL+"/inbox"),
		chromedp.SendKeys(sel("inbox-search-input"), "zurich parcel"),
		chromedp.Click(sel("inbox-search-submit")),
		chromedp.WaitVisible(sel("search-conversation")),
	)
	waitJS("one conversation found", `document.querySelectorAll('[data-testid="search-conversation"]').length === 1 && document.querySelector('[data-testid="search-conversation"]').dataset.conversationId === "`+itoa(conv.ID)+`"`)
	if got := eval("snippet", `document.querySelector('[data-testid="search-snippet"]').textContent`); got != "My parcel to Zürich never arrived, tracking 99812" {
		t.Fatalf("snippet: %q", got)
	}
	if got := eval("marked", `document.querySelector('[data-testid="search-snippet"] mark').textContent`); got != "parcel" {
		t.Fatalf("marked word: %q", got)
	}
	if got := eval("contact", `document.querySelector('[data-testid="search-conversation-contact"]').textContent`); got != "Ada Lovelace" {
		t.Fatalf("contact: %q", got)
	}
	run("open it",
		chromedp.Click(sel("search-conversation")+` a`),
		chromedp.WaitVisible(sel("composer-textarea")),
	)
	waitJS("the conversation is open", `document.getElementById("inbox").dataset.conversation === "`+itoa(conv.ID)+`"`)
}
