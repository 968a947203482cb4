package dashboard

import (
	"net/http"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/models"
)

// Canned responses: replies the organization's operators reuse. Everyone
// who uses the inbox sees them and inserts them in the composer ("/" and the
// shortcut, or the picker); owners and admins write them (canned_manage).

const CannedBodyMax = 5000

var cannedShortcut = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

func (h *Handler) cannedList(c *gin.Context) ([]models.CannedResponse, error) {
	return h.Store.CannedResponses(c, site.CurrentOrg(c).ID)
}

func (h *Handler) cannedPage(c *gin.Context) {
	list, err := h.cannedList(c)
	if err != nil {
		h.Internal(c, err)
		return
	}
	h.Render(c, http.StatusOK, "canned", h.Page(c, "Canned responses", "inbox", gin.H{"List": list}))
}

// cannedOf loads a canned response of the operator's organization; another
// organization's is 404.
func (h *Handler) cannedOf(c *gin.Context) (*models.CannedResponse, bool) {
	return site.OwnRow(h.Site, c, "canned response", h.Store.CannedResponse)
}

func (h *Handler) cannedEditPage(c *gin.Context) {
	cr, ok := h.cannedOf(c)
	if !ok {
		return
	}
	h.Render(c, http.StatusOK, "canned_edit", h.Page(c, "Edit canned response", "inbox", gin.H{"Canned": cr}))
}

// cannedInput validates the form: a shortcut unique in the organization
// and a body.
func (h *Handler) cannedInput(c *gin.Context, self uint64) (shortcut, body string, ok bool) {
	shortcut = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(c.PostForm("shortcut")), "/"))
	body = strings.TrimSpace(c.PostForm("body"))
	switch {
	case !cannedShortcut.MatchString(shortcut):
		h.Fail(c, http.StatusUnprocessableEntity, "Canned responses", "The shortcut is 1 to 32 lowercase letters, digits, - or _, starting with a letter or digit.")
		return "", "", false
	case body == "" || !utf8.ValidString(body):
		h.Fail(c, http.StatusUnprocessableEntity, "Canned responses", "Write the response.")
		return "", "", false
	case utf8.RuneCountInString(body) > CannedBodyMax:
		h.Fail(c, http.StatusUnprocessableEntity, "Canned responses", "The response is longer than 5000 characters.")
		return "", "", false
	}
	taken, err := h.Store.CannedShortcutTaken(c, site.CurrentOrg(c).ID, shortcut, self)
	if err != nil {
		h.Internal(c, err)
		return "", "", false
	}
	if taken {
		h.Fail(c, http.StatusConflict, "Canned responses", "Another canned response has this shortcut.")
		return "", "", false
	}
	return shortcut, body, true
}

func (h *Handler) createCanned(c *gin.Context) {
	shortcut, body, ok := h.cannedInput(c, 0)
	if !ok {
		return
	}
	now := h.Now().UTC()
	cr := models.CannedResponse{OrganizationID: site.CurrentOrg(c).ID, Shortcut: shortcut, Body: body, CreatedAt: now, UpdatedAt: now}
	h.Finish(c, h.Store.CreateCannedResponse(c, &cr), "/inbox/canned", "saved")
}

func (h *Handler) updateCanned(c *gin.Context) {
	cr, ok := h.cannedOf(c)
	if !ok {
		return
	}
	shortcut, body, ok := h.cannedInput(c, cr.ID)
	if !ok {
		return
	}
	h.Finish(c, h.Store.UpdateCannedResponse(c, cr.OrganizationID, cr.ID, shortcut, body, h.Now().UTC()), "/inbox/canned", "saved")
}

func (h *Handler) deleteCanned(c *gin.Context) {
	cr, ok := h.cannedOf(c)
	if !ok {
		return
	}
	h.Finish(c, h.Store.DeleteCannedResponse(c, cr.OrganizationID, cr.ID), "/inbox/canned", "saved")
}
