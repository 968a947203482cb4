package privacy

import (
	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
)

// Routes mounts every privacy route. Requests are answered while an
// organization is closed too (the grace period), so none is behind the
// dashboard's read-only guard.
func (h *Handler) Routes(r *gin.Engine) {
	// The JSON API: no cookies, so no CSRF token; the code and the
	// download token are the credentials.
	api := r.Group("/api")
	api.POST("/privacy-requests", func(c *gin.Context) { h.requestAPI(c, "") })
	api.POST("/privacy-requests/:key", func(c *gin.Context) { h.requestAPI(c, c.Param("key")) })
	api.POST("/privacy-verification/:id", h.verifyAPI)
	api.POST("/privacy-verification/:id/resend", h.resendAPI)
	api.POST("/privacy-downloads/:token", h.download)
	h.LimitBodies(r, "/api/privacy-", site.APIBodyLimit)

	// Pages: the double-submit CSRF cookie protects their forms.
	pages := r.Group("/", h.CSRF, h.LoadSession)
	pages.GET("/privacy-requests", func(c *gin.Context) { h.requestPage(c, "") })
	pages.POST("/privacy-requests", func(c *gin.Context) { h.requestForm(c, "") })
	pages.GET("/privacy-requests/:key", func(c *gin.Context) { h.requestPage(c, c.Param("key")) })
	pages.POST("/privacy-requests/:key", func(c *gin.Context) { h.requestForm(c, c.Param("key")) })
	pages.GET("/privacy-verification/:id", h.verifyPage)
	pages.POST("/privacy-verification/:id", h.verifyForm)
	pages.POST("/privacy-verification/:id/resend", h.resendForm)
	pages.GET("/privacy-downloads/:token", h.downloadPage)
	pages.POST("/privacy-downloads/:token", h.download)

	// The privacy officer's pages: owners and admins decide, auditors read.
	view := pages.Group("/privacy/requests", h.RequireAccount, h.Require("privacy_requests_view"), h.RecordUsage)
	view.GET("", h.requestsPage)
	view.GET("/:id", h.requestDetail)
	manage := pages.Group("/privacy/requests/:id", h.RequireAccount, h.Require("privacy_requests_manage"))
	manage.GET("/approve", h.approveConfirm)
	manage.POST("/approve", h.approve)
	manage.POST("/redact", h.redact)
	manage.POST("/reject", h.reject)
	manage.POST("/extend", h.extend)
	manage.POST("/retry", h.retry)
	manage.POST("/download", h.officerDownload)

	// The contact sidebar: operators log a request or flag a child.
	log := pages.Group("/inbox/contacts/:id", h.RequireAccount, h.Require("privacy_requests_log"))
	log.GET("/privacy-requests", h.contactPage)
	log.POST("/privacy-requests", h.contactLog)
	log.POST("/under-16", h.contactUnder16)
}
