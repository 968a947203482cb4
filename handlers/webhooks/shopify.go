package webhooks

import (
	"errors"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/dsr"
	"github.com/convot/convot/shopify"
)

// shopifyWebhook takes Shopify's privacy webhooks and the uninstall: the
// signature is checked on the raw body before anything reads it (package
// shopify), and the answer comes as soon as the delivery is recorded and
// its workflow started.
func (h *Handler) shopifyWebhook(c *gin.Context) {
	app := h.ShopifyApp()
	if !app.Configured() {
		c.JSON(http.StatusServiceUnavailable, gin.H{"error": "the Shopify app is not configured (SHOPIFY_API_KEY, SHOPIFY_API_SECRET)"})
		return
	}
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			c.JSON(http.StatusRequestEntityTooLarge, gin.H{"error": "the payload is too large"})
			return
		}
		c.JSON(http.StatusBadRequest, gin.H{"error": "the payload could not be read"})
		return
	}
	got, err := app.ReceiveWebhook(c.Request.Context(), h.ShopifyIntake(), shopify.Webhook{
		Topic: c.GetHeader("X-Shopify-Topic"), Shop: c.GetHeader("X-Shopify-Shop-Domain"), ID: c.GetHeader("X-Shopify-Webhook-Id"),
		Signature: c.GetHeader("X-Shopify-Hmac-SHA256"), TriggeredAt: c.GetHeader("X-Shopify-Triggered-At"), Body: body})
	switch {
	case errors.Is(err, shopify.ErrBadSignature):
		c.JSON(http.StatusUnauthorized, gin.H{"error": err.Error()})
	case errors.Is(err, dsr.ErrUnavailable):
		c.JSON(http.StatusServiceUnavailable, gin.H{"error": "privacy requests are unavailable just now; deliver again"})
	case err != nil && errors.Is(err, shopify.ErrReplayed), errors.Is(err, shopify.ErrStale), errors.Is(err, shopify.ErrBadShop), errors.Is(err, shopify.ErrUnknownTopic):
		c.JSON(http.StatusBadRequest, gin.H{"error": err.Error()})
	case err != nil:
		var refusal *dsr.Refusal
		if errors.As(err, &refusal) {
			c.JSON(http.StatusBadRequest, gin.H{"error": refusal.Message})
			return
		}
		h.Internal(c, err)
	default:
		c.JSON(http.StatusOK, gin.H{"status": "received", "detail": got.Detail})
	}
}
