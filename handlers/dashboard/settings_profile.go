package dashboard

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/models"
)

// Languages the dashboard offers.
var Languages = []string{"en", "de", "fr", "es", "it", "nl", "pt"}

func (h *Handler) home(c *gin.Context) {
	a, org := site.CurrentAccount(c), site.CurrentOrg(c)
	members, err := h.Store.ActiveMemberCount(c, org.ID)
	if err != nil {
		h.Internal(c, err)
		return
	}
	h.Render(c, http.StatusOK, "home", h.Page(c, "Overview", "home", gin.H{
		"CompanyName": org.CompanyName, "DisplayName": a.DisplayName, "MFA": a.TOTPEnabled,
		"Region": org.Region, "Members": members, "RequireMFA": org.RequireMFA,
	}))
}

func (h *Handler) profileData(a *models.Account) gin.H {
	return gin.H{"FullName": a.FullName, "DisplayName": a.DisplayName, "AvatarURL": a.AvatarURL, "TimeZone": a.TimeZone,
		"Language": a.Language, "Languages": Languages, "Email": a.Email}
}

func (h *Handler) profilePage(c *gin.Context) {
	h.Render(c, http.StatusOK, "profile", h.Page(c, "Profile", "profile", h.profileData(site.CurrentAccount(c))))
}

func (h *Handler) saveProfile(c *gin.Context) {
	a := *site.CurrentAccount(c)
	a.FullName = strings.TrimSpace(c.PostForm("full_name"))
	a.DisplayName = strings.TrimSpace(c.PostForm("display_name"))
	a.AvatarURL = strings.TrimSpace(c.PostForm("avatar_url"))
	a.TimeZone = strings.TrimSpace(c.PostForm("time_zone"))
	a.Language = c.PostForm("language")
	msg := ""
	switch {
	case a.FullName == "" || len(a.FullName) > 200:
		msg = "Enter your full name (at most 200 characters)."
	case len(a.DisplayName) > 100:
		msg = "Choose a display name of at most 100 characters."
	case a.AvatarURL != "" && !httpsURL(a.AvatarURL):
		msg = "The avatar must be an https:// image URL."
	case !validTimeZone(a.TimeZone):
		msg = "Enter a time zone such as Europe/Berlin or UTC."
	case !contains(Languages, a.Language):
		msg = "Choose one of the offered languages."
	}
	if msg != "" {
		h.RenderForm(c, http.StatusUnprocessableEntity, "profile", "Profile", "profile", h.profileData(&a), msg)
		return
	}
	if a.DisplayName == "" {
		a.DisplayName = firstName(a.FullName)
	}
	h.Finish(c, h.Store.SaveProfile(c, a.OrganizationID, &a), "/settings/profile", "saved")
}
