package dashboard

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/models"
	"github.com/convot/convot/outgoing"
	"github.com/convot/convot/store"
)

// Settings → Webhooks: owners and admins (organization_edit) add their own
// HTTPS endpoints, choose event types and content, see a secret once,
// rotate it (24 hours of overlap), turn an endpoint off and on, delete it,
// read its delivery log, redeliver one delivery and send a test event.

func (h *Handler) webhookRoutes(r *gin.RouterGroup) {
	g := r.Group("/settings/webhooks", h.RequireAccount, h.Require("organization_edit"), h.RecordUsage)
	g.GET("", h.webhooksPage)
	g.POST("", h.addWebhook)
	g.GET("/:id", h.webhookPage)
	g.POST("/:id/rotate", h.rotateWebhookSecret)
	g.POST("/:id/enable", func(c *gin.Context) { h.setWebhookEnabled(c, true) })
	g.POST("/:id/disable", func(c *gin.Context) { h.setWebhookEnabled(c, false) })
	g.POST("/:id/delete", h.deleteWebhook)
	g.POST("/:id/test", h.sendTestWebhook)
	g.POST("/:id/deliveries/:delivery/redeliver", h.redeliverWebhook)
}

const webhooksTitle = "Webhooks"

// webhookEndpoints is the configured service, or nil (webhooks off).
func (h *Handler) webhookEndpoints() *outgoing.Endpoints {
	if h.Webhooks == nil {
		return nil
	}
	return h.Webhooks()
}

func (h *Handler) webhooksData(c *gin.Context) (gin.H, error) {
	list, err := h.Store.WebhookEndpoints(c, site.CurrentOrg(c).ID)
	if err != nil {
		return nil, err
	}
	defaults := map[string]bool{}
	for _, e := range outgoing.DefaultEvents() {
		defaults[e] = true
	}
	return gin.H{"List": list, "Catalogue": outgoing.Catalogue, "Defaults": defaults,
		"Schedule": outgoing.RetryWaits, "Attempts": outgoing.Attempts(), "Span": outgoing.RetrySpan(), "Available": h.webhookEndpoints() != nil}, nil
}

func (h *Handler) webhooksPage(c *gin.Context) {
	data, err := h.webhooksData(c)
	if err != nil {
		h.Internal(c, err)
		return
	}
	h.Render(c, http.StatusOK, "webhooks", h.Page(c, webhooksTitle, "webhooks", data))
}

// addWebhook adds an endpoint and shows its secret, once.
func (h *Handler) addWebhook(c *gin.Context) {
	svc := h.webhookEndpoints()
	if svc == nil {
		h.Fail(c, http.StatusServiceUnavailable, webhooksTitle, "Webhooks are not configured on this server.")
		return
	}
	ep, secret, err := svc.Add(c, site.CurrentOrg(c).ID, outgoing.NewEndpoint{
		URL: c.PostForm("url"), Description: c.PostForm("description"),
		Events: c.PostFormArray("events"), IncludeContent: c.PostForm("include_content") == "1",
	})
	var bad *outgoing.InputError
	if errors.As(err, &bad) {
		h.Fail(c, http.StatusUnprocessableEntity, webhooksTitle, "The endpoint was not added: "+bad.Message+".")
		return
	}
	if err != nil {
		h.Internal(c, err)
		return
	}
	h.auditWebhook(c, "webhook.endpoint_added", ep.ID, ep.URL)
	h.Render(c, http.StatusCreated, "webhook_secret", h.Page(c, webhooksTitle, "webhooks", gin.H{"Endpoint": ep, "Secret": secret, "Rotated": false}))
}

// webhookOf loads an endpoint of the operator's organization; another
// organization's is 404.
func (h *Handler) webhookOf(c *gin.Context) (*models.WebhookEndpoint, bool) {
	return site.OwnRow(h.Site, c, "webhook endpoint", h.Store.WebhookEndpoint)
}

