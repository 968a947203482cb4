package dashboard

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/reports"
)

// reportDaysMax bounds a report's date range.
const reportDaysMax = 366

// reportsPage shows the inbox reports for a date range (from and to,
// inclusive days, UTC; the last 30 days by default).
func (h *Handler) reportsPage(c *gin.Context) {
	org := site.CurrentOrg(c)
	today := h.Now().UTC().Truncate(24 * time.Hour)
	from, to := today.AddDate(0, 0, -29), today
	var err error
	if v := c.Query("from"); v != "" {
		if from, err = time.Parse("2006-01-02", v); err != nil {
			h.Fail(c, http.StatusBadRequest, "Reports", "from must be a date like 2026-01-31.")
			return
		}
	}
	if v := c.Query("to"); v != "" {
		if to, err = time.Parse("2006-01-02", v); err != nil {
			h.Fail(c, http.StatusBadRequest, "Reports", "to must be a date like 2026-01-31.")
			return
		}
	}
	switch {
	case to.Before(from):
		h.Fail(c, http.StatusBadRequest, "Reports", "The start date must be on or before the end date.")
		return
	case to.Sub(from) >= reportDaysMax*24*time.Hour:
		h.Fail(c, http.StatusBadRequest, "Reports", "Choose a range of at most 366 days.")
		return
	}
	end := to.AddDate(0, 0, 1)
	convs, err := h.Store.ReportConversations(c, org.ID, from, end)
	if err != nil {
		h.Internal(c, err)
		return
	}
	var ids []uint64
	seen := map[uint64]bool{}
	for _, cv := range convs {
		if cv.AssigneeID != nil && !seen[*cv.AssigneeID] {
			seen[*cv.AssigneeID] = true
			ids = append(ids, *cv.AssigneeID)
		}
	}
	operators := map[uint64]string{}
	if len(ids) > 0 {
		accounts, err := h.Store.AccountsByID(c, org.ID, ids)
		if err != nil {
			h.Internal(c, err)
			return
		}
		for _, a := range accounts {
			operators[a.ID] = a.FullName
		}
	}
	labelList, err := h.Store.Labels(c, org.ID)
	if err != nil {
		h.Internal(c, err)
		return
	}
	labels := map[uint64]string{}
	for _, l := range labelList {
		labels[l.ID] = l.Name
	}
	r := reports.Build(convs, from, end, func(id uint64) string { return operators[id] }, func(id uint64) string { return labels[id] })
	h.Render(c, http.StatusOK, "reports", h.Page(c, "Reports", "reports", gin.H{
		"Report": r, "From": from.Format("2006-01-02"), "To": to.Format("2006-01-02"),
	}))
}
