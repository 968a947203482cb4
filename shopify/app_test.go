package shopify

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/convot/convot/activities"
	"github.com/convot/convot/dsr"
	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/internal/shopifytest"
	"github.com/convot/convot/internal/testdb"
	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/store"
	"github.com/convot/convot/subprocessors"
	"github.com/convot/convot/workflows"
)

const testShop = "acme.myshopify.com"

type fixture struct {
	db   *testdb.DB
	st   *store.Store
	app  *App
	fake *shopifytest.Shop
	org  *models.Organization
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db := testdb.New(t)
	st := store.New(db.DB, db.Keys)
	gate, err := policies.NewGate(context.Background(), policies.NewMemoryLog())
	if err != nil {
		t.Fatal(err)
	}
	fake := shopifytest.New(t, "app-key", "app-secret")
	fake.Customers = []shopifytest.Customer{{ID: 207119551, FirstName: "Bob", LastName: "Norman", Email: "bob@example.com", Phone: "+16136120707",
		Orders: []shopifytest.Order{{Name: "#1001", CreatedAt: time.Now().Add(-48 * time.Hour), Total: "59.90", Currency: "EUR", FulfillmentStatus: "FULFILLED", Items: []string{"Blue mug"}}}}}
	client, err := subprocessors.NewShopify(gate, subprocessors.ShopifyConfig{BaseURL: fake.URL()})
	if err != nil {
		t.Fatal(err)
	}
	org := &models.Organization{PublicKey: crypto.RandomToken(12), CompanyName: "Acme", Region: "eu", Status: models.OrgActive}
	if err := db.Create(org).Error; err != nil {
		t.Fatal(err)
	}
	app := NewApp(st, client, "app-key", "app-secret", "https://convot.example/settings/shopify/callback")
	app.Workflows = &inPlace{acts: &activities.Activities{Store: st}}
	return &fixture{db: db, st: st, fake: fake, org: org, app: app}
}

// inPlace carries out a shop-level webhook at once, with the activity the
// ShopifyShopWebhook workflow runs (handlers' tests run it on Temporal).
type inPlace struct {
	acts    *activities.Activities
	started []workflows.ShopifyWebhookInput
}

func (p *inPlace) StartShopWebhook(ctx context.Context, in workflows.ShopifyWebhookInput) error {
	p.started = append(p.started, in)
	_, err := p.acts.ActOnShopifyWebhook(ctx, in)
	return err
}

// begin starts an install and returns the state Convot sent to Shopify.
func (f *fixture) begin(t *testing.T, session string, scopes []string) string {
	t.Helper()
	u, err := f.app.Begin(context.Background(), f.org.ID, 1, session, testShop, scopes)
	if err != nil {
		t.Fatal(err)
	}
	parsed, _ := url.Parse(u)
	q := parsed.Query()
	if !strings.HasPrefix(u, f.fake.URL()+"/admin/oauth/authorize?") || q.Get("client_id") != "app-key" ||
		q.Get("scope") != strings.Join(scopes, ",") || q.Get("redirect_uri") != f.app.CallbackURL || q.Get("state") == "" {
		t.Fatalf("authorize URL %s", u)
	}
	return q.Get("state")
}

