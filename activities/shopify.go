package activities

import (
	"context"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// ActOnShopifyWebhook carries out a shop-level Shopify webhook: a shop
// redaction deletes the install (its token key destroyed), the install
// states and the webhook records of the shop; an uninstall destroys the
// token and keeps the row for the shop's later privacy webhooks. Both are
// idempotent, so a retry after a lost answer changes nothing more.
func (a *Activities) ActOnShopifyWebhook(ctx context.Context, in workflows.ShopifyWebhookInput) (workflows.ShopifyWebhookResult, error) {
	var res workflows.ShopifyWebhookResult
	switch in.Topic {
	case workflows.ShopifyTopicShopRedact:
		n, err := a.Store.DeleteShopifyShopTx(ctx, in.OrganizationID, in.Shop)
		res.Rows = n
		return res, err
	case workflows.ShopifyTopicUninstalled:
		err := a.Store.Tx(ctx, func(tx *store.Store) error {
			var err error
			res.TokenDestroyed, err = tx.DisconnectShopifyShop(ctx, in.OrganizationID, in.Shop, time.Now().UTC())
			return err
		})
		return res, err
	}
	return res, temporal.NewNonRetryableApplicationError("not a shop-level Shopify topic", "InvalidInput", nil)
}

func shopifyActivities(a *Activities) map[string]any {
	return map[string]any{workflows.ActivityActOnShopifyWebhook: a.ActOnShopifyWebhook}
}
