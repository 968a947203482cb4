package dashboard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// Breach incidents (policy §11): a privacy officer (owner or admin) records
// an incident; its workflow (breach-<id>) keeps the 72-hour deadline,
// escalates, drafts the authority's notice and, on high risk, notifies the
// affected users. This page sends the officer's signals and shows the
// incident's trail.

// BreachWorkflows starts and signals incident workflows.
type BreachWorkflows interface {
	Start(ctx context.Context, in workflows.BreachInput) error
	Assess(ctx context.Context, incidentID uint64, sig workflows.BreachAssessSignal) error
	NoticeSent(ctx context.Context, incidentID uint64, sig workflows.BreachNoticeSentSignal) error
}

// TemporalBreaches runs incident workflows on Temporal.
type TemporalBreaches struct{ Client client.Client }

// Start starts the incident's workflow; an incident's workflow that is
// already running is left as it is.
func (t TemporalBreaches) Start(ctx context.Context, in workflows.BreachInput) error {
	_, err := t.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       workflows.BreachWorkflowID(in.IncidentID),
		TaskQueue:                workflows.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			workflows.ConvotOrgId.ValueSet(strconv.FormatUint(in.OrganizationID, 10)),
			workflows.BreachNoticeDue.ValueSet(in.AwareAt.Add(workflows.BreachNoticeWindow)),
			workflows.BreachStatus.ValueSet(workflows.BreachOpen),
		),
	}, workflows.BreachWorkflowType, in)
	return err
}

// Assess signals the officer's risk assessment.
func (t TemporalBreaches) Assess(ctx context.Context, id uint64, sig workflows.BreachAssessSignal) error {
	return t.Client.SignalWorkflow(ctx, workflows.BreachWorkflowID(id), "", workflows.SignalBreachAssess, sig)
}

// NoticeSent signals that the authority's notice was sent.
func (t TemporalBreaches) NoticeSent(ctx context.Context, id uint64, sig workflows.BreachNoticeSentSignal) error {
	return t.Client.SignalWorkflow(ctx, workflows.BreachWorkflowID(id), "", workflows.SignalBreachNotified, sig)
}

// incidentForm is what the officer records, kept to show back on error.
type incidentForm struct {
	AwareAt, OccurredAt            string
	Nature, Consequences, Measures string
	Categories, SubjectKinds       []string
	ApproxSubjects, ApproxRecords  string
	ContactName, ContactEmail      string
	Organizations                  string // staff: the organizations whose accounts are concerned
	categorySet, subjectSet        map[string]bool
	awareAt, occurredAt            time.Time
	approxSubjects, approxRecords  int64
}

// incident is the open incident the form records, by the account
// recorder, at now; whose it is and which organizations it concerns are
// the caller's.
func (f incidentForm) incident(recorder uint64, now time.Time) models.Incident {
	inc := models.Incident{
		RecordedByID: recorder, AwareAt: f.awareAt.UTC(), Nature: f.Nature, Categories: f.Categories, SubjectKinds: f.SubjectKinds,
		ApproxSubjects: f.approxSubjects, ApproxRecords: f.approxRecords, Consequences: f.Consequences, Measures: f.Measures,
		ContactName: f.ContactName, ContactEmail: f.ContactEmail, Status: models.IncidentOpen,
		NoticeDueAt: f.awareAt.UTC().Add(workflows.BreachNoticeWindow), CreatedAt: now, UpdatedAt: now,
	}
	if !f.occurredAt.IsZero() {
		o := f.occurredAt.UTC()
		inc.OccurredAt = &o
	}
	return inc
}

// Checked reports whether a category or subject kind was chosen.
func (f incidentForm) Checked(v string) bool { return f.categorySet[v] || f.subjectSet[v] }

type categoryOption struct{ Name, Description string }