func (f *fixture) install(t *testing.T, scopes ...string) *models.ShopifyInstall {
	t.Helper()
	state := f.begin(t, "session-1", scopes)
	in, err := f.app.Complete(context.Background(), f.org.GateContext(), "session-1", f.fake.CallbackQuery(testShop, state, f.fake.Code(strings.Join(scopes, ","))))
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func (f *fixture) installed(t *testing.T) *models.ShopifyInstall {
	t.Helper()
	in, err := f.st.ShopifyInstall(context.Background(), f.org.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// Forged, stale, foreign-shop, other-session and reused callbacks are
// refused and change nothing; the valid one stores the granted scopes and
// the token, sealed.
func TestOAuthCallbackChecks(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	state := f.begin(t, "session-1", ChosenScopes(true))
	code := f.fake.Code("read_customers,read_orders")
	good := f.fake.CallbackQuery(testShop, state, code)

	forged := url.Values{}
	for k, v := range good {
		forged[k] = v
	}
	forged.Set("code", "other-code")
	stale := f.fake.CallbackQuery(testShop, state, code)
	stale.Set("timestamp", "1337178173")
	stale.Set("hmac", shopifytest.SignQuery("app-secret", stale))
	unsigned := f.fake.CallbackQuery(testShop, state, code)
	unsigned.Del("hmac")
	bogusHost := f.fake.CallbackQuery("evil.example.com", state, code)
	otherShop := f.fake.CallbackQuery("other.myshopify.com", state, code)
	for name, c := range map[string]struct {
		session string
		q       url.Values
		want    error
	}{
		"forged":        {"session-1", forged, ErrBadSignature},
		"unsigned":      {"session-1", unsigned, ErrBadSignature},
		"stale":         {"session-1", stale, ErrStale},
		"foreign host":  {"session-1", bogusHost, ErrBadShop},
		"other shop":    {"session-1", otherShop, ErrBadState},
		"other session": {"session-2", good, ErrBadState},
	} {
		if _, err := f.app.Complete(ctx, f.org.GateContext(), c.session, c.q); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
		if f.installed(t) != nil {
			t.Fatalf("%s: an install was stored", name)
		}
	}
	in, err := f.app.Complete(ctx, f.org.GateContext(), "session-1", good)
	if err != nil {
		t.Fatal(err)
	}
	if in.Shop != testShop || in.Scopes != "read_customers,read_orders" || !strings.HasPrefix(in.AccessToken, "shpat_fake_") {
		t.Fatalf("install %+v", in)
	}
	var raw string
	if err := f.db.Raw("SELECT access_token FROM shopify_installs WHERE organization_id = ?", f.org.ID).Scan(&raw).Error; err != nil {
		t.Fatal(err)
	}
	if raw == "" || strings.Contains(raw, "shpat_") {
		t.Fatalf("the token is stored in clear: %q", raw)
	}
	if _, err := f.app.Complete(ctx, f.org.GateContext(), "session-1", good); !errors.Is(err, ErrBadState) {
		t.Fatalf("a reused state: %v", err)
	}
	scopes, _ := f.app.Scopes(ctx, f.org.ID)
	if strings.Join(scopes, ",") != "read_customers,read_orders" {
		t.Fatalf("scopes %v", scopes)
	}
}

// Two callbacks racing with one state: one wins, the other is refused.
func TestOAuthStateUsedOnce(t *testing.T) {
	f := newFixture(t)
	state := f.begin(t, "session-1", ChosenScopes(false))
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		q := f.fake.CallbackQuery(testShop, state, f.fake.Code("read_customers"))
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = f.app.Complete(context.Background(), f.org.GateContext(), "session-1", q)
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, ErrBadState):
			t.Errorf("unexpected %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d callbacks used the state", ok)
	}
}

func TestInstallRequestChecks(t *testing.T) {
	f := newFixture(t)
	q := f.fake.InstallQuery(testShop, time.Now())
	if shop, err := f.app.VerifyInstall(q); err != nil || shop != testShop {
		t.Fatalf("install: %q %v", shop, err)
	}
	q.Set("shop", "other.myshopify.com")
	if _, err := f.app.VerifyInstall(q); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("forged install: %v", err)
	}
	if _, err := f.app.VerifyInstall(f.fake.InstallQuery(testShop, time.Now().Add(-time.Hour))); !errors.Is(err, ErrStale) {
		t.Fatalf("stale install: %v", err)
	}
	if _, err := f.app.VerifyInstall(f.fake.InstallQuery("evil.example.com", time.Now())); !errors.Is(err, ErrBadShop) {
		t.Fatalf("foreign shop: %v", err)
	}
	if _, err := f.app.Begin(context.Background(), f.org.ID, 1, "s", "evil.example.com", ChosenScopes(true)); !errors.Is(err, ErrBadShop) {
		t.Fatalf("begin with a foreign shop: %v", err)
	}
}

