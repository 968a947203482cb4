package dashboard

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/disclosures"
	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/models"
)

// The register of disclosures in the staff console (policy §6): staff
// record a request; another staff member approves or refuses it; its
// workflow does the rest (disclosures, workflows.DisclosureRequest).

func (h *Handler) staffDisclosureRoutes(g *gin.RouterGroup) {
	g.GET("/disclosures", h.staffDisclosures)
	g.POST("/disclosures", h.staffRecordDisclosure)
	g.GET("/disclosures/:id", h.staffDisclosurePage)
	g.POST("/disclosures/:id/approve", h.staffDecideDisclosure(true))
	g.POST("/disclosures/:id/refuse", h.staffDecideDisclosure(false))
}

// disclosureForm is the form as typed, kept to show back on error.
type disclosureForm struct {
	OrganizationID, Kind, RequestedBy, LegalBasis, Recipient, RecipientAddress string
	SubjectKind, SubjectID, DueAt, NoticeForbiddenReason                       string
	NoticeForbidden                                                            bool
	Categories                                                                 map[string]bool
}

func (h *Handler) register() *disclosures.Register {
	if h.Disclosures == nil {
		return nil
	}
	return h.Disclosures()
}

func userCategories() []categoryOption {
	var out []categoryOption
	for _, c := range categoryOptions() {
		if strings.HasPrefix(c.Name, "user.") {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (h *Handler) staffDisclosures(c *gin.Context) {
	h.renderDisclosures(c, http.StatusOK, disclosureForm{Categories: map[string]bool{}, DueAt: h.Now().UTC().Add(14 * 24 * time.Hour).Format(time.DateOnly)}, "")
}

func (h *Handler) renderDisclosures(c *gin.Context, status int, form disclosureForm, problem string) {
	list, err := h.Store.DisclosureRequests(c, 500)
	if err != nil {
		h.Internal(c, err)
		return
	}
	h.RenderForm(c, status, "staff_disclosures", "Disclosure requests", "staff", gin.H{
		"Requests": list, "Form": form, "Kinds": models.DisclosureKinds, "Categories": userCategories()}, problem)
}

func (h *Handler) staffRecordDisclosure(c *gin.Context) {
	a := site.CurrentAccount(c)
	form := disclosureForm{OrganizationID: c.PostForm("organization_id"), Kind: c.PostForm("kind"), RequestedBy: c.PostForm("requested_by"),
		LegalBasis: c.PostForm("legal_basis"), Recipient: c.PostForm("recipient"), RecipientAddress: c.PostForm("recipient_address"),
		SubjectKind: c.PostForm("subject_kind"), SubjectID: c.PostForm("subject_id"), DueAt: c.PostForm("due_at"),
		NoticeForbidden: c.PostForm("notice_forbidden") == "yes", NoticeForbiddenReason: c.PostForm("notice_forbidden_reason"),
		Categories: map[string]bool{}}
	f := disclosures.Form{Kind: form.Kind, RequestedBy: form.RequestedBy, LegalBasis: form.LegalBasis, Recipient: form.Recipient,
		RecipientAddress: form.RecipientAddress, SubjectKind: form.SubjectKind, NoticeForbidden: form.NoticeForbidden,
		NoticeForbiddenReason: form.NoticeForbiddenReason}
	for _, cat := range c.PostFormArray("categories") {
		form.Categories[cat] = true
		f.Categories = append(f.Categories, cat)
	}
	var err error
	if f.OrganizationID, err = strconv.ParseUint(strings.TrimSpace(form.OrganizationID), 10, 64); err != nil {
		h.renderDisclosures(c, http.StatusUnprocessableEntity, form, "The organization's ID is a number.")
		return
	}
	if s := strings.TrimSpace(form.SubjectID); s != "" {
		if f.SubjectID, err = strconv.ParseUint(s, 10, 64); err != nil {
			h.renderDisclosures(c, http.StatusUnprocessableEntity, form, "The contact's or account's ID is a number.")
			return
		}
	}
	if f.DueAt, err = time.Parse(time.DateOnly, strings.TrimSpace(form.DueAt)); err != nil {
		h.renderDisclosures(c, http.StatusUnprocessableEntity, form, "The response deadline is a date, YYYY-MM-DD.")
		return
	}
	reg := h.register()
	if reg == nil {
		h.Fail(c, http.StatusServiceUnavailable, "Unavailable", "Disclosure requests cannot be recorded at the moment.")
		return
	}
	d, err := reg.Record(c, a, f)
	var bad disclosures.ErrInvalid
	switch {
	case errors.As(err, &bad):
		h.renderDisclosures(c, http.StatusUnprocessableEntity, form, bad.Msg)
		return
	case errors.Is(err, disclosures.ErrUnavailable):
		h.Fail(c, http.StatusServiceUnavailable, "Unavailable", "Disclosure requests cannot be recorded at the moment.")
		return
	case err != nil:
		h.Internal(c, err)
		return
	}
	h.Finish(c, nil, fmt.Sprintf("/staff/disclosures/%d", d.ID), "Recorded. Another staff member approves or refuses it.")
}

func (h *Handler) staffDisclosure(c *gin.Context) (*models.DisclosureRequest, bool) {
	id, ok := site.PathID(c, "id")
	if !ok {
		h.Fail(c, http.StatusNotFound, "Not found", "There is no such disclosure request.")
		return nil, false
	}
	d, err := h.Store.DisclosureRequest(c, id)
	return site.Found(h.Site, c, "disclosure request", d, err)
}

func (h *Handler) staffDisclosurePage(c *gin.Context) {
	if d, ok := h.staffDisclosure(c); ok {
		h.renderDisclosure(c, http.StatusOK, d, "")
	}
}

func (h *Handler) renderDisclosure(c *gin.Context, status int, d *models.DisclosureRequest, problem string) {
	a := site.CurrentAccount(c)
	h.RenderForm(c, status, "staff_disclosure", "Disclosure request", "staff", gin.H{
		"Request": d, "WorkflowURL": h.WorkflowURL(d.WorkflowID()),
		"CanDecide": (d.Status == models.DisclosureReceived || d.Status == models.DisclosureOverdue) && d.CreatedByID != a.ID}, problem)
}

func (h *Handler) staffDecideDisclosure(approve bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		a := site.CurrentAccount(c)
		d, ok := h.staffDisclosure(c)
		if !ok {
			return
		}
		reg := h.register()
		if reg == nil {
			h.Fail(c, http.StatusServiceUnavailable, "Unavailable", "Disclosure requests cannot be decided at the moment.")
			return
		}
		err := reg.Decide(c, a, d.ID, approve, c.PostForm("reason"))
		var bad disclosures.ErrInvalid
		switch {
		case errors.As(err, &bad):
			h.renderDisclosure(c, http.StatusUnprocessableEntity, d, bad.Msg)
			return
		case errors.Is(err, disclosures.ErrUnavailable):
			h.Fail(c, http.StatusServiceUnavailable, "Unavailable", "Disclosure requests cannot be decided at the moment.")
			return
		}
		h.Finish(c, err, fmt.Sprintf("/staff/disclosures/%d", d.ID), "Sent to the request's workflow.")
	}
}