func categoryOptions() []categoryOption {
	var out []categoryOption
	for name, d := range models.Categories {
		out = append(out, categoryOption{name, d})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// timeLayout is how the form's datetime-local fields arrive (in UTC).
const timeLayout = "2006-01-02T15:04"

func (h *Handler) incidentsPage(c *gin.Context) {
	a := site.CurrentAccount(c)
	form := incidentForm{AwareAt: h.Now().UTC().Format(timeLayout), ContactName: a.FullName, ContactEmail: a.Email}
	h.renderIncidents(c, http.StatusOK, form, "")
}

func (h *Handler) renderIncidents(c *gin.Context, status int, form incidentForm, problem string) {
	org := site.CurrentOrg(c)
	list, err := h.Store.IncidentSummaries(c, org.ID)
	if err != nil {
		h.Internal(c, err)
		return
	}
	p := h.Page(c, "Incidents", "incidents", gin.H{
		"Incidents": list, "Form": form, "Categories": categoryOptions(), "Now": h.Now().UTC(), "FormAction": "/incidents",
	})
	p.Error = problem
	h.Render(c, status, "incidents", p)
}

func (h *Handler) parseIncidentForm(c *gin.Context) (incidentForm, string) {
	f := incidentForm{
		AwareAt: c.PostForm("aware_at"), OccurredAt: c.PostForm("occurred_at"),
		Nature: strings.TrimSpace(c.PostForm("nature")), Consequences: strings.TrimSpace(c.PostForm("consequences")),
		Measures: strings.TrimSpace(c.PostForm("measures")), Categories: c.PostFormArray("categories"),
		SubjectKinds: c.PostFormArray("subject_kinds"), ApproxSubjects: strings.TrimSpace(c.PostForm("approx_subjects")),
		ApproxRecords: strings.TrimSpace(c.PostForm("approx_records")), ContactName: strings.TrimSpace(c.PostForm("contact_name")),
		ContactEmail: strings.TrimSpace(c.PostForm("contact_email")), Organizations: strings.TrimSpace(c.PostForm("organizations")),
		categorySet: map[string]bool{}, subjectSet: map[string]bool{},
	}
	for _, cat := range f.Categories {
		if _, ok := models.Categories[cat]; !ok {
			return f, "Choose data categories from the list."
		}
		f.categorySet[cat] = true
	}
	for _, k := range f.SubjectKinds {
		if k != models.SubjectCustomer && k != models.SubjectEndUser {
			return f, "Choose who is affected from the list."
		}
		f.subjectSet[k] = true
	}
	var err error
	f.awareAt, err = time.Parse(timeLayout, f.AwareAt)
	switch {
	case err != nil:
		return f, "Give the date and time you became aware of the breach (UTC)."
	case f.awareAt.After(h.Now().UTC().Add(5 * time.Minute)):
		return f, "The time of awareness cannot be in the future."
	}
	if f.OccurredAt != "" {
		if f.occurredAt, err = time.Parse(timeLayout, f.OccurredAt); err != nil {
			return f, "The time the breach occurred is not a date and time."
		}
	}
	switch {
	case f.Nature == "":
		return f, "Describe the nature of the breach."
	case len(f.Nature) > 5000 || len(f.Consequences) > 5000 || len(f.Measures) > 5000:
		return f, "Keep each description under 5,000 characters."
	case len(f.Categories) == 0:
		return f, "Choose at least one category of personal data concerned (or the nearest one)."
	case len(f.SubjectKinds) == 0:
		return f, "Choose whose data is concerned: customers' operators, end users, or both."
	case f.ContactName == "" || len(f.ContactName) > 200:
		return f, "Name the data protection officer or other contact point."
	}
	if f.ContactEmail, err = validEmail(f.ContactEmail); err != nil {
		return f, "Give the contact point's email address."
	}
	parseCount := func(v string) (int64, bool) {
		if v == "" {
			return 0, true
		}
		n, err := strconv.ParseInt(v, 10, 64)
		return n, err == nil && n >= 0
	}
	var ok bool
	if f.approxSubjects, ok = parseCount(f.ApproxSubjects); !ok {
		return f, "The approximate number of people must be a whole number."
	}
	if f.approxRecords, ok = parseCount(f.ApproxRecords); !ok {
		return f, "The approximate number of records must be a whole number."
	}
	return f, ""
}

func (h *Handler) recordIncident(c *gin.Context) {
	a, org := site.CurrentAccount(c), site.CurrentOrg(c)
	f, problem := h.parseIncidentForm(c)
	if problem != "" {
		h.renderIncidents(c, http.StatusUnprocessableEntity, f, problem)
		return
	}
	now := h.Now().UTC()
	inc := f.incident(a.ID, now)
	inc.OrganizationID, inc.DataKeyID, inc.AffectedOrganizations = org.ID, org.DataKeyID, []uint64{org.ID}
	err := h.Store.Tx(c, func(tx *store.Store) error {
		if err := tx.CreateIncident(c, &inc); err != nil {
			return err
		}
		step := models.IncidentStep{IncidentID: inc.ID, OrganizationID: org.ID, OnceKey: "recorded", Step: "recorded",
			Detail: fmt.Sprintf("aware %s; notice due %s", inc.AwareAt.Format(time.RFC3339), inc.NoticeDueAt.Format(time.RFC3339)), ActorID: a.ID, At: now}
		if err := tx.CreateIncidentStep(c, &step); err != nil {
			return err
		}
		return h.Audit(tx, c, org.ID, a.ID, a.DataKeyID, "incident.recorded", site.Target("incident", inc.ID), "notice due "+inc.NoticeDueAt.Format(time.RFC3339))
	})
	if err != nil {
		h.Internal(c, err)
		return
	}
	if err := h.startBreach(c, &inc); err != nil {
		return
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/incidents/%d", inc.ID))
}

// startBreach starts the incident's workflow; on failure it answers 503
// (the incident is recorded; the page offers to start tracking again).
func (h *Handler) startBreach(c *gin.Context, inc *models.Incident) error {
	b := h.Breaches()
	err := errors.New("no workflow service configured")
	if b != nil {
		err = b.Start(c, workflows.BreachInput{IncidentID: inc.ID, OrganizationID: inc.OrganizationID, AwareAt: inc.AwareAt})
	}
	if err != nil {
		slog.Warn("starting a breach workflow failed", "incident", inc.ID, "err", err)
		h.Fail(c, http.StatusServiceUnavailable, "Recorded, not yet tracked",
			fmt.Sprintf("Incident %d is recorded, but its 72-hour deadline could not be started. Open the incident and start tracking it again.", inc.ID))
		return err
	}
	return nil
}

// incident loads one of the current organization's incidents; another
// organization's is not found.
func (h *Handler) incident(c *gin.Context) (*models.Incident, bool) {
	return site.OwnRow(h.Site, c, "incident", h.Store.Incident)
}

func (h *Handler) incidentPage(c *gin.Context) {
	inc, ok := h.incident(c)
	if !ok {
		return
	}
	h.renderIncident(c, http.StatusOK, inc, "")
}

func (h *Handler) renderIncident(c *gin.Context, status int, inc *models.Incident, problem string) {
	data, err := h.incidentData(c, inc, fmt.Sprintf("/incidents/%d", inc.ID))
	if err != nil {
		h.Internal(c, err)
		return
	}
	h.RenderForm(c, status, "incident", fmt.Sprintf("Incident %d", inc.ID), "incidents", data, problem)
}

// incidentActors names who took each step of an incident's trail: the
// organization's officers by name, Convot's staff by name on the staff
// console and as "Convot's staff" to an organization.
func (h *Handler) incidentActors(c *gin.Context, inc *models.Incident, steps []models.IncidentStep, staff bool) (map[uint64]string, error) {
	names := map[uint64]string{}
	var ids []uint64
	for _, st := range steps {
		if st.ActorID != 0 && !slices.Contains(ids, st.ActorID) {
			ids = append(ids, st.ActorID)
		}
	}
	if len(ids) == 0 {
		return names, nil
	}
	if !inc.OwnedByConvot() {
		accounts, err := h.Store.AccountsByID(c, inc.OrganizationID, ids)
		if err != nil {
			return nil, err
		}
		for _, a := range accounts {
			names[a.ID] = a.FullName
		}
	}
	for _, id := range ids {
		if _, ok := names[id]; !ok {
			names[id] = "Convot's staff"
		}
	}
	if staff {
		members, err := h.Store.StaffAccounts(c)
		if err != nil {
			return nil, err
		}
		for _, m := range members {
			if slices.Contains(ids, m.Account.ID) {
				names[m.Account.ID] = m.Account.FullName + " (Convot's staff)"
			}
		}
	}
	return names, nil
}

// incidentData is what an incident's page shows (the incident-detail
// template), for the officer's page or the staff console's, at base.
func (h *Handler) incidentData(c *gin.Context, inc *models.Incident, base string) (gin.H, error) {
	steps, err := h.Store.IncidentSteps(c, inc.OrganizationID, inc.ID)
	if err != nil {
		return nil, err
	}
	tracked := false
	for _, st := range steps {
		if st.Step == workflows.StepWorkflowStarted {
			tracked = true
		}
	}
	now := h.Now().UTC()
	var categories []categoryOption
	for _, cat := range inc.Categories {
		categories = append(categories, categoryOption{cat, models.Categories[cat]})
	}
	actors, err := h.incidentActors(c, inc, steps, strings.HasPrefix(base, "/staff/"))
	if err != nil {
		return nil, err
	}
	return gin.H{
		"Incident": inc, "Steps": steps, "Actors": actors, "Categories": categories, "Untracked": !tracked, "Base": base,
		"Overdue": now.After(inc.NoticeDueAt), "Left": inc.NoticeDueAt.Sub(now).Round(time.Minute),
		"Open": inc.Status != models.IncidentClosed, "WorkflowURL": h.WorkflowURL(workflows.BreachWorkflowID(inc.ID)),
	}, nil
}

// WorkflowURL links a workflow in the Temporal UI, or "" without one.
func (h *Handler) WorkflowURL(id string) string {
	if h.TemporalUIURL == "" {
		return ""
	}
	ns := "default"
	if h.Config != nil && h.Config.TemporalNamespace != "" {
		ns = h.Config.TemporalNamespace
	}
	return strings.TrimSuffix(h.TemporalUIURL, "/") + "/namespaces/" + url.PathEscape(ns) + "/workflows/" + url.PathEscape(id)
}

func (h *Handler) assessIncident(c *gin.Context) {
	a := site.CurrentAccount(c)
	inc, ok := h.incident(c)
	if !ok {
		return
	}
	risk := c.PostForm("risk")
	reason := strings.TrimSpace(c.PostForm("reason"))
	switch {
	case risk != models.RiskNone && risk != models.RiskLow && risk != models.RiskHigh:
		h.renderIncident(c, http.StatusUnprocessableEntity, inc, "Choose the risk: none, low or high.")
		return
	case reason == "" || len(reason) > 5000:
		h.renderIncident(c, http.StatusUnprocessableEntity, inc, "Give the reasons for the assessment (under 5,000 characters).")
		return
	case inc.Status == models.IncidentClosed:
		h.renderIncident(c, http.StatusConflict, inc, "This incident is closed.")
		return
	}
	inc.RiskReason = reason
	inc.UpdatedAt = h.Now().UTC()
	if err := h.Store.SaveIncidentRiskReason(c, inc.OrganizationID, inc); err != nil {
		h.Internal(c, err)
		return
	}
	if !h.signalBreach(c, inc, func(b BreachWorkflows) error {
		return b.Assess(c, inc.ID, workflows.BreachAssessSignal{Risk: risk, ActorID: a.ID})
	}) {
		return
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/incidents/%d", inc.ID))
}

func (h *Handler) incidentNoticeSent(c *gin.Context) {
	a := site.CurrentAccount(c)
	inc, ok := h.incident(c)
	if !ok {
		return
	}
	now := h.Now().UTC()
	reasons := strings.TrimSpace(c.PostForm("delay_reasons"))
	if status, problem := noticeSentRefusal(inc, reasons, now); status != 0 {
		h.renderIncident(c, status, inc, problem)
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
	if !h.signalBreach(c, inc, func(b BreachWorkflows) error {
		return b.NoticeSent(c, inc.ID, workflows.BreachNoticeSentSignal{ActorID: a.ID, SentAt: now})
	}) {
		return
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/incidents/%d", inc.ID))
}

func (h *Handler) trackIncident(c *gin.Context) {
	inc, ok := h.incident(c)
	if !ok {
		return
	}
	if err := h.startBreach(c, inc); err != nil {
		return
	}
	c.Redirect(http.StatusSeeOther, fmt.Sprintf("/incidents/%d", inc.ID))
}

// signalBreach delivers a signal; false when it answered with an error.
func (h *Handler) signalBreach(c *gin.Context, inc *models.Incident, send func(BreachWorkflows) error) bool {
	b := h.Breaches()
	err := errors.New("no workflow service configured")
	if b != nil {
		err = send(b)
	}
	if err != nil {
		slog.Warn("signalling a breach workflow failed", "incident", inc.ID, "err", err)
		h.renderIncident(c, http.StatusServiceUnavailable, inc, "The incident's workflow could not be reached. Try again in a moment.")
		return false
	}
	return true
}

// noticeSentRefusal checks marking an incident's authority notice as sent,
// for officers and staff alike: once only, and late only with the reasons
// for the delay (GDPR Art. 33(1)). It returns 0 when the notice may be
// marked.
func noticeSentRefusal(inc *models.Incident, reasons string, now time.Time) (int, string) {
	switch {
	case inc.NoticeSentAt != nil || inc.Status == models.IncidentClosed:
		return http.StatusConflict, "The notice is already marked sent."
	case len(reasons) > 5000:
		return http.StatusUnprocessableEntity, "Keep the reasons for the delay under 5,000 characters."
	case now.After(inc.NoticeDueAt) && reasons == "" && strings.TrimSpace(inc.DelayReasons) == "":
		return http.StatusUnprocessableEntity, "The notice is sent more than 72 hours after awareness: give the reasons for the delay (GDPR Art. 33(1))."
	}
	return 0, ""
}
