package dashboard

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/models"
	"github.com/convot/convot/security"
)

// Vulnerability reports in the staff console (policy §10): staff read a
// report, triage it, mark it fixed and close it; each action goes to the
// report's workflow with the staff account, which records it and informs
// the reporter of the closing.

func (h *Handler) staffSecurityRoutes(g *gin.RouterGroup) {
	g.GET("/security", h.staffSecurityList)
	g.GET("/security/:id", h.staffSecurityPage)
	g.POST("/security/:id/:action", h.staffSecurityAct)
}

func (h *Handler) staffSecurityList(c *gin.Context) {
	list, err := h.Store.VulnerabilityReports(c, 500)
	if err != nil {
		h.Internal(c, err)
		return
	}
	h.Render(c, http.StatusOK, "staff_security", h.Page(c, "Vulnerability reports", "staff", gin.H{"Reports": list}))
}

func (h *Handler) staffReport(c *gin.Context) (*models.VulnerabilityReport, bool) {
	id, ok := site.PathID(c, "id")
	if !ok {
		h.Fail(c, http.StatusNotFound, "Not found", "There is no such report.")
		return nil, false
	}
	r, err := h.Store.VulnerabilityReport(c, id)
	return site.Found(h.Site, c, "report", r, err)
}

func (h *Handler) staffSecurityPage(c *gin.Context) {
	if r, ok := h.staffReport(c); ok {
		h.renderStaffReport(c, http.StatusOK, r, "")
	}
}

func (h *Handler) renderStaffReport(c *gin.Context, status int, r *models.VulnerabilityReport, problem string) {
	h.RenderForm(c, status, "staff_report", "Vulnerability report", "staff", gin.H{
		"Report": r, "Severities": models.VulnSeverities, "Outcomes": models.VulnOutcomes,
		"WorkflowURL": h.WorkflowURL(r.WorkflowID())}, problem)
}

func (h *Handler) staffSecurityAct(c *gin.Context) {
	a := site.CurrentAccount(c)
	r, ok := h.staffReport(c)
	if !ok {
		return
	}
	action := c.Param("action")
	value := c.PostForm("severity")
	if action == security.ActionClose {
		value = c.PostForm("outcome")
	}
	var reports *security.Reports
	if h.VulnerabilityReports != nil {
		reports = h.VulnerabilityReports()
	}
	if reports == nil {
		h.Fail(c, http.StatusServiceUnavailable, "Unavailable", "Vulnerability reports cannot be changed at the moment.")
		return
	}
	err := reports.Act(c, a, r.ID, action, value)
	var bad security.ErrInvalid
	switch {
	case errors.As(err, &bad):
		h.renderStaffReport(c, http.StatusUnprocessableEntity, r, bad.Msg)
		return
	case errors.Is(err, security.ErrUnavailable):
		h.Fail(c, http.StatusServiceUnavailable, "Unavailable", "Vulnerability reports cannot be changed at the moment.")
		return
	}
	h.Finish(c, err, fmt.Sprintf("/staff/security/%d", r.ID), "Sent to the report's workflow; it records your action.")
}