// The sidebar's context: orders with read_orders; with read_customers only
// the fake Shopify never receives an orders query; cached in memory.
func TestContactContextWithinScopes(t *testing.T) {
	ctx := context.Background()
	visitor := policies.SubjectContext{Kind: "end_user"}
	contact := func(f *fixture) *models.Contact {
		c := &models.Contact{OrganizationID: f.org.ID, Name: "Bob", Email: "bob@example.com"}
		if err := f.db.Create(c).Error; err != nil {
			t.Fatal(err)
		}
		return c
	}
	t.Run("customers and orders", func(t *testing.T) {
		f := newFixture(t)
		f.install(t, ChosenScopes(true)...)
		c := contact(f)
		got, err := f.app.ContactContext(ctx, f.org, c, visitor)
		if err != nil || !got.Found || !got.OrdersGranted || len(got.Orders) != 1 || got.Orders[0].Name != "#1001" {
			t.Fatalf("context %+v %v", got, err)
		}
		if _, err := f.app.ContactContext(ctx, f.org, c, visitor); err != nil {
			t.Fatal(err)
		}
		if n := len(f.fake.Queries()); n != 2 {
			t.Fatalf("%d queries: the second look was not cached", n)
		}
	})
	t.Run("customers only", func(t *testing.T) {
		f := newFixture(t)
		f.install(t, ChosenScopes(false)...)
		got, err := f.app.ContactContext(ctx, f.org, contact(f), visitor)
		if err != nil || !got.Found || got.OrdersGranted || got.Orders != nil || got.Customer.FirstName != "Bob" {
			t.Fatalf("context %+v %v", got, err)
		}
		for _, q := range f.fake.Queries() {
			if q.Operation != "ConvotCustomer" || strings.Contains(q.Text, "orders") {
				t.Fatalf("the fake received %+v", q)
			}
		}
	})
	t.Run("another organization's contact", func(t *testing.T) {
		f := newFixture(t)
		f.install(t, ChosenScopes(true)...)
		c := contact(f)
		c.OrganizationID = f.org.ID + 1000
		if _, err := f.app.ContactContext(ctx, f.org, c, visitor); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("foreign contact: %v", err)
		}
		if n := len(f.fake.Queries()); n != 0 {
			t.Fatalf("%d queries", n)
		}
	})
}

func TestDisconnectDestroysToken(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	in := f.install(t, ChosenScopes(true)...)
	if done, err := f.app.Disconnect(ctx, f.org.ID); err != nil || !done {
		t.Fatalf("disconnect: %v %v", done, err)
	}
	after := f.installed(t)
	if after == nil || after.AccessToken != "" || after.DisconnectedAt == nil || InstallScopes(after) != nil {
		t.Fatalf("after disconnect %+v", after)
	}
	var live int64
	if err := f.db.Raw("SELECT COUNT(*) FROM data_keys WHERE id = ? AND wrapped IS NOT NULL", in.DataKeyID).Scan(&live).Error; err != nil {
		t.Fatal(err)
	}
	if live != 0 {
		t.Fatal("the token's data key is not destroyed")
	}
	got, err := f.app.ContactContext(ctx, f.org, &models.Contact{ID: 1, OrganizationID: f.org.ID, Email: "bob@example.com"}, policies.SubjectContext{Kind: "end_user"})
	if err != nil || got.Connected {
		t.Fatalf("context after disconnect %+v %v", got, err)
	}
}

