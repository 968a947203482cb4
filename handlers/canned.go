package handlers

import (
	"errors"
	"net/http"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
)

// Canned responses: replies the organization's operators reuse. Everyone
// who uses the inbox sees them and inserts them in the composer ("/" and the
// shortcut, or the picker); owners and admins write them (canned_manage).

const cannedBodyMax = 5000

var cannedShortcut = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

func (s *Server) cannedRoutes(g *gin.RouterGroup) {
	r := g.Group("/canned", s.RecordUsage)
	r.GET("", s.cannedPage)
	m := r.Group("", s.Require("canned_manage"))
	m.POST("", s.createCanned)
	m.GET("/:id", s.cannedEditPage)
	m.POST("/:id", s.updateCanned)
	m.POST("/:id/delete", s.deleteCanned)
}

func (s *Server) cannedList(c *gin.Context) ([]models.CannedResponse, error) {
	return s.Store.CannedResponses(c, site.CurrentOrg(c).ID)
}

func (s *Server) cannedPage(c *gin.Context) {
	list, err := s.cannedList(c)
	if err != nil {
		s.Internal(c, err)
		return
	}
	s.Render(c, http.StatusOK, "canned", s.Page(c, "Canned responses", "inbox", gin.H{"List": list}))
}

// cannedOf loads a canned response of the operator's organization; another
// organization's is 404.
func (s *Server) cannedOf(c *gin.Context) (*models.CannedResponse, bool) {
	id, ok := inboxPathID(c, "id")
	var cr *models.CannedResponse
	err := store.ErrNotFound
	if ok {
		cr, err = s.Store.CannedResponse(c, site.CurrentOrg(c).ID, id)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.Fail(c, http.StatusNotFound, "Not found", "There is no such canned response.")
		return nil, false
	case err != nil:
		s.Internal(c, err)
		return nil, false
	}
	return cr, true
}

func (s *Server) cannedEditPage(c *gin.Context) {
	cr, ok := s.cannedOf(c)
	if !ok {
		return
	}
	s.Render(c, http.StatusOK, "canned_edit", s.Page(c, "Edit canned response", "inbox", gin.H{"Canned": cr}))
}

// cannedInput validates the form: a shortcut unique in the organization
// and a body.
func (s *Server) cannedInput(c *gin.Context, self uint64) (shortcut, body string, ok bool) {
	shortcut = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(c.PostForm("shortcut")), "/"))
	body = strings.TrimSpace(c.PostForm("body"))
	switch {
	case !cannedShortcut.MatchString(shortcut):
		s.Fail(c, http.StatusUnprocessableEntity, "Canned responses", "The shortcut is 1 to 32 lowercase letters, digits, - or _, starting with a letter or digit.")
		return "", "", false
	case body == "" || !utf8.ValidString(body):
		s.Fail(c, http.StatusUnprocessableEntity, "Canned responses", "Write the response.")
		return "", "", false
	case utf8.RuneCountInString(body) > cannedBodyMax:
		s.Fail(c, http.StatusUnprocessableEntity, "Canned responses", "The response is longer than 5000 characters.")
		return "", "", false
	}
	taken, err := s.Store.CannedShortcutTaken(c, site.CurrentOrg(c).ID, shortcut, self)
	if err != nil {
		s.Internal(c, err)
		return "", "", false
	}
	if taken {
		s.Fail(c, http.StatusConflict, "Canned responses", "Another canned response has this shortcut.")
		return "", "", false
	}
	return shortcut, body, true
}

func (s *Server) createCanned(c *gin.Context) {
	shortcut, body, ok := s.cannedInput(c, 0)
	if !ok {
		return
	}
	now := s.now().UTC()
	cr := models.CannedResponse{OrganizationID: site.CurrentOrg(c).ID, Shortcut: shortcut, Body: body, CreatedAt: now, UpdatedAt: now}
	if err := s.Store.CreateCannedResponse(c, &cr); err != nil {
		s.Internal(c, err)
		return
	}
	s.RedirectWithFlash(c, "/inbox/canned", "saved")
}

func (s *Server) updateCanned(c *gin.Context) {
	cr, ok := s.cannedOf(c)
	if !ok {
		return
	}
	shortcut, body, ok := s.cannedInput(c, cr.ID)
	if !ok {
		return
	}
	if err := s.Store.UpdateCannedResponse(c, cr.OrganizationID, cr.ID, shortcut, body, s.now().UTC()); err != nil {
		s.Internal(c, err)
		return
	}
	s.RedirectWithFlash(c, "/inbox/canned", "saved")
}

func (s *Server) deleteCanned(c *gin.Context) {
	cr, ok := s.cannedOf(c)
	if !ok {
		return
	}
	if err := s.Store.DeleteCannedResponse(c, cr.OrganizationID, cr.ID); err != nil {
		s.Internal(c, err)
		return
	}
	s.RedirectWithFlash(c, "/inbox/canned", "saved")
}
