package dashboard

import (
	"encoding/csv"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
)

// auditTable is one auditor page: rows shown, downloaded as CSV, and the
// structured document downloaded as JSON.
type auditTable struct {
	Name     string // file name of downloads
	Heading  string
	Intro    string
	Columns  []string
	Rows     [][]string
	Document any
	Filters  map[string]string // the decision log's filter form, when set
	Sources  []regoSource
	Query    string
}

type regoSource struct{ Name, Text string }

func (h *Handler) auditorIndex(c *gin.Context) {
	h.Render(c, http.StatusOK, "auditor", h.Page(c, "Auditor", "auditor", auditTable{
		Heading: "Auditor",
		Intro:   "Read-only views of how Convot keeps its privacy policy. Every page downloads as JSON and CSV.",
		Columns: []string{"Page", "What it shows"},
		Rows: [][]string{
			{"/auditor/policies", "the egress policies (Rego) and the result of their tests"},
			{"/auditor/decisions", "every decision of the egress gate"},
			{"/auditor/subprocessors", "the subprocessor registry and which are configured here"},
			{"/auditor/processing", "the record of processing derived from the data inventory"},
			{"/auditor/promises", "the promise ledger: each promise of the policy, its mechanism, its tests and when they last passed"},
			{"/auditor/dpa", "who accepted which version of the Data Processing Agreement, and when"},
			{"/auditor/incidents", "this organization's breach incidents and their 72-hour notices"},
			{"/auditor/backups", "every backup run: when, its figures, its expiry"},
			{"/auditor/sweeps", "every retention sweep run: the class, its cutoff and what it deleted (counts)"},
			{"/auditor/key-rotations", "every rotation of the master key"},
		},
	}))
}

func (h *Handler) showAuditTable(c *gin.Context, t auditTable) {
	switch c.Query("format") {
	case "json":
		c.Header("Content-Disposition", `attachment; filename="`+t.Name+`.json"`)
		c.JSON(http.StatusOK, t.Document)
	case "csv":
		c.Header("Content-Type", "text/csv; charset=utf-8")
		c.Header("Content-Disposition", `attachment; filename="`+t.Name+`.csv"`)
		if err := writeAuditCSV(c.Writer, t); err != nil {
			// The answer has begun, so only the log can tell; the error is
			// the connection's (the client left), not the rows'.
			slog.Warn("audit table not sent", "table", t.Name, "err", err)
		}
	case "":
		t.Query = c.Request.URL.RawQuery
		h.Render(c, http.StatusOK, "auditor", h.Page(c, t.Heading, "auditor", t))
	default:
		h.Fail(c, http.StatusBadRequest, "Bad request", "format must be json or csv.")
	}
}

// writeAuditCSV writes the table's columns and rows (made csvSafe) as CSV.
func writeAuditCSV(out io.Writer, t auditTable) error {
	w := csv.NewWriter(out)
	if err := w.Write(t.Columns); err != nil {
		return err
	}
	for _, row := range t.Rows {
		if err := w.Write(csvSafe(row)); err != nil {
			return err
		}
	}
	w.Flush()
	return w.Error()
}

// csvSafe keeps a spreadsheet from reading a cell as a formula.
func csvSafe(row []string) []string {
	out := make([]string, len(row))
	for i, v := range row {
		if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
			v = "'" + v
		}
		out[i] = v
	}
	return out
}

var (
	regoTestsOnce   sync.Once
	regoTestResults []policies.TestResult
	regoTestsErr    error
)

