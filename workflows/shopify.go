package workflows

import (
	"strconv"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Shopify's shop-level webhooks (issue 18): app/uninstalled destroys the
// shop's access token, and shop/redact, which Shopify sends 48 hours after
// an uninstall, deletes everything Convot holds of the shop. The web node
// records the delivery and starts one workflow per delivery before it
// answers Shopify, so an acknowledged webhook is carried out even if the
// node dies at once; the officer finds it in the Temporal UI by
// ConvotOrgId and ShopifyTopic. The customer-level webhooks
// (customers/data_request, customers/redact) become PrivacyRequest
// workflows instead.

// ShopifyWebhookWorkflowType is the registered name of ShopifyShopWebhook.
const ShopifyWebhookWorkflowType = "ShopifyShopWebhook"

// The shop-level topics the workflow carries out.
const (
	ShopifyTopicShopRedact  = "shop/redact"
	ShopifyTopicUninstalled = "app/uninstalled"
)

// ActivityActOnShopifyWebhook carries out one shop-level webhook; it is
// idempotent (deleting or disconnecting twice changes nothing more).
const ActivityActOnShopifyWebhook = "ActOnShopifyWebhook"

// ShopifyWebhookInput is one recorded delivery: IDs, the topic and the
// shop's *.myshopify.com domain (a business's address, not a person's).
type ShopifyWebhookInput struct {
	OrganizationID  uint64
	WebhookRecordID uint64
	Topic           string
	Shop            string
}

// ShopifyWebhookResult says what the delivery did.
type ShopifyWebhookResult struct {
	// Rows is how many rows a shop redaction deleted.
	Rows int64
	// TokenDestroyed: the uninstall found a token and destroyed it.
	TokenDestroyed bool
}

// ShopifyWebhookWorkflowID is the workflow of one recorded delivery.
func ShopifyWebhookWorkflowID(recordID uint64) string {
	return "shopify-webhook-" + strconv.FormatUint(recordID, 10)
}

// ShopifyWebhookStartOptions starts a delivery's workflow with the search
// attributes an officer filters on.
func ShopifyWebhookStartOptions(in ShopifyWebhookInput) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                    ShopifyWebhookWorkflowID(in.WebhookRecordID),
		TaskQueue:             TaskQueue,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			ConvotOrgId.ValueSet(strconv.FormatUint(in.OrganizationID, 10)),
			ShopifyTopic.ValueSet(in.Topic),
		),
	}
}

// ShopifyShopWebhook carries out a shop-level webhook. The activity is
// retried until it succeeds: Shopify counts the delivery as done once
// Convot answered, so giving up would break the promise silently.
func ShopifyShopWebhook(ctx workflow.Context, in ShopifyWebhookInput) (ShopifyWebhookResult, error) {
	var res ShopifyWebhookResult
	if in.OrganizationID == 0 || in.Shop == "" || (in.Topic != ShopifyTopicShopRedact && in.Topic != ShopifyTopicUninstalled) {
		return res, temporal.NewNonRetryableApplicationError("organization, shop and a shop-level topic are required", "InvalidInput", nil)
	}
	act := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: 15 * time.Minute},
		Summary:             in.Topic,
	})
	err := workflow.ExecuteActivity(act, ActivityActOnShopifyWebhook, in).Get(ctx, &res)
	return res, err
}
