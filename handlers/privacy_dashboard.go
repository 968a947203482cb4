package handlers

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// The privacy officer's pages: the organization's data-subject requests
// (its End Users ask it as controller), each with its progress, evidence
// and the decisions (approve, reject, extend, retry) sent to the workflow;
// and the contact sidebar's links to log a request for a contact or flag
// them as under 16. The privacy officers of an organization are its owners
// and admins (they receive the workflow's notices); auditors may read.

func (s *Server) privacyDashboardRoutes(pages *gin.RouterGroup) {
	view := pages.Group("/privacy/requests", s.RequireAccount, s.Require("privacy_requests_view"), s.RecordUsage)
	view.GET("", s.privacyRequestsPage)
	view.GET("/:id", s.privacyRequestDetail)
	manage := pages.Group("/privacy/requests/:id", s.RequireAccount, s.Require("privacy_requests_manage"))
	manage.POST("/approve", s.privacyApprove)
	manage.POST("/reject", s.privacyReject)
	manage.POST("/extend", s.privacyExtend)
	manage.POST("/retry", s.privacyRetry)
	manage.POST("/download", s.privacyOfficerDownload)
	log := pages.Group("/inbox/contacts/:id", s.RequireAccount, s.Require("privacy_requests_log"))
	log.GET("/privacy-requests", s.contactPrivacyPage)
	log.POST("/privacy-requests", s.contactPrivacyLog)
	log.POST("/under-16", s.contactUnder16)
}

// privacyRow is a request as the list shows it.
type privacyRow struct {
	R         models.PrivacyRequest
	Countdown string
	Overdue   bool
	Workflow  string // the workflow's page in the Temporal UI
}