func (h *Handler) webhookPage(c *gin.Context) {
	ep, ok := h.webhookOf(c)
	if !ok {
		return
	}
	log, err := h.Store.WebhookDeliveryLog(c, ep.OrganizationID, ep.ID, 50)
	if err != nil {
		h.Internal(c, err)
		return
	}
	h.Render(c, http.StatusOK, "webhook", h.Page(c, webhooksTitle, "webhooks", gin.H{
		"Endpoint": ep, "Events": outgoing.SplitEvents(ep.Events), "Log": log,
		"Overlap": ep.PreviousSecret != "" && ep.PreviousUntil != nil && h.Now().Before(*ep.PreviousUntil),
	}))
}

func (h *Handler) rotateWebhookSecret(c *gin.Context) {
	ep, ok := h.webhookOf(c)
	if !ok {
		return
	}
	svc := h.webhookEndpoints()
	if svc == nil {
		h.Fail(c, http.StatusServiceUnavailable, webhooksTitle, "Webhooks are not configured on this server.")
		return
	}
	secret, err := svc.Rotate(c, ep.OrganizationID, ep.ID)
	if err != nil {
		h.Internal(c, err)
		return
	}
	h.auditWebhook(c, "webhook.secret_rotated", ep.ID, "")
	h.Render(c, http.StatusOK, "webhook_secret", h.Page(c, webhooksTitle, "webhooks", gin.H{"Endpoint": ep, "Secret": secret, "Rotated": true}))
}

func (h *Handler) setWebhookEnabled(c *gin.Context, enabled bool) {
	ep, ok := h.webhookOf(c)
	if !ok {
		return
	}
	reason := ""
	if !enabled {
		reason = "disabled by " + site.CurrentAccount(c).DisplayName
	}
	h.Finish(c, h.Store.SetWebhookEndpointEnabled(c, ep.OrganizationID, ep.ID, enabled, reason), "/settings/webhooks/"+strconv.FormatUint(ep.ID, 10), "saved")
}

func (h *Handler) deleteWebhook(c *gin.Context) {
	ep, ok := h.webhookOf(c)
	if !ok {
		return
	}
	if err := h.Store.DeleteWebhookEndpoint(c, ep.OrganizationID, ep.ID); err != nil {
		h.Internal(c, err)
		return
	}
	h.auditWebhook(c, "webhook.endpoint_deleted", ep.ID, ep.URL)
	h.Finish(c, nil, "/settings/webhooks", "saved")
}

func (h *Handler) sendTestWebhook(c *gin.Context) {
	ep, ok := h.webhookOf(c)
	if !ok {
		return
	}
	svc := h.webhookEndpoints()
	if svc == nil {
		h.Fail(c, http.StatusServiceUnavailable, webhooksTitle, "Webhooks are not configured on this server.")
		return
	}
	_, err := svc.SendTest(c, ep.OrganizationID, ep.ID)
	h.Finish(c, err, "/settings/webhooks/"+strconv.FormatUint(ep.ID, 10), "saved")
}

func (h *Handler) redeliverWebhook(c *gin.Context) {
	ep, ok := h.webhookOf(c)
	if !ok {
		return
	}
	id, ok := site.PathID(c, "delivery")
	if !ok {
		h.Fail(c, http.StatusNotFound, "Not found", "There is no such delivery.")
		return
	}
	err := h.Store.RedeliverWebhookOfEndpoint(c, ep.OrganizationID, ep.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		h.Fail(c, http.StatusNotFound, "Not found", "There is no such delivery.")
		return
	}
	h.Finish(c, err, "/settings/webhooks/"+strconv.FormatUint(ep.ID, 10), "saved")
}

// auditWebhook records a change of an endpoint in the audit log; the
// change is made already, so a failure is logged, not answered.
func (h *Handler) auditWebhook(c *gin.Context, action string, id uint64, detail string) {
	a := site.CurrentAccount(c)
	if err := h.Audit(h.Store, c, site.CurrentOrg(c).ID, a.ID, a.DataKeyID, action, site.Target("webhook_endpoint", id), detail); err != nil {
		_ = c.Error(err)
	}
}
