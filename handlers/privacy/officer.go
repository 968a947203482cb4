package privacy

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/dsr"
	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/internal/obligations"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// The privacy officer's pages: the organization's data-subject requests
// (its End Users ask it as controller), each with its progress, evidence
// and the decisions (approve, reject, extend, retry) sent to the workflow.
// The privacy officers of an organization are its owners and admins (they
// receive the workflow's notices); auditors may read.

// requestRow is a request as the lists show it.
type requestRow struct {
	R         models.PrivacyRequest
	Countdown string
	Overdue   bool
	Workflow  string // the workflow's page in the Temporal UI
}

func (h *Handler) requestRow(r models.PrivacyRequest) requestRow {
	row := requestRow{R: r, Workflow: h.WorkflowURL(r.WorkflowID())}
	if r.Open() {
		left := r.Deadline.Sub(h.Now())
		days := int(math.Ceil(left.Hours() / 24))
		switch {
		case left < 0:
			row.Overdue = true
			row.Countdown = fmt.Sprintf("overdue by %d days", int(math.Ceil(-left.Hours()/24)))
		case days <= 1:
			row.Countdown = fmt.Sprintf("due in %d hours", int(math.Ceil(left.Hours())))
		default:
			row.Countdown = fmt.Sprintf("%d days left", days)
		}
	}
	return row
}

// requestList is the list page: its rows and filters.
type requestList struct {
	Rows     []requestRow
	Status   string
	Type     string
	Due      bool
	Statuses []string
	Types    []struct{ Type, Label string }
	Search   string // the Temporal UI's list filtered to the organization
}

func (h *Handler) requestsPage(c *gin.Context) {
	org := site.CurrentOrg(c)
	f := requestList{Status: c.Query("status"), Type: c.Query("type"), Due: c.Query("due") == "1", Statuses: obligations.DsrStatuses, Types: obligations.DsrTypes}
	var filter store.PrivacyRequestFilter
	switch {
	case f.Status == "open":
		filter.Open = true
	case slices.Contains(obligations.DsrStatuses, f.Status):
		filter.Status = f.Status
	default:
		f.Status = ""
	}
	if obligations.ValidDsrType(f.Type) {
		filter.Type = f.Type
	} else {
		f.Type = ""
	}
	if f.Due {
		filter.DueBefore = h.Now().Add(7 * 24 * time.Hour)
	}
	rs, err := h.Store.PrivacyRequests(c, org.ID, filter)
	if err != nil {
		h.Internal(c, err)
		return
	}
	for _, r := range rs {
		f.Rows = append(f.Rows, h.requestRow(r))
	}
	if list := h.WorkflowURL(""); list != "" {
		f.Search = list + "?query=" + urlQuery(fmt.Sprintf("ConvotOrgId=%q", strconv.FormatUint(org.ID, 10)))
		f.Search = strings.Replace(f.Search, "/workflows/?", "/workflows?", 1)
	}
	if site.WantsJSON(c) {
		type item struct {
			ID        uint64    `json:"id"`
			Request   string    `json:"request"`
			Type      string    `json:"type"`
			Status    string    `json:"status"`
			Deadline  time.Time `json:"deadline"`
			Countdown string    `json:"countdown,omitempty"`
		}
		out := []item{}
		for _, r := range f.Rows {
			out = append(out, item{r.R.ID, r.R.WorkflowID(), r.R.Type, r.R.Status, r.R.Deadline, r.Countdown})
		}
		c.JSON(http.StatusOK, gin.H{"requests": out})
		return
	}
	h.Render(c, http.StatusOK, "privacy_requests", h.Page(c, "Privacy requests", "privacy", f))
}

// urlQuery escapes the little a Temporal UI list query holds.
func urlQuery(s string) string {
	r := strings.NewReplacer(" ", "%20", "\"", "%22", "=", "%3D")
	return r.Replace(s)
}

// officerRequest loads a request of the signed-in officer's organization;
// another organization's (or Convot's own) is not found.
func (h *Handler) officerRequest(c *gin.Context) (*models.PrivacyRequest, bool) {
	return site.OwnRow(h.Site, c, "privacy request", h.Store.OrganizationPrivacyRequest)
}