func (s *Server) privacyRow(r models.PrivacyRequest) privacyRow {
	row := privacyRow{R: r, Workflow: s.workflowURL(r.WorkflowID())}
	if r.Open() {
		left := r.Deadline.Sub(s.now())
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

type privacyList struct {
	Rows     []privacyRow
	Status   string
	Type     string
	Due      bool
	Statuses []string
	Types    []struct{ Type, Label string }
	Search   string // the Temporal UI's list filtered to the organization
}

func (s *Server) privacyRequestsPage(c *gin.Context) {
	org := site.CurrentOrg(c)
	f := privacyList{Status: c.Query("status"), Type: c.Query("type"), Due: c.Query("due") == "1", Statuses: models.DsrStatuses, Types: models.DsrTypes}
	var filter store.PrivacyRequestFilter
	switch {
	case f.Status == "open":
		filter.Open = true
	case contains(models.DsrStatuses, f.Status):
		filter.Status = f.Status
	default:
		f.Status = ""
	}
	if models.ValidDsrType(f.Type) {
		filter.Type = f.Type
	} else {
		f.Type = ""
	}
	if f.Due {
		filter.DueBefore = s.now().Add(7 * 24 * time.Hour)
	}
	rs, err := s.Store.PrivacyRequests(c, org.ID, filter)
	if err != nil {
		s.Internal(c, err)
		return
	}
	for _, r := range rs {
		f.Rows = append(f.Rows, s.privacyRow(r))
	}
	if s.TemporalUIURL != "" {
		f.Search = s.workflowURL("") + "?query=" + urlQuery(fmt.Sprintf("ConvotOrgId=%q", strconv.FormatUint(org.ID, 10)))
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
	s.Render(c, http.StatusOK, "privacy_requests", s.Page(c, "Privacy requests", "privacy", f))
}

func urlQuery(s string) string {
	r := strings.NewReplacer(" ", "%20", "\"", "%22", "=", "%3D")
	return r.Replace(s)
}

// officerRequest loads a request of the signed-in officer's organization;
// another organization's (or Convot's own) is not found.
func (s *Server) officerRequest(c *gin.Context) (*models.PrivacyRequest, bool) {
	id, ok := requestID(c)
	var r *models.PrivacyRequest
	err := store.ErrNotFound
	if ok {
		r, err = s.Store.OrganizationPrivacyRequest(c, site.CurrentOrg(c).ID, id)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.Fail(c, http.StatusNotFound, "Not found", "There is no such privacy request.")
		return nil, false
	case err != nil:
		s.Internal(c, err)
		return nil, false
	}
	return r, true
}

type privacyDetail struct {
	Row         privacyRow
	Progress    *workflows.DsrProgress
	ProgressErr string
	Evidence    *models.ScanReport
	Result      string
	Exports     []models.PrivacyExport
	Contact     *models.Contact
	Done        string
	NeedsAnswer bool // an operator-logged request without an address: the officer hands over the answer
}

var privacyDone = map[string]string{
	"approved": "Approved: the request is being fulfilled.",
	"rejected": "Rejected: the requester is told why.",
	"extended": "The deadline is extended; the requester is told.",
	"retried":  "The step runs again.",
}

func (s *Server) privacyRequestDetail(c *gin.Context) {
	r, ok := s.officerRequest(c)
	if !ok {
		return
	}
	d := privacyDetail{Row: s.privacyRow(*r), Result: r.Result, Done: privacyDone[c.Query("done")]}
	if s.PrivacyWorkflows != nil {
		if p, err := s.PrivacyWorkflows.Progress(c, r.ID); err == nil {
			d.Progress = &p
		} else {
			d.ProgressErr = "The workflow's progress cannot be read at the moment; the status below is the last one recorded."
		}
	}
	if r.Evidence != "" {
		var rep models.ScanReport
		if json.Unmarshal([]byte(r.Evidence), &rep) == nil {
			d.Evidence = &rep
		}
	}
	var err error
	if d.Exports, err = s.Store.PrivacyExports(c, r.OrganizationID, r.ID); err != nil {
		s.Internal(c, err)
		return
	}
	d.NeedsAnswer = r.RequesterEmail == "" && len(d.Exports) > 0
	if r.SubjectID != 0 && r.SubjectKind == models.SubjectEndUser {
		if ct, err := s.Store.Contact(c, r.OrganizationID, r.SubjectID); err == nil {
			d.Contact = ct
		}
	}
	if site.WantsJSON(c) {
		c.JSON(http.StatusOK, gin.H{"id": r.ID, "request": r.WorkflowID(), "type": r.Type, "status": r.Status, "deadline": r.Deadline,
			"extended": r.Extended, "progress": d.Progress, "evidence": d.Evidence, "workflow_url": d.Row.Workflow})
		return
	}
	s.Render(c, http.StatusOK, "privacy_request", s.Page(c, r.WorkflowID(), "privacy", d))
}

// privacyDecide sends a decision to the workflow and records who took it.
func (s *Server) privacyDecide(c *gin.Context, r *models.PrivacyRequest, signal string, arg any, action, detail, done string) {
	if s.PrivacyWorkflows == nil {
		s.Fail(c, http.StatusServiceUnavailable, "Unavailable", "The workflow service is unreachable. Try again in a minute.")
		return
	}
	if err := s.PrivacyWorkflows.Signal(c, r.ID, signal, arg); err != nil {
		s.Fail(c, http.StatusServiceUnavailable, "Unavailable", "The request's workflow could not be reached. Try again in a minute.")
		return
	}
	a := site.CurrentAccount(c)
	if err := s.Store.Tx(c, func(tx *store.Store) error {
		return s.privacyAuditTx(c, tx, r, a.ID, action, detail)
	}); err != nil {
		s.Internal(c, err)
		return
	}
	if site.WantsJSON(c) {
		c.JSON(http.StatusOK, gin.H{"id": r.ID, "request": r.WorkflowID(), "sent": signal})
		return
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/privacy/requests/%d?done=%s", r.ID, done))
}

func (s *Server) privacyApprove(c *gin.Context) {
	r, ok := s.officerRequest(c)
	if !ok {
		return
	}
	if r.Status != models.DsrAwaitingApproval {
		s.Fail(c, http.StatusConflict, "Not awaiting a decision", "This request does not wait for approval (it is "+strings.ReplaceAll(r.Status, "_", " ")+").")
		return
	}
	s.privacyDecide(c, r, workflows.SignalDsrApprove, workflows.DsrDecisionSignal{ByAccountID: site.CurrentAccount(c).ID}, "privacy.approved", r.Type, "approved")
}

func (s *Server) privacyReject(c *gin.Context) {
	r, ok := s.officerRequest(c)
	if !ok {
		return
	}
	reason := strings.TrimSpace(c.PostForm("reason"))
	switch {
	case !r.Open():
		s.Fail(c, http.StatusConflict, "Closed", "This request is closed already.")
		return
	case reason == "" || len([]rune(reason)) > 500:
		s.Fail(c, http.StatusBadRequest, "Reason needed", "Say why the request is rejected (at most 500 characters, no personal data): the requester is told.")
		return
	}
	s.privacyDecide(c, r, workflows.SignalDsrReject, workflows.DsrDecisionSignal{ByAccountID: site.CurrentAccount(c).ID, Reason: reason}, "privacy.rejected", r.Type, "rejected")
}

func (s *Server) privacyExtend(c *gin.Context) {
	r, ok := s.officerRequest(c)
	if !ok {
		return
	}
	months, _ := strconv.Atoi(c.PostForm("months"))
	reason := strings.TrimSpace(c.PostForm("reason"))
	switch {
	case !r.Open():
		s.Fail(c, http.StatusConflict, "Closed", "This request is closed already.")
		return
	case r.Extended:
		s.Fail(c, http.StatusConflict, "Extended already", "The deadline can be extended once only, and it was.")
		return
	case months < 1 || months > workflows.MaxDsrExtensionMonths:
		s.Fail(c, http.StatusBadRequest, "Extension", fmt.Sprintf("Extend by 1 or %d months.", workflows.MaxDsrExtensionMonths))
		return
	case reason == "" || len([]rune(reason)) > 500:
		s.Fail(c, http.StatusBadRequest, "Reason needed", "Say why more time is needed (at most 500 characters, no personal data): the requester is told.")
		return
	}
	s.privacyDecide(c, r, workflows.SignalDsrExtend, workflows.DsrExtendSignal{Months: months, Reason: reason, ByAccountID: site.CurrentAccount(c).ID},
		"privacy.extended", fmt.Sprintf("%d months", months), "extended")
}

func (s *Server) privacyRetry(c *gin.Context) {
	r, ok := s.officerRequest(c)
	if !ok {
		return
	}
	if !r.Open() {
		s.Fail(c, http.StatusConflict, "Closed", "This request is closed already.")
		return
	}
	s.privacyDecide(c, r, workflows.SignalDsrRetry, workflows.DsrDecisionSignal{ByAccountID: site.CurrentAccount(c).ID}, "privacy.retried", r.Step, "retried")
}

// privacyOfficerDownload hands the answer of a request an operator logged
// for a contact without an address to the officer, once.
func (s *Server) privacyOfficerDownload(c *gin.Context) {
	r, ok := s.officerRequest(c)
	if !ok {
		return
	}
	if r.RequesterEmail != "" {
		s.Fail(c, http.StatusForbidden, "Mailed to the requester", "The answer was mailed to the requester, whose link it is.")
		return
	}
	e, err := s.Store.LatestPrivacyExport(c, r.OrganizationID, r.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.Fail(c, http.StatusNotFound, "Not ready", "The answer is not ready yet.")
		return
	case err != nil:
		s.Internal(c, err)
		return
	case e.UsedAt != nil:
		s.Fail(c, http.StatusGone, "Downloaded", "The answer was downloaded already: each export is handed out once.")
		return
	case s.now().After(e.ExpiresAt):
		s.Fail(c, http.StatusGone, "Expired", "The answer has expired.")
		return
	}
	s.serveExport(c, e)
}

// --- the contact sidebar ------------------------------------------------------------

func (s *Server) sidebarContact(c *gin.Context) (*models.Contact, bool) {
	id, err := strconv.ParseUint(c.Param("id"), 10, 64)
	var ct *models.Contact
	if err == nil {
		ct, err = s.Store.Contact(c, site.CurrentOrg(c).ID, id)
	} else {
		err = store.ErrNotFound
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.Fail(c, http.StatusNotFound, "Not found", "There is no such contact.")
		return nil, false
	case err != nil:
		s.Internal(c, err)
		return nil, false
	}
	return ct, true
}

type contactPrivacy struct {
	Contact  *models.Contact
	Label    string
	Types    []struct{ Type, Label string }
	Grounds  []string
	Consents []string
	Fields   []models.Field
	Open     []privacyRow
}

func (s *Server) contactPrivacyData(c *gin.Context, ct *models.Contact) (contactPrivacy, error) {
	d := contactPrivacy{Contact: ct, Label: inboxContactLabel(ct), Types: models.DsrTypes, Grounds: models.ObjectionGrounds(),
		Consents: models.ConsentNames(), Fields: models.RectifiableFields(models.SubjectEndUser)}
	open, err := s.Store.PrivacyRequestsOfContact(c, ct.OrganizationID, ct.ID)
	for _, r := range open {
		d.Open = append(d.Open, s.privacyRow(r))
	}
	return d, err
}

func (s *Server) contactPrivacyPage(c *gin.Context) {
	ct, ok := s.sidebarContact(c)
	if !ok {
		return
	}
	d, err := s.contactPrivacyData(c, ct)
	if err != nil {
		s.Internal(c, err)
		return
	}
	s.Render(c, http.StatusOK, "privacy_contact", s.Page(c, "Privacy request for a contact", "contacts", d))
}

// contactPrivacyLog is an operator logging a request the contact made (in
// a conversation, by phone): the operator attests having verified who
// they are, so no code is mailed; the answer goes to the contact's address.
func (s *Server) contactPrivacyLog(c *gin.Context) {
	ct, ok := s.sidebarContact(c)
	if !ok {
		return
	}
	refuse := func(status int, msg string) {
		if site.WantsJSON(c) {
			c.AbortWithStatusJSON(status, gin.H{"error": msg})
			return
		}
		d, err := s.contactPrivacyData(c, ct)
		if err != nil {
			s.Internal(c, err)
			return
		}
		p := s.Page(c, "Privacy request for a contact", "contacts", d)
		p.Error = msg
		s.Render(c, status, "privacy_contact", p)
	}
	if c.PostForm("attest") != "on" {
		refuse(http.StatusBadRequest, "Confirm that you verified the person's identity (for example, they wrote from the identified chat or answered from the address on file).")
		return
	}
	changes := map[string]string{}
	for _, f := range models.RectifiableFields(models.SubjectEndUser) {
		if v := c.PostForm("change_" + f.Column); v != "" {
			changes[f.Column] = v
		}
	}
	ground := c.PostForm("ground")
	if c.PostForm("type") == models.DsrConsentWithdrawal {
		ground = c.PostForm("consent")
	}
	email, _ := validEmail(ct.Email)
	res, err := s.intakePrivacyRequest(c, privacyIntake{Org: site.CurrentOrg(c), Type: c.PostForm("type"), Ground: ground, Email: email,
		Changes: changes, Source: models.DsrSourceOperator, ContactID: ct.ID, LoggedBy: site.CurrentAccount(c).ID, Attested: true})
	var bad errPrivacyInput
	if errors.As(err, &bad) {
		refuse(bad.status, bad.msg)
		return
	}
	if s.privacyIntakeFailed(c, err) {
		return
	}
	if site.WantsJSON(c) {
		c.JSON(http.StatusAccepted, s.intakeAnswer(res))
		return
	}
	msg := fmt.Sprintf("The %s request %s is recorded; the privacy officers are told when it needs them.", strings.ReplaceAll(res.Request.Type, "_", " "), res.Request.WorkflowID())
	if res.Joined {
		msg = fmt.Sprintf("This contact already has an open %s request: %s.", strings.ReplaceAll(res.Request.Type, "_", " "), res.Request.WorkflowID())
	}
	s.Render(c, http.StatusOK, "message", s.Page(c, "Privacy request recorded", "contacts", msg))
}

// contactUnder16 flags a contact as a child under 16 (policy §12): the flag
// restricts the contact at once, and an erasure runs promptly, without a
// decision and without the month.
func (s *Server) contactUnder16(c *gin.Context) {
	ct, ok := s.sidebarContact(c)
	if !ok {
		return
	}
	if c.PostForm("confirm") != "on" {
		s.privacyFail(c, http.StatusBadRequest, "Confirm that the contact is under 16: their data will be erased at once and cannot be recovered.")
		return
	}
	org, a := site.CurrentOrg(c), site.CurrentAccount(c)
	err := s.Store.Tx(c, func(tx *store.Store) error {
		return tx.RecordPreference(c, models.SubjectPreference{OrganizationID: org.ID, ContactID: ct.ID, Kind: models.PreferenceUnder16,
			Active: true, Source: "operator", CreatedAt: s.now().UTC()})
	})
	if err != nil {
		s.Internal(c, err)
		return
	}
	s.Conversations.ForgetLiveSubject(ct.ID)
	res, err := s.intakePrivacyRequest(c, privacyIntake{Org: org, Type: models.DsrErasure, ForChild: true, Source: models.DsrSourceChildFlag,
		ContactID: ct.ID, LoggedBy: a.ID, Attested: true, Prompt: true})
	if s.privacyIntakeFailed(c, err) {
		return
	}
	if site.WantsJSON(c) {
		c.JSON(http.StatusAccepted, s.intakeAnswer(res))
		return
	}
	s.Render(c, http.StatusOK, "message", s.Page(c, "Flagged as under 16", "contacts",
		fmt.Sprintf("The contact is flagged as under 16 and its data is being erased now (request %s).", res.Request.WorkflowID())))
}
