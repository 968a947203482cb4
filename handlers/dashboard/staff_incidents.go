package dashboard

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
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
	g.POST("/incidents", h.staffRecordIncident)
	g.GET("/incidents/:id", h.staffIncidentPage)
	g.POST("/incidents/:id/track", h.staffTrackIncident)
	g.POST("/incidents/:id/assess", h.staffAssessIncident)
	g.POST("/incidents/:id/notice-sent", h.staffIncidentNoticeSent)
}

func (h *Handler) staffIncidents(c *gin.Context) {
	a := site.CurrentAccount(c)
	form := incidentForm{AwareAt: h.Now().UTC().Format(timeLayout), ContactName: a.FullName, ContactEmail: a.Email}
	h.renderStaffIncidents(c, http.StatusOK, form, "")
}

func (h *Handler) renderStaffIncidents(c *gin.Context, status int, form incidentForm, problem string) {
	list, err := h.Store.ControllerIncidents(c)
	if err != nil {
		h.Internal(c, err)
		return
	}
	p := h.Page(c, "Incidents (Convot as controller)", "staff", gin.H{
		"Incidents": list, "Form": form, "Categories": categoryOptions(), "FormAction": "/staff/incidents", "Staff": true})
	p.Error = problem
	h.Render(c, status, "staff_incidents", p)
}

// staffRecordIncident records a breach of Convot's own (OrganizationID 0):
// of data Convot holds as controller, its Customers' accounts, in the
// organizations staff name. Its workflow keeps the same 72-hour deadline
// and reminds the staff members.
func (h *Handler) staffRecordIncident(c *gin.Context) {
	a := site.CurrentAccount(c)
	f, problem := h.parseIncidentForm(c)
	if problem == "" && (len(f.SubjectKinds) != 1 || f.SubjectKinds[0] != models.SubjectCustomer) {
		// End users' data is the Customers' as controllers: their
		// officers record it, Convot tells them as processor.
		problem = "An incident of Convot's own concerns Customers' accounts only."
	}
	var orgs []uint64
	if problem == "" {
		orgs, problem = h.affectedOrganizations(c, f.Organizations)
	}
	if problem != "" {
		h.renderStaffIncidents(c, http.StatusUnprocessableEntity, f, problem)
		return
	}
	now := h.Now().UTC()
	inc := f.incident(a.ID, now) // Convot's own: organization 0, a key of its own
	inc.AffectedOrganizations = orgs
	err := h.Store.Tx(c, func(tx *store.Store) error {
		if err := tx.CreateIncident(c, &inc); err != nil {
			return err
		}
		step := models.IncidentStep{IncidentID: inc.ID, OnceKey: "recorded", Step: "recorded",
			Detail: fmt.Sprintf("aware %s; notice due %s; %d organizations concerned", inc.AwareAt.Format(time.RFC3339), inc.NoticeDueAt.Format(time.RFC3339), len(orgs)), ActorID: a.ID, At: now}
		if err := tx.CreateIncidentStep(c, &step); err != nil {
			return err
		}
		return h.Audit(tx, c, 0, a.ID, a.DataKeyID, "staff.incident_recorded", site.Target("incident", inc.ID), "notice due "+inc.NoticeDueAt.Format(time.RFC3339))
	})
	if err != nil {
		h.Internal(c, err)
		return
	}
	if err := h.startBreach(c, &inc); err != nil {
		return
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/staff/incidents/%d", inc.ID))
}

// affectedOrganizations reads the organizations field: "all", or
// organization numbers separated by commas, each of which must exist.
func (h *Handler) affectedOrganizations(c *gin.Context, field string) ([]uint64, string) {
	field = strings.TrimSpace(field)
	if strings.EqualFold(field, "all") {
		ids, err := h.Store.OrganizationIDs(c)
		if err != nil || len(ids) == 0 {
			return nil, "There are no organizations to name."
		}
		return ids, ""
	}
	var ids []uint64
	seen := map[uint64]bool{}
	for part := range strings.SplitSeq(field, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, err := strconv.ParseUint(part, 10, 64)
		if err != nil || id == 0 {
			return nil, fmt.Sprintf("%q is not an organization number: give numbers separated by commas, or all.", part)
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil, "Name the organizations whose accounts are concerned, or all."
	}
	found, err := h.Store.ExistingOrganizations(c, ids)
	if err != nil {
		return nil, "The organizations could not be checked. Try again in a moment."
	}
	if len(found) != len(ids) {
		for _, id := range ids {
			if !slices.Contains(found, id) {
				return nil, fmt.Sprintf("There is no organization %d.", id)
			}
		}
	}
	return found, ""
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
	data, err := h.incidentData(c, inc, fmt.Sprintf("/staff/incidents/%d", inc.ID))
	if err != nil {
		h.Internal(c, err)
		return
	}
	h.RenderForm(c, status, "staff_incident", fmt.Sprintf("Incident %d", inc.ID), "staff", data, problem)
}

// staffTrackIncident starts the workflow of an incident whose start failed.
func (h *Handler) staffTrackIncident(c *gin.Context) {
	inc, ok := h.staffIncident(c)
	if !ok {
		return
	}
	if err := h.startBreach(c, inc); err != nil {
		return
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/staff/incidents/%d", inc.ID))
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