// requestDetail is the page of one request.
type requestDetail struct {
	Row         requestRow
	Progress    *workflows.DsrProgress
	ProgressErr string
	Evidence    *store.ScanReport
	Result      string
	Exports     []models.PrivacyExport
	Contact     *models.Contact
	Done        string
	NeedsAnswer bool // an operator-logged request without an address: the officer hands over the answer
	Remnants    []dsr.Remnant
	// CanRetry: a step failed and the workflow waits for a retry.
	CanRetry bool
	Base     string // the request's path, where the decisions post
	Manage   bool   // the viewer may decide
}

// decisionDone is what the request page says after a decision.
var decisionDone = map[string]string{
	"approved": "Approved: the request is being fulfilled.",
	"rejected": "Rejected: the requester is told why.",
	"extended": "The deadline is extended; the requester is told.",
	"retried":  "The step runs again.",
	"redacted": "Redacted: the text is replaced by a marker, and the redaction is recorded. Retry the scan once every remnant is dealt with.",
}

func (h *Handler) requestDetail(c *gin.Context) {
	r, ok := h.officerRequest(c)
	if !ok {
		return
	}
	d := requestDetail{Row: h.requestRow(*r), Result: r.Result, Done: decisionDone[c.Query("done")],
		Base: fmt.Sprintf("/privacy/requests/%d", r.ID), Manage: site.Can(site.CurrentAccount(c).Role, "privacy_requests_manage")}
	if h.Workflows != nil {
		if p, err := h.Workflows.Progress(c, r.ID); err == nil {
			d.Progress = &p
			d.CanRetry = p.AwaitingRetry
		} else {
			d.ProgressErr = "The workflow's progress cannot be read at the moment; the status below is the last one recorded."
		}
	}
	d.Evidence = dsr.Evidence(r)
	var err error
	if d.Remnants, err = h.Intake.Remnants(c, r); err != nil {
		h.Internal(c, err)
		return
	}
	if d.Exports, err = h.Store.PrivacyExports(c, r.OrganizationID, r.ID); err != nil {
		h.Internal(c, err)
		return
	}
	d.NeedsAnswer = r.RequesterEmail == "" && len(d.Exports) > 0
	if r.SubjectID != 0 && r.SubjectKind == models.SubjectEndUser {
		if ct, err := h.Store.Contact(c, r.OrganizationID, r.SubjectID); err == nil {
			d.Contact = ct
		}
	}
	if site.WantsJSON(c) {
		c.JSON(http.StatusOK, gin.H{"id": r.ID, "request": r.WorkflowID(), "type": r.Type, "status": r.Status, "deadline": r.Deadline,
			"extended": r.Extended, "progress": d.Progress, "evidence": d.Evidence, "workflow_url": d.Row.Workflow})
		return
	}
	h.Render(c, http.StatusOK, "privacy_request", h.Page(c, r.WorkflowID(), "privacy", d))
}

