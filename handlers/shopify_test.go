package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/convot/convot/internal/shopifytest"
	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/shopify"
	"github.com/convot/convot/subprocessors"
)

// shopifyServer is a test server with the Shopify app pointed at a fake
// Shopify.
func shopifyServer(t *testing.T, configure ...func(*Server)) (*testServer, *shopifytest.Shop) {
	t.Helper()
	fake := shopifytest.New(t, "app-key", "app-secret")
	fake.Customers = []shopifytest.Customer{{ID: 207119551, FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.test",
		Orders: []shopifytest.Order{{Name: "#1001", CreatedAt: time.Now().Add(-24 * time.Hour), Total: "59.90", Currency: "EUR", FulfillmentStatus: "FULFILLED", Items: []string{"Blue mug"}}}}}
	gate, err := policies.NewGate(context.Background(), policies.NewMemoryLog())
	if err != nil {
		t.Fatal(err)
	}
	client, err := subprocessors.NewShopify(gate, subprocessors.ShopifyConfig{BaseURL: fake.URL()})
	if err != nil {
		t.Fatal(err)
	}
	ts := newConfiguredTestServer(t, func(s *Server) {
		s.Shopify = shopify.NewApp(s.Store, client, "app-key", "app-secret", "")
		for _, f := range configure {
			f(s)
		}
	})
	ts.srv.Shopify.CallbackURL = ts.URL + "/settings/shopify/callback"
	return ts, fake
}

// connectShop has the owner choose the scopes and approve them at the
// fake Shopify, and follows Shopify's redirect back.
func connectShop(t *testing.T, b *browser, orders bool) response {
	t.Helper()
	b.get("/settings/shopify")
	form := url.Values{"shop": {"acme.myshopify.com"}}
	if orders {
		form.Set("orders", "on")
	}
	r := b.post("/settings/shopify/connect", form)
	if r.status != http.StatusSeeOther || !strings.Contains(r.location, "/admin/oauth/authorize?") {
		t.Fatalf("connect: %d %s", r.status, r.location)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(r.location)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || back.Path != "/settings/shopify/callback" {
		t.Fatalf("the fake sent the owner to %q", resp.Header.Get("Location"))
	}
	return b.get(back.RequestURI())
}

func TestShopifyConnectAndSidebar(t *testing.T) {
	ts, fake := shopifyServer(t)
	a := newInboxWorld(t, ts, "olivia@acme.test", "Acme")
	ct, _ := a.conversation(t, models.Contact{Name: "Ada", Email: "ada@example.test"}, "Where is my mug?")

	if r := connectShop(t, a.owner, true); r.status != http.StatusSeeOther {
		t.Fatalf("callback: %d %s", r.status, r.body)
	}
	page := a.owner.get("/settings/shopify")
	if !strings.Contains(page.body, "acme.myshopify.com") || !strings.Contains(page.body, "read_orders") {
		t.Fatalf("settings page: %s", page.body)
	}
	r := a.owner.fetch(http.MethodGet, "/inbox/contacts/"+itoa(ct.ID)+"/shopify", "", nil)
	if r.status != http.StatusOK || !strings.Contains(r.body, "#1001") || !strings.Contains(r.body, "Blue mug") {
		t.Fatalf("sidebar: %d %s", r.status, r.body)
	}

	// Another organization's owner: 404 for Acme's contact, nothing asked.
	before := len(fake.Queries())
	b := newInboxWorld(t, ts, "boris@other.test", "Other")
	if r := b.owner.fetch(http.MethodGet, "/inbox/contacts/"+itoa(ct.ID)+"/shopify", "", nil); r.status != http.StatusNotFound {
		t.Fatalf("foreign contact: %d", r.status)
	}
	if len(fake.Queries()) != before {
		t.Fatal("the fake Shopify was asked about another organization's contact")
	}

	// Disconnecting destroys the token.
	a.owner.get("/settings/shopify")
	if r := a.owner.post("/settings/shopify/disconnect", nil); r.status != http.StatusSeeOther {
		t.Fatalf("disconnect: %d", r.status)
	}
	var in models.ShopifyInstall
	if err := ts.db.Where("organization_id = ?", a.org.ID).First(&in).Error; err != nil || in.AccessToken != "" {
		t.Fatalf("after disconnect: %+v %v", in, err)
	}
}

func TestShopifyWebhookHTTP(t *testing.T) {
	ts, fake := shopifyServer(t)
	a := newInboxWorld(t, ts, "olivia@acme.test", "Acme")
	connectShop(t, a.owner, false)
	body := []byte(`{"shop_id":954889,"shop_domain":"acme.myshopify.com"}`)
	send := func(req *http.Request) int {
		t.Helper()
		out, err := http.NewRequest(req.Method, ts.URL+"/webhooks/shopify", req.Body)
		if err != nil {
			t.Fatal(err)
		}
		out.Header = req.Header
		resp, err := http.DefaultClient.Do(out)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	unsigned := fake.Webhook("/webhooks/shopify", shopify.TopicUninstalled, "acme.myshopify.com", "w-1", body)
	unsigned.Header.Del("X-Shopify-Hmac-SHA256")
	if s := send(unsigned); s != http.StatusUnauthorized {
		t.Fatalf("unsigned: %d", s)
	}
	// Without Temporal to carry it out the delivery is refused with 503,
	// nothing changed and nothing kept, so that Shopify's retry is taken
	// (TestShopifyPrivacyWebhooksOnTemporal delivers it with Temporal).
	if s := send(fake.Webhook("/webhooks/shopify", shopify.TopicUninstalled, "acme.myshopify.com", "w-1", body)); s != http.StatusServiceUnavailable {
		t.Fatalf("app/uninstalled without Temporal: %d", s)
	}
	var in models.ShopifyInstall
	if err := ts.db.Where("organization_id = ?", a.org.ID).First(&in).Error; err != nil || in.AccessToken == "" {
		t.Fatalf("after a refused app/uninstalled: %+v %v", in, err)
	}
	var kept int64
	if err := ts.db.Model(&models.ShopifyWebhook{}).Where("webhook_id = ?", "w-1").Count(&kept).Error; err != nil || kept != 0 {
		t.Fatalf("a refused delivery was kept: %d %v", kept, err)
	}
}
