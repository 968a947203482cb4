package webhooks

import (
	"github.com/gin-gonic/gin"

	"github.com/convot/convot/shopify"
)

// Routes mounts the webhooks and the unsubscribe links on the engine
// itself: no session or CSRF cookie applies to them. Stripe signs its
// events, Postmark authenticates with basic auth, and an unsubscribe
// link's token is its own credential.
func (h *Handler) Routes(r *gin.Engine) {
	r.POST("/webhooks/stripe", h.stripeWebhook)

	hooks := r.Group("/webhooks/postmark", h.postmarkAuth)
	hooks.POST("/inbound", h.postmarkInbound)
	hooks.POST("/events", h.postmarkEvents)
	// A mail may be large, a Stripe event is not. Both are read as they
	// came: Stripe's is signed, and a mail is cleaned (NUL, invalid
	// UTF-8), not refused, lest it be lost.
	h.BodyLimits["/webhooks/postmark/inbound"] = MaxInboundBytes
	h.BodyLimits["/webhooks/stripe"] = maxStripeEventBytes
	h.RawBodies["/webhooks/postmark/inbound"] = true
	h.RawBodies["/webhooks/stripe"] = true
	r.POST("/webhooks/shopify", h.shopifyWebhook)
	h.BodyLimits["/webhooks/shopify"] = shopify.MaxWebhookBody
	h.RawBodies["/webhooks/shopify"] = true

	r.GET("/unsubscribe/:token", h.unsubscribePage)
	r.POST("/unsubscribe/:token", h.unsubscribe)
}
