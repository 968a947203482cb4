package dashboard

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/dsr"
	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/internal/obligations"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// Requests to Convot as controller in the staff console (policy §9): a
// Customer's requests about their own account, and those of people no
// Customer knows. Staff act as Convot's privacy officer: they read each
// request's steps and approve (after seeing what an erasure erases),
// reject with a reason or extend once. The decisions go to the request's
// workflow through package dsr, as an organization's officer's do, and
// are recorded in the deployment's audit log with the staff member.

func (h *Handler) staffPrivacyRoutes(g *gin.RouterGroup) {
	g.GET("/privacy", h.staffPrivacyRequests)
	g.GET("/privacy/:id", h.staffPrivacyRequestPage)
	g.GET("/privacy/:id/approve", h.staffPrivacyApproveConfirm)
	g.POST("/privacy/:id/approve", h.staffPrivacyApprove)
	g.POST("/privacy/:id/reject", h.staffPrivacyReject)
	g.POST("/privacy/:id/extend", h.staffPrivacyExtend)
	g.POST("/privacy/:id/retry", h.staffPrivacyRetry)
	g.POST("/privacy/:id/redact", h.staffPrivacyRedact)
}

// controllerRow is a request as the staff lists show it.
type controllerRow struct {
	R         models.PrivacyRequest
	DaysLeft  int
	Countdown string
	Overdue   bool
}

func (h *Handler) controllerRow(r models.PrivacyRequest) controllerRow {
	row := controllerRow{R: r}
	if r.Open() {
		left := r.Deadline.Sub(h.Now())
		row.DaysLeft = int(math.Ceil(left.Hours() / 24))
		switch {
		case left < 0:
			row.Overdue = true
			row.Countdown = fmt.Sprintf("overdue by %d days", int(math.Ceil(-left.Hours()/24)))
		case row.DaysLeft == 1:
			row.Countdown = "1 day left"
		default:
			row.Countdown = fmt.Sprintf("%d days left", row.DaysLeft)
		}
	}
	return row
}

func (h *Handler) staffPrivacyRequests(c *gin.Context) {
	status, typ := c.Query("status"), c.Query("type")
	var f store.PrivacyRequestFilter
	switch {
	case status == "":
	case status == "open":
		f.Open = true
	case slices.Contains(obligations.DsrStatuses, status):
		f.Status = status
	default:
		h.Fail(c, http.StatusBadRequest, "Unknown status", "Filter requests by open or one of: "+fmt.Sprint(obligations.DsrStatuses)+".")
		return
	}
	if typ != "" {
		if !obligations.ValidDsrType(typ) {
			h.Fail(c, http.StatusBadRequest, "Unknown type", "Filter requests by a request type (access, erasure, …).")
			return
		}
		f.Type = typ
	}
	rs, err := h.Store.ControllerPrivacyRequests(c, f)
	if err != nil {
		h.Internal(c, err)
		return
	}
	rows := []controllerRow{}
	for _, r := range rs {
		rows = append(rows, h.controllerRow(r))
	}
	h.Render(c, http.StatusOK, "staff_privacy", h.Page(c, "Requests to Convot", "staff", gin.H{
		"Rows": rows, "Status": status, "Type": typ, "Statuses": obligations.DsrStatuses, "Types": obligations.DsrTypes}))
}

// staffPrivacyRequest loads a request to Convot as controller; an End
// User's request to a Customer is not found here.
func (h *Handler) staffPrivacyRequest(c *gin.Context) (*models.PrivacyRequest, bool) {
	id, ok := site.PathID(c, "id")
	if !ok {
		h.Fail(c, http.StatusNotFound, "Not found", "There is no such request to Convot.")
		return nil, false
	}
	r, err := h.Store.ControllerPrivacyRequest(c, id)
	return site.Found(h.Site, c, "privacy request", r, err)
}

func (h *Handler) privacyIntake() *dsr.Intake {
	if h.PrivacyIntake == nil {
		return nil
	}
	return h.PrivacyIntake()
}

func (h *Handler) staffPrivacyRequestPage(c *gin.Context) {
	r, ok := h.staffPrivacyRequest(c)
	if !ok {
		return
	}
	var progress *workflows.DsrProgress
	progressErr := ""
	var remnants []dsr.Remnant
	in := h.privacyIntake()
	if in != nil && in.Workflows != nil {
		if p, err := in.Workflows.Progress(c, r.ID); err == nil {
			progress = &p
		} else {
			progressErr = "The workflow's progress cannot be read at the moment; the status below is the last one recorded."
		}
	}
	if in != nil {
		var err error
		if remnants, err = in.Remnants(c, r); err != nil {
			h.Internal(c, err)
			return
		}
	}
	h.Render(c, http.StatusOK, "staff_privacy_request", h.Page(c, r.WorkflowID(), "staff", gin.H{
		"Row": h.controllerRow(*r), "Progress": progress, "ProgressErr": progressErr, "WorkflowURL": h.WorkflowURL(r.WorkflowID()),
		"Done": c.Query("done"), "MaxMonths": obligations.MaxDsrExtensionMonths,
		"CanRetry": progress != nil && progress.AwaitingRetry, "Evidence": dsr.Evidence(r), "Remnants": remnants,
		"Base": fmt.Sprintf("/staff/privacy/%d", r.ID), "Manage": true}))
}

