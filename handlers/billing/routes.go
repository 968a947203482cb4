package billing

import "github.com/gin-gonic/gin"

// Routes mounts the billing pages on the dashboard (session, CSRF, and
// read-only while the organization is closed: reactivating and the
// Billing Portal are the writes it still accepts).
func (h *Handler) Routes(dash *gin.RouterGroup) {
	g := dash.Group("/billing", h.RequireAccount, h.Require("billing_manage"), h.RecordUsage)
	g.GET("", h.page)
	g.POST("/plan", h.choosePlan)
	g.POST("/payment-method", h.updateCard)
	g.POST("/portal", h.portal)
	g.POST("/cancel", h.cancelAtPeriodEnd)
	g.POST("/resume", h.resume)
	g.POST("/refresh", h.refresh)
	g.POST("/reactivate", h.reactivate)
	dash.POST("/account/close", h.RequireAccount, h.Require("account_close"), h.closeAccount)
}
