package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/convot/convot/activities"
	"github.com/convot/convot/dsr"
	"github.com/convot/convot/internal/obligations"
	"github.com/convot/convot/internal/testenv"
	"github.com/convot/convot/models"
	"github.com/convot/convot/shopify"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// Shopify's privacy webhooks on a real Temporal dev server, as a shop
// delivers them over HTTP: customers/redact becomes an erasure request
// (dsr-<id>) that the Customer's officer approves on the privacy pages,
// after which the matching contact is gone and the completeness scanner
// finds nothing; app/uninstalled and shop/redact each run as a
// ShopifyShopWebhook workflow, found by ConvotOrgId and ShopifyTopic, and
// leave no token and no Shopify datum of the shop.
func TestShopifyPrivacyWebhooksOnTemporal(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := testenv.TemporalDevServer(t, ctx, client.Options{})
	if err := workflows.RegisterSearchAttributes(ctx, c, "default"); err != nil {
		t.Fatal(err)
	}
	ts, fake := shopifyServer(t, func(s *Server) {
		s.PrivacyWorkflows = dsr.TemporalWorkflows{Client: c}
		s.now = time.Now // the workflow's clock is the server's
	})
	ts.srv.Shopify.Workflows = shopify.TemporalWorkflows{Client: c}
	w := worker.New(c, workflows.TaskQueue, worker.Options{})
	workflows.Register(w)
	activities.Register(w, &activities.Activities{Store: store.New(ts.db.DB, ts.db.Keys), Keys: ts.db.Keys, Mail: ts.outbox,
		MailFrom: "Convot <no-reply@convot.io>", BaseURL: ts.URL, Blobs: ts.blobs, Privacy: activities.PrivacySettings{Officer: "privacy@convot.io", Hub: ts.srv.Hub}})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	a := newInboxWorld(t, ts, "olivia@acme.test", "Acme")
	ada, _ := a.conversation(t, models.Contact{Name: "Ada", Email: "ada@example.test"}, "Where is my mug?")
	other, _ := a.conversation(t, models.Contact{Name: "Grace", Email: "grace@example.test"}, "Hello")
	if r := connectShop(t, a.owner, true); r.status != http.StatusSeeOther {
		t.Fatalf("callback: %d %s", r.status, r.body)
	}
	deliver := func(topic, id string, body []byte) response {
		t.Helper()
		req := fake.Webhook("/webhooks/shopify", topic, "acme.myshopify.com", id, body)
		out, err := http.NewRequest(http.MethodPost, ts.URL+"/webhooks/shopify", req.Body)
		must(err)
		out.Header = req.Header
		resp, err := http.DefaultClient.Do(out)
		must(err)
		defer func() { _ = resp.Body.Close() }()
		var answer struct{ Status, Detail, Error string }
		_ = json.NewDecoder(resp.Body).Decode(&answer)
		return response{status: resp.StatusCode, body: answer.Status + " " + answer.Detail + answer.Error}
	}
	orgQuery := "ConvotOrgId=" + strconv.Quote(strconv.FormatUint(a.org.ID, 10))

	// customers/redact: an erasure request of the organization.
	body := []byte(`{"shop_id":954889,"shop_domain":"acme.myshopify.com","customer":{"id":207119551,"email":"ada@example.test","phone":""},"orders_to_redact":[1001]}`)
	if r := deliver(shopify.TopicCustomerRedact, "w-redact", body); r.status != http.StatusOK {
		t.Fatalf("customers/redact: %d %s", r.status, r.body)
	}
	var req models.PrivacyRequest
	must(ts.db.Where("organization_id = ? AND source = ?", a.org.ID, "shopify").First(&req).Error)
	if req.Type != obligations.DsrErasure {
		t.Fatalf("request %+v", req)
	}
	waitFor(t, ctx, "awaiting approval", func() bool {
		var r models.PrivacyRequest
		return ts.db.First(&r, req.ID).Error == nil && r.Status == obligations.DsrAwaitingApproval
	})
	a.owner.get(fmt.Sprintf("/privacy/requests/%d/approve", req.ID))
	if r := a.owner.post(fmt.Sprintf("/privacy/requests/%d/approve", req.ID), url.Values{"confirm": {"yes"}}); r.status >= 400 {
		t.Fatalf("approve: %d %s", r.status, excerpt(r.body))
	}
	must(c.GetWorkflow(ctx, workflows.PrivacyRequestWorkflowID(req.ID), "").Get(ctx, nil))
	must(ts.db.First(&req, req.ID).Error)
	var evidence store.ScanReport
	must(json.Unmarshal([]byte(req.Evidence), &evidence))
	if req.Status != obligations.DsrCompleted || !evidence.Clean || evidence.FindingsTotal != 0 {
		t.Fatalf("request %s, evidence %s", req.Status, req.Evidence)
	}
	if ts.db.First(&models.Contact{}, ada.ID).Error == nil {
		t.Fatal("the shop customer's contact is still there")
	}
	if ts.db.First(&models.Contact{}, other.ID).Error != nil {
		t.Fatal("another contact was erased")
	}

	// app/uninstalled: the token is destroyed by a workflow.
	if r := deliver(shopify.TopicUninstalled, "w-uninstall", []byte(`{"id":954889,"domain":"acme.myshopify.com"}`)); r.status != http.StatusOK {
		t.Fatalf("app/uninstalled: %d %s", r.status, r.body)
	}
	var hook models.ShopifyWebhook
	must(ts.db.Where("webhook_id = ?", "w-uninstall").First(&hook).Error)
	if hook.WorkflowID != workflows.ShopifyWebhookWorkflowID(hook.ID) {
		t.Fatalf("webhook record %+v", hook)
	}
	var res workflows.ShopifyWebhookResult
	must(c.GetWorkflow(ctx, hook.WorkflowID, "").Get(ctx, &res))
	if r := deliver(shopify.TopicUninstalled, "w-uninstall", []byte(`{"id":954889,"domain":"acme.myshopify.com"}`)); r.status != http.StatusBadRequest {
		t.Fatalf("replayed app/uninstalled: %d %s", r.status, r.body)
	}
	var in models.ShopifyInstall
	must(ts.db.Where("organization_id = ?", a.org.ID).First(&in).Error)
	if !res.TokenDestroyed || in.AccessToken != "" || in.Scopes != "" {
		t.Fatalf("after app/uninstalled: %+v, install %+v", res, in)
	}

	// shop/redact, 48 hours later: nothing of the shop is left.
	if r := deliver(shopify.TopicShopRedact, "w-shop", []byte(`{"shop_id":954889,"shop_domain":"acme.myshopify.com"}`)); r.status != http.StatusOK {
		t.Fatalf("shop/redact: %d %s", r.status, r.body)
	}
	var shopWf string
	waitFor(t, ctx, "the shop/redact workflow in the officer's terms", func() bool {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: "default",
			Query: orgQuery + ` AND ShopifyTopic="shop/redact"`})
		must(err)
		if len(resp.GetExecutions()) == 1 {
			shopWf = resp.GetExecutions()[0].GetExecution().GetWorkflowId()
			return true
		}
		return false
	})
	must(c.GetWorkflow(ctx, shopWf, "").Get(ctx, &res))
	for _, table := range []string{"shopify_installs", "shopify_oauth_states", "shopify_webhooks"} {
		var n int64
		must(ts.db.Raw("SELECT COUNT(*) FROM "+table+" WHERE organization_id = ?", a.org.ID).Scan(&n).Error)
		if n != 0 {
			t.Fatalf("shop/redact left %d rows in %s", n, table)
		}
	}
	if res.Rows == 0 {
		t.Fatalf("shop/redact deleted nothing: %+v", res)
	}
	// A replay after the redaction finds nothing held, and changes nothing.
	if r := deliver(shopify.TopicShopRedact, "w-shop", []byte(`{"shop_id":954889,"shop_domain":"acme.myshopify.com"}`)); r.status != http.StatusOK {
		t.Fatalf("shop/redact again: %d %s", r.status, r.body)
	}
}
