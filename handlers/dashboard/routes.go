package dashboard

import (
	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/workflows"
)

// Routes mounts the dashboard on dash (session, CSRF, and read-only while
// the organization is closed). The dev mailbox is mounted only with an
// Outbox (the embedded default).
func (h *Handler) Routes(dash *gin.RouterGroup) {
	h.authRoutes(dash)
	h.settingsRoutes(dash)
	h.teamRoutes(dash)
	h.auditorRoutes(dash)
	h.inboxRoutes(dash)
	h.widgetSettingsRoutes(dash)
	h.emailSettingsRoutes(dash)
	h.shopifyRoutes(dash)
	h.webhookRoutes(dash)
	h.incidentRoutes(dash)
	h.supportRoutes(dash)
	h.staffRoutes(dash)
	h.dpaRoutes(dash)
	h.aiRoutes(dash)
	if h.Outbox != nil {
		h.devMailRoutes(dash)
	}
}

// PublicRoutes mounts what anyone may read without a session: the privacy
// policy in effect (policy.go).
func (h *Handler) PublicRoutes(r *gin.Engine) {
	r.GET("/privacy", h.servePolicy)
	r.GET("/dpa", h.serveDPA)
}

func (h *Handler) authRoutes(r *gin.RouterGroup) {
	r.GET("/data-deletion", h.dataDeletionPage)
	r.GET("/signup", h.signupPage)
	r.POST("/signup", h.signup)
	r.GET("/login", h.loginPage)
	r.POST("/login", h.login)
	r.GET("/login/mfa", h.mfaPage)
	r.POST("/login/mfa", h.mfaLogin)
	r.POST("/logout", h.logout)
	r.GET("/password/forgot", h.forgotPage)
	r.POST("/password/forgot", h.forgot)
	r.GET("/password/reset", h.resetPage)
	r.POST("/password/reset", h.reset)
	r.GET("/invitations/accept", h.acceptPage)
	r.POST("/invitations/accept", h.accept)
}

func (h *Handler) settingsRoutes(r *gin.RouterGroup) {
	g := r.Group("/", h.RequireAccount, h.Require("dashboard_view"), h.RecordUsage)
	g.GET("/", h.home)
	g.GET("/settings/profile", h.profilePage)
	g.POST("/settings/profile", h.saveProfile)
	g.GET("/settings/security", h.securityPage)
	g.POST("/settings/security/mfa/enable", h.enableMFA)
	g.POST("/settings/security/mfa/disable", h.disableMFA)
	g.POST("/settings/security/recovery-codes", h.regenerateRecoveryCodes)
	g.POST("/settings/security/password", h.changePassword)
	org := g.Group("/settings/organization", h.Require("organization_edit"))
	org.GET("", h.organizationPage)
	org.POST("", h.saveOrganization)
	org.POST("/mfa", h.Require("organization_require_mfa"), h.saveOrganizationMFA)
	org.POST("/auto-assign", h.saveAutoAssign)
}

func (h *Handler) teamRoutes(r *gin.RouterGroup) {
	g := r.Group("/", h.RequireAccount, h.RecordUsage)
	g.GET("/settings/team", h.Require("team_view"), h.teamPage)
	g.POST("/settings/team/invite", h.Require("team_invite"), h.invite)
	g.POST("/settings/team/:id/role", h.Require("team_change_role"), h.changeRole)
	g.POST("/settings/team/:id/remove", h.Require("team_remove"), h.removeMember)
	g.GET("/audit-log", h.Require("audit_log_view"), h.auditLog)
	g.GET("/reports", h.Require("reports_view"), h.reportsPage)
}

// The auditor surface: read-only pages for the policies and their tests,
// the gate's decision log, the subprocessor registry, the record of
// processing and the promise ledger. Each page downloads as JSON and CSV
// (?format=json, ?format=csv) from the same rows it shows.
func (h *Handler) auditorRoutes(r *gin.RouterGroup) {
	g := r.Group("/auditor", h.RequireAccount, h.Require("auditor_view"), h.RecordUsage)
	g.GET("", h.auditorIndex)
	g.GET("/policies", h.auditorPolicies)
	g.GET("/decisions", h.auditorDecisions)
	g.GET("/subprocessors", h.auditorSubprocessors)
	g.GET("/processing", h.auditorProcessing)
	g.GET("/promises", h.auditorPromises)
	g.GET("/dpa", h.auditorDPA)
	g.GET("/incidents", h.auditorIncidents)
	g.GET("/backups", h.auditorBackups)
	g.GET("/sweeps", h.auditorDeploymentEvents("sweeps", "Retention sweep runs",
		"Every run of a retention sweep (policy §8): the class, the cutoff, and how many rows each table lost. Newest first, at most 1000.", "retention.swept"))
	g.GET("/key-rotations", h.auditorDeploymentEvents("key_rotations", "Key rotations",
		"Every rotation of the master key (`convot keys rotate`): the new master key version and how many data keys were re-wrapped under it.", "keys.rotated"))
}