// decide sends a decision to the workflow and records who took it, in the
// organization's audit log; a refused decision gets its 4xx.
func (h *Handler) decide(c *gin.Context, r *models.PrivacyRequest, dec dsr.Decision, err error, done string) {
	if err == nil {
		err = h.Intake.Decide(c, r, dec, site.CurrentAccount(c).ID, r.OrganizationID)
	}
	if !h.DecisionSent(c, err) {
		return
	}
	if site.WantsJSON(c) {
		c.JSON(http.StatusOK, gin.H{"id": r.ID, "request": r.WorkflowID(), "sent": dec.Signal})
		return
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/privacy/requests/%d?done=%s", r.ID, done))
}

func (h *Handler) awaitingApproval(c *gin.Context) (*models.PrivacyRequest, bool) {
	r, ok := h.officerRequest(c)
	if !ok {
		return nil, false
	}
	if r.Status != obligations.DsrAwaitingApproval {
		h.Fail(c, http.StatusConflict, "Not awaiting a decision", "This request does not wait for approval (it is "+strings.ReplaceAll(r.Status, "_", " ")+").")
		return nil, false
	}
	return r, true
}

// approveConfirm shows what approving will do, with the form that does it.
func (h *Handler) approveConfirm(c *gin.Context) {
	r, ok := h.awaitingApproval(c)
	if !ok {
		return
	}
	page, err := h.Intake.Preview(c, r, fmt.Sprintf("/privacy/requests/%d", r.ID))
	if err != nil {
		h.Internal(c, err)
		return
	}
	if site.WantsJSON(c) {
		c.JSON(http.StatusOK, gin.H{"id": r.ID, "request": r.WorkflowID(), "type": r.Type, "plan": page.Counts})
		return
	}
	h.Render(c, http.StatusOK, "privacy_approve", h.Page(c, "Approve "+r.WorkflowID(), "privacy", page))
}

func (h *Handler) approve(c *gin.Context) {
	r, ok := h.awaitingApproval(c)
	if !ok {
		return
	}
	if c.PostForm("confirm") != "yes" {
		h.Fail(c, http.StatusBadRequest, "Confirm first", fmt.Sprintf("Review what approving does at /privacy/requests/%d/approve, and confirm there.", r.ID))
		return
	}
	dec, err := dsr.Approval(r, site.CurrentAccount(c).ID)
	h.decide(c, r, dec, err, "approved")
}

func (h *Handler) reject(c *gin.Context) {
	r, ok := h.officerRequest(c)
	if !ok {
		return
	}
	dec, err := dsr.Rejection(r, site.CurrentAccount(c).ID, c.PostForm("reason"))
	h.decide(c, r, dec, err, "rejected")
}

func (h *Handler) extend(c *gin.Context) {
	r, ok := h.officerRequest(c)
	if !ok {
		return
	}
	months, _ := strconv.Atoi(c.PostForm("months"))
	dec, err := dsr.Extension(r, site.CurrentAccount(c).ID, months, c.PostForm("reason"))
	h.decide(c, r, dec, err, "extended")
}

func (h *Handler) retry(c *gin.Context) {
	r, ok := h.officerRequest(c)
	if !ok {
		return
	}
	dec, err := h.Intake.Retry(c, r, site.CurrentAccount(c).ID)
	h.decide(c, r, dec, err, "retried")
}

// officerDownload hands the answer of a request an operator logged for a
// contact without an address to the officer, once.
func (h *Handler) officerDownload(c *gin.Context) {
	r, ok := h.officerRequest(c)
	if !ok {
		return
	}
	if r.RequesterEmail != "" {
		h.Fail(c, http.StatusForbidden, "Mailed to the requester", "The answer was mailed to the requester, whose link it is.")
		return
	}
	e, err := h.Store.LatestPrivacyExport(c, r.OrganizationID, r.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		h.Fail(c, http.StatusNotFound, "Not ready", "The answer is not ready yet.")
		return
	case err != nil:
		h.Internal(c, err)
		return
	case e.UsedAt != nil:
		h.Fail(c, http.StatusGone, "Downloaded", "The answer was downloaded already: each export is handed out once.")
		return
	case h.Now().After(e.ExpiresAt):
		h.Fail(c, http.StatusGone, "Expired", "The answer has expired.")
		return
	}
	if !h.RecordAccess(c, models.AccessPrivacyExportOpened, site.Target("privacy_export", e.ID)) {
		return
	}
	h.serveExport(c, e)
}

// redact replaces the text of a remnant the scanner found (a field of a
// row of the organization, listed in the request's evidence) with a
// marker, and records who redacted what and when; the officer then
// retries the scan, and the request completes.
func (h *Handler) redact(c *gin.Context) {
	r, ok := h.officerRequest(c)
	if !ok {
		return
	}
	f := site.RemnantFromForm(c)
	if !h.Redacted(c, h.Intake.Redact(c, r, f, site.CurrentAccount(c).ID, r.OrganizationID)) {
		return
	}
	if site.WantsJSON(c) {
		c.JSON(http.StatusOK, gin.H{"id": r.ID, "request": r.WorkflowID(), "redacted": fmt.Sprintf("%s.%s row %d", f.Model, f.Column, f.RowID)})
		return
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/privacy/requests/%d?done=redacted", r.ID))
}