func (h *Handler) auditorPolicies(c *gin.Context) {
	// The policies are embedded in the binary: their tests run once.
	regoTestsOnce.Do(func() { regoTestResults, regoTestsErr = policies.RunTests(c) })
	if regoTestsErr != nil {
		h.Internal(c, regoTestsErr)
		return
	}
	t := auditTable{Name: "policies", Heading: "Egress policies",
		Intro:   "Revision " + policies.Revision() + ". Default deny; every rule has a test.",
		Columns: []string{"Test", "Result", "Duration"},
	}
	passed := 0
	for _, r := range regoTestResults {
		result := "FAIL " + r.Error
		if r.Pass {
			result, passed = "PASS", passed+1
		}
		t.Rows = append(t.Rows, []string{r.Package + "." + r.Name, result, r.Duration.String()})
	}
	t.Intro += " " + strconv.Itoa(passed) + " of " + strconv.Itoa(len(regoTestResults)) + " tests pass."
	sources := policies.Sources()
	names := make([]string, 0, len(sources))
	for n := range sources {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t.Sources = append(t.Sources, regoSource{n, sources[n]})
	}
	t.Document = gin.H{"revision": policies.Revision(), "sources": sources, "tests": regoTestResults}
	h.showAuditTable(c, t)
}

func (h *Handler) auditorDecisions(c *gin.Context) {
	f := models.DecisionFilter{Subprocessor: c.Query("subprocessor"), Result: c.Query("result"),
		OrganizationID: site.CurrentOrg(c).ID, Limit: 1000}
	if f.Result != "" && f.Result != "allow" && f.Result != "deny" {
		h.Fail(c, http.StatusBadRequest, "Bad request", "result must be allow or deny.")
		return
	}
	for name, dst := range map[string]*time.Time{"from": &f.From, "to": &f.To} {
		if v := c.Query(name); v != "" {
			d, err := time.Parse("2006-01-02", v)
			if err != nil {
				h.Fail(c, http.StatusBadRequest, "Bad request", name+" must be a date such as 2026-01-31.")
				return
			}
			*dst = d
		}
	}
	if !f.To.IsZero() {
		f.To = f.To.Add(24 * time.Hour) // the whole day named
	}
	decisions, err := h.Store.Decisions(c, site.CurrentOrg(c).ID, f)
	if err != nil {
		h.Internal(c, err)
		return
	}
	t := auditTable{Name: "decisions", Heading: "Decision log",
		Intro:   "Every decision of the egress gate for this organization, newest first (at most 1000).",
		Columns: []string{"Time", "Subprocessor", "Purpose", "Categories", "Result", "Reason", "Dropped", "Redacted", "Policy revision"},
		Filters: map[string]string{"subprocessor": f.Subprocessor, "result": f.Result, "from": c.Query("from"), "to": c.Query("to")},
	}
	for _, d := range decisions {
		result := "deny"
		if d.Allow {
			result = "allow"
		}
		t.Rows = append(t.Rows, []string{d.CreatedAt.UTC().Format(time.RFC3339), d.Subprocessor, d.Purpose, d.Categories, result, d.Reason, d.Drop, d.Redact, d.PolicyRevision})
	}
	t.Document = gin.H{"decisions": decisions}
	h.showAuditTable(c, t)
}

func (h *Handler) auditorSubprocessors(c *gin.Context) {
	reg, err := policies.LoadRegistry()
	if err != nil {
		h.Internal(c, err)
		return
	}
	configured := h.Config.Configured()
	t := auditTable{Name: "subprocessors", Heading: "Subprocessors",
		Intro:   "The registry the egress gate reads (policy §6, §7).",
		Columns: []string{"Subprocessor", "Legal entity", "Service", "Purposes", "Categories", "Locations", "Transfer mechanisms", "DPA signed", "Configured here"},
	}
	names := reg.SubprocessorNames()
	for _, n := range names {
		sp := reg.Subprocessors[n]
		t.Rows = append(t.Rows, []string{n, sp.LegalName, sp.Service, strings.Join(sp.Purposes, ", "), strings.Join(sp.Categories, ", "),
			strings.Join(sp.Locations, ", "), transferList(sp.Transfers), yesNo(sp.DPASigned), yesNo(configured[n])})
	}
	t.Document = gin.H{"subprocessors": reg.Subprocessors, "configured": configured}
	h.showAuditTable(c, t)
}