func (h *Handler) inboxRoutes(r *gin.RouterGroup) {
	g := r.Group("/inbox", h.RequireAccount, h.Require("inbox_use"))
	pages := g.Group("", h.RecordUsage)
	pages.GET("", h.inboxPage)
	pages.GET("/conversations/:id", h.inboxConversationPage)
	h.searchRoutes(pages)
	g.GET("/conversations", h.inboxListJSON)
	g.GET("/conversations/:id/messages", h.inboxMessagesJSON)
	g.GET("/conversations/:id/attachments/:attachment", h.inboxAttachment)
	g.POST("/conversations/:id/reply", func(c *gin.Context) { h.inboxPost(c, false) })
	g.POST("/conversations/:id/note", func(c *gin.Context) { h.inboxPost(c, true) })
	g.POST("/conversations/:id/assign", h.inboxAssign)
	g.POST("/conversations/:id/snooze", h.inboxSnooze)
	g.POST("/conversations/:id/resolve", func(c *gin.Context) { h.inboxSetState(c, workflows.SignalResolve, nil) })
	g.POST("/conversations/:id/reopen", func(c *gin.Context) { h.inboxSetState(c, workflows.SignalReopen, nil) })
	g.POST("/conversations/:id/pending", func(c *gin.Context) { h.inboxSetState(c, workflows.SignalPending, nil) })
	g.POST("/conversations/:id/labels", func(c *gin.Context) { h.inboxLabel(c, true) })
	g.POST("/conversations/:id/labels/remove", func(c *gin.Context) { h.inboxLabel(c, false) })
	g.POST("/bulk", h.inboxBulk)
	g.GET("/ws", h.inboxSocket)
	// Replies and notes may carry a file: the attachment limit, not the
	// dashboard's body limit.
	h.BodyLimits["/inbox/conversations/:id/reply"] = site.UploadBodyLimit
	h.BodyLimits["/inbox/conversations/:id/note"] = site.UploadBodyLimit
	h.contactRoutes(g)
	h.cannedRoutes(g)
	labels := r.Group("/settings/labels", h.RequireAccount, h.Require("labels_manage"), h.RecordUsage)
	labels.GET("", h.labelsPage)
	labels.POST("", h.createLabel)
	labels.POST("/:id/delete", h.deleteLabel)
}

func (h *Handler) contactRoutes(g *gin.RouterGroup) {
	pages := g.Group("/contacts", h.RecordUsage)
	pages.GET("", h.contactsPage)
	pages.GET("/:id", h.contactPage)
	pages.POST("/:id/merge", h.mergeClaimant)
	g.GET("/contacts/:id/shopify", h.inboxContactShopify)
	g.GET("/contacts/:id/card", h.inboxContactCard)
}

func (h *Handler) cannedRoutes(g *gin.RouterGroup) {
	r := g.Group("/canned", h.RecordUsage)
	r.GET("", h.cannedPage)
	m := r.Group("", h.Require("canned_manage"))
	m.POST("", h.createCanned)
	m.GET("/:id", h.cannedEditPage)
	m.POST("/:id", h.updateCanned)
	m.POST("/:id/delete", h.deleteCanned)
}

func (h *Handler) widgetSettingsRoutes(r *gin.RouterGroup) {
	g := r.Group("/settings/widget", h.RequireAccount, h.Require("widget_edit"), h.RecordUsage)
	g.GET("", h.widgetSettingsPage)
	g.POST("", h.saveWidgetSettings)
	g.POST("/secret", h.rotateIdentitySecret)
}

func (h *Handler) emailSettingsRoutes(r *gin.RouterGroup) {
	g := r.Group("/settings", h.RequireAccount, h.Require("dashboard_view"), h.RecordUsage)
	g.GET("/marketing", h.marketingPage)
	g.POST("/marketing", h.saveMarketing)
	org := g.Group("/email", h.Require("organization_edit"))
	org.GET("", h.emailSettingsPage)
	org.POST("", h.saveEmailSettings)
}

func (h *Handler) incidentRoutes(r *gin.RouterGroup) {
	g := r.Group("/incidents", h.RequireAccount, h.Require("incident_manage"), h.RecordUsage)
	g.GET("", h.incidentsPage)
	g.POST("", h.recordIncident)
	g.GET("/:id", h.incidentPage)
	g.POST("/:id/assess", h.assessIncident)
	g.POST("/:id/notice-sent", h.incidentNoticeSent)
	g.POST("/:id/track", h.trackIncident)
}

func (h *Handler) supportRoutes(r *gin.RouterGroup) {
	g := r.Group("/support", h.RequireAccount, h.Require("support_contact"), h.RecordUsage)
	g.GET("", h.supportPage)
	g.POST("", h.openTicket)
	g.GET("/:id", h.ticketPage)
	g.POST("/:id/messages", h.postTicketMessage)
	g.POST("/:id/close", h.closeTicket)
}

// The dev mailbox shows the outbox of the embedded default, as each
// recipient would see their mail: the envelope and every header (Reply-To,
// Message-ID, In-Reply-To, References, List-Unsubscribe, ...), the text,
// and the HTML part sanitized and inside a sandboxed frame. Mail the
// egress gate refused is shown too, marked with the gate's reason:
// production would not have sent it. It exists only under `convot dev`,
// for a signed-in owner, who sees their organization's mail only.
func (h *Handler) devMailRoutes(r *gin.RouterGroup) {
	g := r.Group("/dev/mailbox", h.RequireAccount, h.requireOwner)
	g.GET("", h.mailbox)
	g.GET("/:id", h.mailMessage)
	g.GET("/:id/html", h.mailHTML)
}