func (h *Handler) staffPrivacyApproveConfirm(c *gin.Context) {
	r, ok := h.staffPrivacyRequest(c)
	if !ok {
		return
	}
	if _, err := dsr.Approval(r, 0); !h.DecisionSent(c, err) {
		return
	}
	in, ok := h.staffIntake(c)
	if !ok {
		return
	}
	page, err := in.Preview(c, r, fmt.Sprintf("/staff/privacy/%d", r.ID))
	if err != nil {
		h.Internal(c, err)
		return
	}
	h.Render(c, http.StatusOK, "privacy_approve", h.Page(c, "Approve "+r.WorkflowID(), "staff", page))
}

// staffDecide sends a staff member's decision and records it in the
// deployment's audit log (organization 0) with the staff member.
func (h *Handler) staffDecide(c *gin.Context, r *models.PrivacyRequest, dec dsr.Decision, err error, done string) {
	if err == nil {
		in := h.privacyIntake()
		if in == nil {
			err = dsr.ErrUnavailable
		} else {
			err = in.Decide(c, r, dec, site.CurrentAccount(c).ID, 0)
		}
	}
	if !h.DecisionSent(c, err) {
		return
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/staff/privacy/%d?done=%s", r.ID, done))
}

func (h *Handler) staffPrivacyApprove(c *gin.Context) {
	r, ok := h.staffPrivacyRequest(c)
	if !ok {
		return
	}
	if c.PostForm("confirm") != "yes" {
		h.Fail(c, http.StatusBadRequest, "Confirm first", fmt.Sprintf("Review what approving does at /staff/privacy/%d/approve, and confirm there.", r.ID))
		return
	}
	dec, err := dsr.Approval(r, site.CurrentAccount(c).ID)
	h.staffDecide(c, r, dec, err, "approved")
}

func (h *Handler) staffPrivacyReject(c *gin.Context) {
	r, ok := h.staffPrivacyRequest(c)
	if !ok {
		return
	}
	dec, err := dsr.Rejection(r, site.CurrentAccount(c).ID, c.PostForm("reason"))
	h.staffDecide(c, r, dec, err, "rejected")
}

func (h *Handler) staffPrivacyExtend(c *gin.Context) {
	r, ok := h.staffPrivacyRequest(c)
	if !ok {
		return
	}
	months, err := strconv.Atoi(c.PostForm("months"))
	if err != nil {
		h.Fail(c, http.StatusBadRequest, "Extension", fmt.Sprintf("Extend by 1 or %d months.", obligations.MaxDsrExtensionMonths))
		return
	}
	dec, err := dsr.Extension(r, site.CurrentAccount(c).ID, months, c.PostForm("reason"))
	h.staffDecide(c, r, dec, err, "extended")
}

// staffIntake is the privacy intake, or answers 503 when there is none.
func (h *Handler) staffIntake(c *gin.Context) (*dsr.Intake, bool) {
	in := h.privacyIntake()
	if in == nil {
		h.DecisionSent(c, dsr.ErrUnavailable)
	}
	return in, in != nil
}

func (h *Handler) staffPrivacyRetry(c *gin.Context) {
	r, ok := h.staffPrivacyRequest(c)
	if !ok {
		return
	}
	in, ok := h.staffIntake(c)
	if !ok {
		return
	}
	dec, err := in.Retry(c, r, site.CurrentAccount(c).ID)
	h.staffDecide(c, r, dec, err, "retried")
}

// staffPrivacyRedact redacts a remnant of an erasure of Convot's, recorded
// in the deployment's audit log with the staff member.
func (h *Handler) staffPrivacyRedact(c *gin.Context) {
	r, ok := h.staffPrivacyRequest(c)
	if !ok {
		return
	}
	in, ok := h.staffIntake(c)
	if !ok {
		return
	}
	if !h.Redacted(c, in.Redact(c, r, site.RemnantFromForm(c), site.CurrentAccount(c).ID, 0)) {
		return
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/staff/privacy/%d?done=redacted", r.ID))
}
