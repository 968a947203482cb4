package handlers

import (
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/convot/convot/models"
)

// In Chromium: the owner connects a (fake) shop from Settings → Shopify,
// granting orders; Shopify's consent screen sends the browser back, the
// settings page shows the shop and its scopes, and the inbox sidebar of a
// conversation with the shop's customer shows her orders.
func TestShopifyConnectInBrowser(t *testing.T) {
	ts, _ := shopifyServer(t)
	a := newInboxWorld(t, ts, "olivia@acme.test", "Acme")
	_, conv := a.conversation(t, models.Contact{Name: "Ada", Email: "ada@example.test"}, "Where is my mug?")

	page := pageDriver{t, newBrowserContext(t, chromium(t))}
	sel := func(id string) chromedp.CSS { return chromedp.CSS(`[data-testid="` + id + `"]`) }
	page.run("sign in",
		chromedp.Navigate(ts.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS(`input[name="email"]`), "olivia@acme.test"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "correct horse battery"),
		chromedp.Submit(chromedp.CSS(`input[name="password"]`)),
		chromedp.WaitVisible(sel("nav-inbox")),
	)
	page.run("connect the shop",
		chromedp.Navigate(ts.URL+"/settings/shopify"),
		chromedp.SendKeys(sel("shopify-shop-input"), "acme.myshopify.com"),
		chromedp.Click(sel("shopify-orders")),
		chromedp.Click(sel("shopify-connect")),
		chromedp.WaitVisible(sel("shopify-scopes")),
	)
	if s := page.eval("scopes", `document.querySelector('[data-testid="shopify-scopes"]').textContent`); s != "read_customers, read_orders" {
		t.Fatalf("scopes shown: %q", s)
	}
	page.run("open the conversation", chromedp.Navigate(ts.URL+"/inbox/conversations/"+itoa(conv.ID)+"?status=open&assignment=all"))
	page.waitJS("the customer's orders in the sidebar", `(() => {
		const box = document.querySelector('[data-testid="shopify-context"]');
		return box && !box.hidden && box.textContent.includes("#1001") && box.textContent.includes("Blue mug") && box.textContent.includes("Ada");
	})()`)
}