func (h *Handler) auditorProcessing(c *gin.Context) {
	rows := models.RecordOfProcessing()
	t := auditTable{Name: "record-of-processing", Heading: "Record of processing",
		Intro:   "Derived from the data inventory: the privacy tags of the models themselves.",
		Columns: []string{"Data subject", "Category", "Purposes", "Legal bases", "Retention", "Stored", "Form"},
	}
	for _, r := range rows {
		t.Rows = append(t.Rows, []string{r.Subject, r.Category, strings.Join(r.Purposes, ", "), strings.Join(r.LegalBases, ", "), r.Retention, r.Stored, r.Form})
	}
	t.Document = gin.H{"records": rows}
	h.showAuditTable(c, t)
}

func (h *Handler) auditorPromises(c *gin.Context) {
	l, err := policies.LoadLedger()
	if err != nil {
		h.Internal(c, err)
		return
	}
	results, err := h.Store.TestResults(c)
	if err != nil {
		h.Internal(c, err)
		return
	}
	regoTestsOnce.Do(func() { regoTestResults, regoTestsErr = policies.RunTests(c) })
	if regoTestsErr != nil {
		h.Internal(c, regoTestsErr)
		return
	}
	t := auditTable{Name: "promises", Heading: "Promise ledger",
		Intro: "Each promise of the published policy, the mechanism that keeps it, and the tests that prove it. " +
			"Last passed is what `convot audit record-tests` recorded from a `go test -json` run; the Rego tests run in this server.",
		Columns: []string{"Section", "State", "Promise", "Mechanism", "Tests", "Last passed", "Note"},
	}
	type promiseRow struct {
		policies.Promise
		LastPassed map[string]string `json:"last_passed"`
	}
	doc := struct {
		*policies.Ledger
		Promises []promiseRow `json:"promises"`
	}{Ledger: l}
	for _, p := range l.Promises {
		row := promiseRow{Promise: p, LastPassed: map[string]string{}}
		var last []string
		for _, name := range p.Tests {
			row.LastPassed[name] = lastPassed(name, results, regoTestResults)
			last = append(last, row.LastPassed[name])
		}
		doc.Promises = append(doc.Promises, row)
		t.Rows = append(t.Rows, []string{p.Section, p.State, p.Promise, p.Mechanism, strings.Join(p.Tests, "\n"), strings.Join(last, "\n"), p.Note})
	}
	t.Document = doc
	h.showAuditTable(c, t)
}

// lastPassed says when a cited test last passed: a Go test as recorded
// from a `go test -json` run ("not recorded" when no run named it, and
// the failure when its latest run failed), a Rego test as this server
// ran it.
func lastPassed(name string, results map[string]models.TestResult, rego []policies.TestResult) string {
	if rule, ok := strings.CutPrefix(name, "rego:"); ok {
		for _, r := range rego {
			if r.Name == rule {
				if r.Pass {
					return "passed in this server"
				}
				return "FAILED in this server"
			}
		}
		return "not recorded"
	}
	r, ok := results[name]
	if !ok {
		return "not recorded"
	}
	passed := "never passed"
	if r.LastPassedAt != nil {
		passed = r.LastPassedAt.UTC().Format(time.RFC3339)
		if r.Revision != "" {
			passed += " (" + r.Revision + ")"
		}
	}
	if r.LastResult != "pass" {
		return "latest run " + r.LastResult + " at " + r.LastRunAt.UTC().Format(time.RFC3339) + "; last passed: " + passed
	}
	return passed
}