// Webhooks: unsigned, forged, stale and replayed deliveries are refused
// and change nothing; app/uninstalled destroys the token; shop/redact
// leaves nothing of the shop.
func TestWebhookChecksAndShopTopics(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.install(t, ChosenScopes(true)...)
	body := []byte(`{"shop_id":954889,"shop_domain":"acme.myshopify.com"}`)
	wh := func(topic, id string) Webhook {
		r := f.fake.Webhook("/webhooks/shopify", topic, testShop, id, body)
		return Webhook{Topic: topic, Shop: testShop, ID: id, Signature: r.Header.Get("X-Shopify-Hmac-SHA256"),
			TriggeredAt: r.Header.Get("X-Shopify-Triggered-At"), Body: body}
	}
	unsigned := wh(TopicUninstalled, "w-1")
	unsigned.Signature = ""
	forged := wh(TopicUninstalled, "w-1")
	forged.Body = []byte(`{"shop_id":954889,"shop_domain":"acme.myshopify.com","x":1}`)
	stale := wh(TopicUninstalled, "w-1")
	stale.TriggeredAt = time.Now().Add(-72 * time.Hour).Format(time.RFC3339)
	otherShop := wh(TopicUninstalled, "w-1")
	otherShop.Shop = "other.myshopify.com"
	for name, c := range map[string]struct {
		w    Webhook
		want error
	}{
		"unsigned": {unsigned, ErrBadSignature}, "forged": {forged, ErrBadSignature},
		"stale": {stale, ErrStale}, "body of another shop": {otherShop, ErrBadShop},
	} {
		if _, err := f.app.ReceiveWebhook(ctx, nil, c.w); !errors.Is(err, c.want) {
			t.Errorf("%s: %v", name, err)
		}
		if in := f.installed(t); in == nil || in.AccessToken == "" || in.LastWebhookAt != nil {
			t.Fatalf("%s changed the install", name)
		}
	}
	// Without a way to start the workflow the delivery is refused (503)
	// and forgotten, so that Shopify's retry is taken.
	started := f.app.Workflows
	f.app.Workflows = nil
	if _, err := f.app.ReceiveWebhook(ctx, nil, wh(TopicUninstalled, "w-1")); !errors.Is(err, dsr.ErrUnavailable) {
		t.Fatalf("without workflows: %v", err)
	}
	if in := f.installed(t); in == nil || in.AccessToken == "" {
		t.Fatal("an unstarted uninstall changed the install")
	}
	f.app.Workflows = started
	got, err := f.app.ReceiveWebhook(ctx, nil, wh(TopicUninstalled, "w-1"))
	if err != nil {
		t.Fatal(err)
	}
	if p := started.(*inPlace); len(p.started) != 1 || p.started[0].Topic != TopicUninstalled || p.started[0].Shop != testShop ||
		got.Record.WorkflowID != workflows.ShopifyWebhookWorkflowID(got.Record.ID) {
		t.Fatalf("uninstall started %+v, record %+v", p.started, got.Record)
	}
	in := f.installed(t)
	if in == nil || in.AccessToken != "" || in.LastWebhookTopic != TopicUninstalled {
		t.Fatalf("after app/uninstalled %+v", in)
	}
	if _, err := f.app.ReceiveWebhook(ctx, nil, wh(TopicUninstalled, "w-1")); !errors.Is(err, ErrReplayed) {
		t.Fatalf("replay: %v", err)
	}
	if _, err := f.app.ReceiveWebhook(ctx, nil, wh(TopicShopRedact, "w-2")); err != nil {
		t.Fatal(err)
	}
	if f.installed(t) != nil {
		t.Fatal("shop/redact left the install")
	}
	var n int64
	for _, table := range []string{"shopify_installs", "shopify_oauth_states", "shopify_webhooks"} {
		if err := f.db.Raw("SELECT COUNT(*) FROM " + table).Scan(&n).Error; err != nil || n != 0 {
			t.Fatalf("%s: %d rows left (%v)", table, n, err)
		}
	}
}
