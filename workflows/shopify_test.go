package workflows

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/convot/convot/internal/testenv"
)

// A shop redaction is retried until its activity succeeds: Shopify took
// the webhook as delivered, so giving up would drop it silently.
func TestShopifyShopWebhookRetriesUntilDone(t *testing.T) {
	env := testenv.WorkflowEnv(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	env.RegisterWorkflowWithOptions(ShopifyShopWebhook, workflow.RegisterOptions{Name: ShopifyWebhookWorkflowType})
	attempts := 0
	env.RegisterActivityWithOptions(func(_ context.Context, in ShopifyWebhookInput) (ShopifyWebhookResult, error) {
		if attempts++; attempts < 5 {
			return ShopifyWebhookResult{}, errors.New("database unavailable")
		}
		return ShopifyWebhookResult{Rows: int64(len(in.Shop))}, nil
	}, activity.RegisterOptions{Name: ActivityActOnShopifyWebhook})
	env.ExecuteWorkflow(ShopifyWebhookWorkflowType, ShopifyWebhookInput{OrganizationID: 3, WebhookRecordID: 9, Topic: ShopifyTopicShopRedact, Shop: "a.myshopify.com"})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res ShopifyWebhookResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, 5, attempts)
	require.EqualValues(t, len("a.myshopify.com"), res.Rows)
}

// A customer-level topic or a missing shop is refused at once, without
// running anything.
func TestShopifyShopWebhookRefusesOtherTopics(t *testing.T) {
	for _, in := range []ShopifyWebhookInput{
		{OrganizationID: 3, WebhookRecordID: 9, Topic: "customers/redact", Shop: "a.myshopify.com"},
		{OrganizationID: 3, WebhookRecordID: 9, Topic: ShopifyTopicUninstalled},
		{WebhookRecordID: 9, Topic: ShopifyTopicUninstalled, Shop: "a.myshopify.com"},
	} {
		env := testenv.WorkflowEnv(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
		env.RegisterWorkflowWithOptions(ShopifyShopWebhook, workflow.RegisterOptions{Name: ShopifyWebhookWorkflowType})
		env.RegisterActivityWithOptions(func(context.Context, ShopifyWebhookInput) (ShopifyWebhookResult, error) {
			t.Fatalf("the activity ran for %+v", in)
			return ShopifyWebhookResult{}, nil
		}, activity.RegisterOptions{Name: ActivityActOnShopifyWebhook})
		env.ExecuteWorkflow(ShopifyWebhookWorkflowType, in)
		var appErr *temporal.ApplicationError
		require.ErrorAs(t, env.GetWorkflowError(), &appErr, "%+v", in)
		require.Equal(t, "InvalidInput", appErr.Type())
	}
}
