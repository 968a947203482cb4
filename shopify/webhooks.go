package shopify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/convot/convot/dsr"
	"github.com/convot/convot/internal/obligations"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// Webhook topics the app subscribes to: Shopify's mandatory privacy
// webhooks and the uninstall.
const (
	TopicDataRequest    = "customers/data_request"
	TopicCustomerRedact = "customers/redact"
	TopicShopRedact     = workflows.ShopifyTopicShopRedact
	TopicUninstalled    = workflows.ShopifyTopicUninstalled
)

// MaxWebhookAge is how old a webhook's X-Shopify-Triggered-At may be:
// Shopify retries a failed delivery over hours, never days.
const MaxWebhookAge = 48 * time.Hour

// MaxWebhookBody bounds what is read of a webhook.
const MaxWebhookBody = 256 << 10

// ErrUnknownTopic is a webhook of a topic the app does not handle.
var ErrUnknownTopic = errors.New("unknown webhook topic")

// Webhook is one delivery as received: headers and the raw body.
type Webhook struct {
	Topic, Shop, ID, Signature, TriggeredAt string
	Body                                    []byte
}

// Received is what a webhook became.
type Received struct {
	Record *models.ShopifyWebhook
	// Detail says what was done, for the answer (no personal data).
	Detail string
}

// customerPayload is what the customer webhooks carry.
type customerPayload struct {
	ShopDomain string `json:"shop_domain"`
	Customer   struct {
		ID    int64  `json:"id"`
		Email string `json:"email"`
		Phone string `json:"phone"`
	} `json:"customer"`
}

// WebhookWorkflows starts the durable workflow of a shop-level webhook:
// Temporal in every deployment; tests of this package run the work in
// place.
type WebhookWorkflows interface {
	StartShopWebhook(ctx context.Context, in workflows.ShopifyWebhookInput) error
}

// TemporalWorkflows runs shop-level webhooks on Temporal.
type TemporalWorkflows struct{ Client client.Client }

// StartShopWebhook starts the delivery's workflow; starting it again (a
// retried start after a lost answer) joins the first.
func (t TemporalWorkflows) StartShopWebhook(ctx context.Context, in workflows.ShopifyWebhookInput) error {
	_, err := t.Client.ExecuteWorkflow(ctx, workflows.ShopifyWebhookStartOptions(in), workflows.ShopifyWebhookWorkflowType, in)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return nil
	}
	return err
}

// ReceiveWebhook verifies a webhook's signature before reading anything
// of it, refuses a stale or replayed one, records it once (the webhook ID
// is unique) and acts: a customer's data request becomes an access request
// and a customer redaction an erasure request of the organization, each a
// PrivacyRequest workflow the Customer's officer sees on the privacy
// pages; a shop redaction (deleting everything of the shop) and the
// uninstall (destroying the token) each start a ShopifyShopWebhook
// workflow. intake starts the request workflows.
func (a *App) ReceiveWebhook(ctx context.Context, intake *dsr.Intake, w Webhook) (*Received, error) {
	if !a.Configured() {
		return nil, ErrNotConfigured
	}
	if err := VerifyWebhook(a.Secret, w.Body, w.Signature); err != nil {
		return nil, err
	}
	shop, err := ValidShop(w.Shop)
	if err != nil {
		return nil, err
	}
	switch w.Topic {
	case TopicDataRequest, TopicCustomerRedact, TopicShopRedact, TopicUninstalled:
	default:
		return nil, ErrUnknownTopic
	}
	if w.ID == "" || len(w.ID) > 200 {
		return nil, errors.New("the X-Shopify-Webhook-Id header is missing")
	}
	at, err := time.Parse(time.RFC3339Nano, w.TriggeredAt)
	if err != nil {
		return nil, ErrStale
	}
	if d := a.now().Sub(at); d > MaxWebhookAge || d < -MaxSkew {
		return nil, ErrStale
	}
	var p customerPayload
	if err := json.Unmarshal(w.Body, &p); err != nil {
		return nil, errors.New("the webhook body is not JSON")
	}
	if p.ShopDomain != "" && !strings.EqualFold(p.ShopDomain, shop) {
		return nil, ErrBadShop
	}
	in, err := a.Store.ShopifyInstallByShop(ctx, shop)
	if errors.Is(err, store.ErrNotFound) {
		// Convot holds nothing of a shop that never connected (or was
		// redacted already): there is nothing to do.
		return &Received{Detail: "no data of this shop is held"}, nil
	}
	if err != nil {
		return nil, err
	}
	rec := &models.ShopifyWebhook{WebhookID: w.ID, OrganizationID: in.OrganizationID, Shop: shop, Topic: w.Topic, ReceivedAt: a.now().UTC()}
	err = a.Store.Tx(ctx, func(tx *store.Store) error { return tx.RecordShopifyWebhook(ctx, rec) })
	if store.IsDuplicate(err) {
		return nil, ErrReplayed
	}
	if err != nil {
		return nil, err
	}
	out, err := a.act(ctx, intake, in, rec, p)
	if err != nil {
		// Undone, so that Shopify's retry of the delivery is taken anew.
		_, _ = a.Store.DeleteShopifyWebhookRecord(context.WithoutCancel(ctx), in.OrganizationID, rec.ID)
		return nil, err
	}
	return out, nil
}