// auditorIncidents lists the organization's breach incidents: when it
// became aware, the notice due and sent, the risk and status. No names.
func (h *Handler) auditorIncidents(c *gin.Context) {
	list, err := h.Store.IncidentSummaries(c, site.CurrentOrg(c).ID)
	if err != nil {
		h.Internal(c, err)
		return
	}
	t := auditTable{Name: "incidents", Heading: "Incidents",
		Intro:   "Personal-data breaches recorded for this organization (policy §10), newest first, with their notices to the authority (due 72 hours after awareness).",
		Columns: []string{"Incident", "Aware", "Notice due", "Notice sent", "Late", "Risk", "Status", "Approx. subjects"},
	}
	type incidentRow struct {
		ID             uint64     `json:"id"`
		AwareAt        time.Time  `json:"aware_at"`
		NoticeDueAt    time.Time  `json:"notice_due_at"`
		NoticeSentAt   *time.Time `json:"notice_sent_at"`
		NoticeLate     bool       `json:"notice_late"`
		Risk           string     `json:"risk"`
		Status         string     `json:"status"`
		ApproxSubjects int64      `json:"approx_subjects"`
	}
	rows := []incidentRow{}
	for _, inc := range list {
		rows = append(rows, incidentRow{inc.ID, inc.AwareAt, inc.NoticeDueAt, inc.NoticeSentAt, inc.NoticeLate, inc.Risk, inc.Status, inc.ApproxSubjects})
		t.Rows = append(t.Rows, []string{strconv.FormatUint(inc.ID, 10), stamp(&inc.AwareAt), stamp(&inc.NoticeDueAt), stamp(inc.NoticeSentAt),
			yesNo(inc.NoticeLate), inc.Risk, inc.Status, strconv.FormatInt(inc.ApproxSubjects, 10)})
	}
	t.Document = gin.H{"incidents": rows}
	h.showAuditTable(c, t)
}

// auditorBackups lists every backup run of the deployment: figures and
// times, never contents.
func (h *Handler) auditorBackups(c *gin.Context) {
	list, err := h.Store.Backups(c)
	if err != nil {
		h.Internal(c, err)
		return
	}
	t := auditTable{Name: "backups", Heading: "Backup runs",
		Intro:   "Every backup of the deployment (policy §8, §10): encrypted, each deleted 90 days after it was taken. Newest first.",
		Columns: []string{"Backup", "Status", "Taken", "Completed", "Tables", "Rows", "Bytes", "Master key", "Expires", "Expired", "Destroyed keys removed", "Error"},
	}
	for _, b := range list {
		t.Rows = append(t.Rows, []string{strconv.FormatUint(b.ID, 10), b.Status, stamp(&b.TakenAt), stamp(b.CompletedAt),
			strconv.Itoa(b.TableCount), strconv.FormatInt(b.RowCount, 10), strconv.FormatInt(b.Bytes, 10),
			"v" + strconv.FormatUint(uint64(b.MasterVersion), 10), stamp(&b.ExpiresAt), stamp(b.ExpiredAt), stamp(b.KeysShreddedAt), b.Error})
	}
	if list == nil {
		list = []models.Backup{}
	}
	t.Document = gin.H{"backups": list}
	h.showAuditTable(c, t)
}

// auditorDeploymentEvents shows the deployment's own audit events of the
// actions: retention sweeps, key rotations.
func (h *Handler) auditorDeploymentEvents(name, heading, intro string, actions ...string) gin.HandlerFunc {
	return func(c *gin.Context) {
		list, err := h.Store.DeploymentEvents(c, actions, 1000)
		if err != nil {
			h.Internal(c, err)
			return
		}
		t := auditTable{Name: name, Heading: heading, Intro: intro, Columns: []string{"Time", "Action", "Target", "Detail"}}
		type eventRow struct {
			ID        uint64    `json:"id"`
			CreatedAt time.Time `json:"created_at"`
			Action    string    `json:"action"`
			Target    string    `json:"target"`
			Detail    string    `json:"detail"`
		}
		rows := []eventRow{}
		for _, e := range list {
			rows = append(rows, eventRow{e.ID, e.CreatedAt, e.Action, e.Target, e.Detail})
			t.Rows = append(t.Rows, []string{stamp(&e.CreatedAt), e.Action, e.Target, e.Detail})
		}
		t.Document = gin.H{name: rows}
		h.showAuditTable(c, t)
	}
}

// stamp is a time for a table cell, "" when there is none.
func stamp(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// transferList describes a subprocessor's transfer mechanisms, one a line.
func transferList(ts []policies.Transfer) string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.String()
	}
	return strings.Join(out, "\n")
}
