package webhooks

import "github.com/gin-gonic/gin"

// Routes mounts the webhooks and the unsubscribe links on the engine
// itself: no session or CSRF cookie applies to them. Stripe signs its
// events, Postmark authenticates with basic auth, and an unsubscribe
// link's token is its own credential.
func (h *Handler) Routes(r *gin.Engine) {
	r.POST("/webhooks/stripe", h.stripeWebhook)

	hooks := r.Group("/webhooks/postmark", h.postmarkAuth)
	hooks.POST("/inbound", h.postmarkInbound)
	hooks.POST("/events", h.postmarkEvents)
	h.LargeBodies["/webhooks/postmark/inbound"] = true

	r.GET("/unsubscribe/:token", h.unsubscribePage)
	r.POST("/unsubscribe/:token", h.unsubscribe)
}