func (a *App) act(ctx context.Context, intake *dsr.Intake, in *models.ShopifyInstall, rec *models.ShopifyWebhook, p customerPayload) (*Received, error) {
	switch rec.Topic {
	case TopicShopRedact, TopicUninstalled:
		return a.startShopWorkflow(ctx, in, rec)
	}
	if intake == nil {
		return nil, dsr.ErrUnavailable
	}
	org, err := a.Store.Organization(ctx, in.OrganizationID)
	if err != nil {
		return nil, err
	}
	typ := obligations.DsrAccess
	if rec.Topic == TopicCustomerRedact {
		typ = obligations.DsrErasure
	}
	var externalIDs []string
	if p.Customer.ID > 0 {
		externalIDs = []string{a.Store.Keys().BlindIndex(strconv.FormatInt(p.Customer.ID, 10))}
	}
	var emails []string
	if p.Customer.Email != "" {
		emails = []string{a.Store.Keys().BlindIndex(strings.ToLower(strings.TrimSpace(p.Customer.Email)))}
	}
	ids, err := a.Store.ContactsMatchingShopifyCustomer(ctx, org.ID, emails, externalIDs, p.Customer.Phone)
	if err != nil {
		return nil, err
	}
	sub := dsr.Submission{Org: org, Type: typ, Email: p.Customer.Email, Source: "shopify", Attested: true,
		SourceRef: "shopify:" + rec.WebhookID}
	if len(ids) > 0 {
		sub.ContactID = ids[0]
	}
	if sub.Email == "" && sub.ContactID == 0 {
		return &Received{Record: rec, Detail: "no contact matches the shop's customer: nothing is held"}, nil
	}
	r, err := intake.Receive(ctx, sub)
	if err != nil {
		return nil, err
	}
	wf := workflows.PrivacyRequestWorkflowID(r.Request.ID)
	if err := a.Store.SetShopifyWebhookWorkflow(ctx, org.ID, rec.ID, r.Request.ID, wf); err != nil {
		return nil, err
	}
	rec.RequestID, rec.WorkflowID = r.Request.ID, wf
	return &Received{Record: rec, Detail: fmt.Sprintf("%s request %d started (%d matching contacts)", typ, r.Request.ID, len(ids))}, nil
}

// startShopWorkflow starts the workflow that carries out a shop-level
// webhook; the answer to Shopify waits for the start, not the work.
func (a *App) startShopWorkflow(ctx context.Context, in *models.ShopifyInstall, rec *models.ShopifyWebhook) (*Received, error) {
	if a.Workflows == nil {
		return nil, dsr.ErrUnavailable
	}
	wf := workflows.ShopifyWebhookWorkflowID(rec.ID)
	if err := a.Store.SetShopifyWebhookWorkflow(ctx, in.OrganizationID, rec.ID, 0, wf); err != nil {
		return nil, err
	}
	if err := a.Workflows.StartShopWebhook(ctx, workflows.ShopifyWebhookInput{
		OrganizationID: in.OrganizationID, WebhookRecordID: rec.ID, Topic: rec.Topic, Shop: in.Shop}); err != nil {
		return nil, err
	}
	// This node's cached orders go at once; other nodes' expire with
	// their cache, and without a token nothing new is fetched.
	a.forget(in.OrganizationID)
	rec.WorkflowID = wf
	detail := "the shop's access token is being destroyed (workflow " + wf + ")"
	if rec.Topic == TopicShopRedact {
		detail = "every Shopify datum of the shop is being deleted (workflow " + wf + ")"
	}
	return &Received{Record: rec, Detail: detail}, nil
}
