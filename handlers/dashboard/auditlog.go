package dashboard

import (
	"encoding/csv"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
)

// Audit log pages show auditLogPage events; a download holds up to
// auditLogExport.
const (
	auditLogPage   = 100
	auditLogExport = 10000
)

// auditLogRow is one event as shown and downloaded: the actor by name
// (auditors may read the team list), never by a bare account number.
type auditLogRow struct {
	ID        uint64    `json:"id"`
	CreatedAt time.Time `json:"created_at"`
	Action    string    `json:"action"`
	ActorID   uint64    `json:"actor_id"`
	Actor     string    `json:"actor"`
	Target    string    `json:"target"`
	Detail    string    `json:"detail"`
}

type auditLogView struct {
	// Log is "" for security events, "access" for operators' access to
	// personal data (models.AccessEvent, kept under its own retention).
	Log           string
	AccessActions []string
	Rows          []auditLogRow
	Members       []models.Account
	Filters       map[string]string
	// Downloads and Next are links: to the filtered log as CSV and JSON, and
	// to the next (older) page when there is one. They are built from
	// url.Values.Encode, so only the query string's own characters appear.
	CSV, JSON, Next template.URL
}

// auditLog shows the organization's audit log filtered by actor, action and
// date range, a page at a time (?before=ID), or downloads it whole as CSV
// or JSON (?format=csv, ?format=json).
func (h *Handler) auditLog(c *gin.Context) {
	org := site.CurrentOrg(c)
	f := store.AuditFilter{Action: c.Query("action"), Limit: auditLogPage + 1}
	for name, dst := range map[string]*uint64{"actor": &f.ActorID, "before": &f.BeforeID} {
		if v := c.Query(name); v != "" {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				h.Fail(c, http.StatusBadRequest, "Bad request", name+" must be a number.")
				return
			}
			*dst = n
		}
	}
	if len(f.Action) > 100 {
		h.Fail(c, http.StatusBadRequest, "Bad request", "action is at most 100 characters.")
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
	format := c.Query("format")
	if format == "" && site.WantsJSON(c) {
		format = "json"
	}
	switch format {
	case "", "json", "csv":
	default:
		h.Fail(c, http.StatusBadRequest, "Bad request", "format must be json or csv.")
		return
	}
	if format != "" {
		f.Limit = auditLogExport
	}
	log := c.Query("log")
	var events []models.AuditEvent
	var err error
	switch log {
	case "":
		events, err = h.Store.AuditLog(c, org.ID, f)
	case "access":
		var access []models.AccessEvent
		access, err = h.Store.AccessLog(c, org.ID, f)
		for _, e := range access {
			events = append(events, models.AuditEvent{ID: e.ID, OrganizationID: e.OrganizationID, ActorID: e.AccountID,
				Action: e.Action, Target: e.Target, CreatedAt: e.CreatedAt})
		}
	default:
		h.Fail(c, http.StatusBadRequest, "Bad request", "log must be empty or access.")
		return
	}
	if err != nil {
		h.Internal(c, err)
		return
	}
	// The download holds the team's names: taking it is an access too.
	if format != "" && !h.RecordAccess(c, models.AccessExportDownloaded, "audit_log") {
		return
	}
	members, err := h.Store.ActiveMembers(c, org.ID)
	if err != nil {
		h.Internal(c, err)
		return
	}
	rows, err := h.auditLogRows(c, org.ID, events)
	if err != nil {
		h.Internal(c, err)
		return
	}
	filters := map[string]string{"log": log, "actor": c.Query("actor"), "action": f.Action, "from": c.Query("from"), "to": c.Query("to")}
	query := auditLogQuery(filters, 0)
	switch format {
	case "json":
		c.Header("Content-Disposition", `attachment; filename="`+auditLogFile(log)+`.json"`)
		c.JSON(http.StatusOK, gin.H{"events": rows})
		return
	case "csv":
		c.Header("Content-Type", "text/csv; charset=utf-8")
		c.Header("Content-Disposition", `attachment; filename="`+auditLogFile(log)+`.csv"`)
		w := csv.NewWriter(c.Writer)
		_ = w.Write([]string{"ID", "Time", "Action", "Actor", "Actor ID", "Target", "Detail"}) // errors surface at Flush
		for _, r := range rows {
			_ = w.Write(csvSafe([]string{strconv.FormatUint(r.ID, 10), r.CreatedAt.UTC().Format(time.RFC3339), r.Action, r.Actor,
				strconv.FormatUint(r.ActorID, 10), r.Target, r.Detail}))
		}
		w.Flush()
		if err := w.Error(); err != nil {
			slog.Warn("audit log not sent", "err", err)
		}
		return
	}
	sep := "?"
	if query != "" {
		sep = "?" + query + "&"
	}
	v := auditLogView{Log: log, AccessActions: models.AccessActions, Members: members, Filters: filters,
		CSV: template.URL(sep + "format=csv"), JSON: template.URL(sep + "format=json")} // #nosec G203 -- an encoded query string
	if len(rows) > auditLogPage {
		rows = rows[:auditLogPage]
		v.Next = template.URL("?" + auditLogQuery(filters, rows[len(rows)-1].ID)) // #nosec G203 -- an encoded query string
	}
	v.Rows = rows
	h.Render(c, http.StatusOK, "audit", h.Page(c, "Audit log", "audit", v))
}

// auditLogRows names each event's actor: the account's full name, or
// "removed account N" for an account no longer in the organization.
func (h *Handler) auditLogRows(c *gin.Context, orgID uint64, events []models.AuditEvent) ([]auditLogRow, error) {
	ids := []uint64{}
	seen := map[uint64]bool{}
	for _, e := range events {
		if e.ActorID != 0 && !seen[e.ActorID] {
			seen[e.ActorID] = true
			ids = append(ids, e.ActorID)
		}
	}
	names := map[uint64]string{}
	if len(ids) > 0 {
		accounts, err := h.Store.AccountsByID(c, orgID, ids)
		if err != nil {
			return nil, err
		}
		for _, a := range accounts {
			names[a.ID] = a.FullName
		}
	}
	rows := make([]auditLogRow, len(events))
	for i, e := range events {
		actor := "system"
		if e.ActorID != 0 {
			if n, ok := names[e.ActorID]; ok {
				actor = n
			} else {
				actor = "removed account " + strconv.FormatUint(e.ActorID, 10)
			}
		}
		rows[i] = auditLogRow{ID: e.ID, CreatedAt: e.CreatedAt, Action: e.Action, ActorID: e.ActorID, Actor: actor, Target: e.Target, Detail: e.Detail}
	}
	return rows, nil
}

// auditLogQuery is the query string of the filters, with before when set.
func auditLogQuery(filters map[string]string, before uint64) string {
	q := url.Values{}
	for k, v := range filters {
		if v != "" {
			q[k] = []string{v}
		}
	}
	if before != 0 {
		q["before"] = []string{strconv.FormatUint(before, 10)}
	}
	return q.Encode()
}

// auditLogFile names a download of the log.
func auditLogFile(log string) string {
	if log == "access" {
		return "access-log"
	}
	return "audit-log"
}
