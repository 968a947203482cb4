package dashboard

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// Breaches of data Convot holds as controller (its Customers' operators'
// accounts) in the staff console (policy §11): staff see them across
// organizations with their trail, assess the risk and record the
// authority's notice as sent. The signals go to the same breach workflow
// as an organization's officer's; each staff step is recorded in the
// deployment's audit log with the staff member.

func (h *Handler) staffIncidentRoutes(g *gin.RouterGroup) {
	g.GET("/incidents", h.staffIncidents)
	g.GET("/incidents/:id", h.staffIncidentPage)
	g.POST("/incidents/:id/assess", h.staffAssessIncident)
	g.POST("/incidents/:id/notice-sent", h.staffIncidentNoticeSent)
}

func (h *Handler) staffIncidents(c *gin.Context) {
	list, err := h.Store.ControllerIncidents(c)
	if err != nil {
		h.Internal(c, err)
		return
	}
	h.Render(c, http.StatusOK, "staff_incidents", h.Page(c, "Incidents (Convot as controller)", "staff", gin.H{"Incidents": list}))
}

// staffIncident loads an incident Convot is controller of; any other is
// not found here.
func (h *Handler) staffIncident(c *gin.Context) (*models.Incident, bool) {
	id, ok := site.PathID(c, "id")
	if !ok {
		h.Fail(c, http.StatusNotFound, "Not found", "There is no such incident.")
		return nil, false
	}
	inc, err := h.Store.IncidentByID(c, id)
	if err == nil && !inc.ConvotIsController() {
		inc, err = nil, store.ErrNotFound
	}
	return site.Found(h.Site, c, "incident", inc, err)
}

func (h *Handler) staffIncidentPage(c *gin.Context) {
	if inc, ok := h.staffIncident(c); ok {
		h.renderStaffIncident(c, http.StatusOK, inc, "")
	}
}

func (h *Handler) renderStaffIncident(c *gin.Context, status int, inc *models.Incident, problem string) {
	steps, err := h.Store.IncidentSteps(c, inc.OrganizationID, inc.ID)
	if err != nil {
		h.Internal(c, err)
		return
	}
	now := h.Now().UTC()
	var categories []categoryOption
	for _, cat := range inc.Categories {
		categories = append(categories, categoryOption{cat, models.Categories[cat]})
	}
	h.RenderForm(c, status, "staff_incident", fmt.Sprintf("Incident %d", inc.ID), "staff", gin.H{
		"Incident": inc, "Steps": steps, "Categories": categories, "Overdue": now.After(inc.NoticeDueAt),
		"Left": inc.NoticeDueAt.Sub(now).Round(time.Minute), "Open": inc.Status != models.IncidentClosed,
		"WorkflowURL": h.WorkflowURL(workflows.BreachWorkflowID(inc.ID))}, problem)
}

// staffSignalBreach sends a staff member's step to the incident's workflow
// and records it in the deployment's audit log; false when it answered
// with an error.
func (h *Handler) staffSignalBreach(c *gin.Context, inc *models.Incident, action, detail string, send func(BreachWorkflows) error) bool {
	a := site.CurrentAccount(c)
	b := h.Breaches()
	err := errors.New("no workflow service configured")
	if b != nil {
		err = send(b)
	}
	if err != nil {
		h.renderStaffIncident(c, http.StatusServiceUnavailable, inc, "The incident's workflow could not be reached. Try again in a moment.")
		return false
	}
	if err := h.Audit(h.Store, c, 0, a.ID, a.DataKeyID, action, site.Target("incident", inc.ID), fmt.Sprintf("organization %d; %s", inc.OrganizationID, detail)); err != nil {
		h.Internal(c, err)
		return false
	}
	return true
}

func (h *Handler) staffAssessIncident(c *gin.Context) {
	a := site.CurrentAccount(c)
	inc, ok := h.staffIncident(c)
	if !ok {
		return
	}
	risk := c.PostForm("risk")
	reason := strings.TrimSpace(c.PostForm("reason"))
	switch {
	case risk != models.RiskNone && risk != models.RiskLow && risk != models.RiskHigh:
		h.renderStaffIncident(c, http.StatusUnprocessableEntity, inc, "Choose the risk: none, low or high.")
		return
	case reason == "" || len(reason) > 5000:
		h.renderStaffIncident(c, http.StatusUnprocessableEntity, inc, "Give the reasons for the assessment (under 5,000 characters).")
		return
	case inc.Status == models.IncidentClosed:
		h.renderStaffIncident(c, http.StatusConflict, inc, "This incident is closed.")
		return
	}
	inc.RiskReason = reason
	inc.UpdatedAt = h.Now().UTC()
	if err := h.Store.SaveIncidentRiskReason(c, inc.OrganizationID, inc); err != nil {
		h.Internal(c, err)
		return
	}
	if !h.staffSignalBreach(c, inc, "staff.incident_assessed", "risk "+risk, func(b BreachWorkflows) error {
		return b.Assess(c, inc.ID, workflows.BreachAssessSignal{Risk: risk, ActorID: a.ID})
	}) {
		return
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/staff/incidents/%d", inc.ID))
}

func (h *Handler) staffIncidentNoticeSent(c *gin.Context) {
	a := site.CurrentAccount(c)
	inc, ok := h.staffIncident(c)
	if !ok {
		return
	}
	now := h.Now().UTC()
	reasons := strings.TrimSpace(c.PostForm("delay_reasons"))
	if status, problem := noticeSentRefusal(inc, reasons, now); status != 0 {
		h.renderStaffIncident(c, status, inc, problem)
		return
	}
	if reasons != "" {
		inc.DelayReasons = reasons
		inc.UpdatedAt = now
		if err := h.Store.SaveIncidentDelayReasons(c, inc.OrganizationID, inc); err != nil {
			h.Internal(c, err)
			return
		}
	}
	if !h.staffSignalBreach(c, inc, "staff.incident_notice_sent", "authority notified", func(b BreachWorkflows) error {
		return b.NoticeSent(c, inc.ID, workflows.BreachNoticeSentSignal{ActorID: a.ID, SentAt: now})
	}) {
		return
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/staff/incidents/%d", inc.ID))
}
