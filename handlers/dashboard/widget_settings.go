package dashboard

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
)

// Settings → Widget: the embed snippet, the sites allowed to embed it,
// identity verification and its secret, the inactivity period after which
// conversations resolve, and the widget's color and greeting. Owners and
// admins (widget_edit).

const (
	maxAllowedOrigins  = 50
	MaxGreeting        = 280
	maxInactivityHours = 24 * 30
	identitySecretSize = 32 // random bytes of the identity secret
)

// widgetSnippet is the tag a Customer pastes into their site.
func (h *Handler) widgetSnippet(org *models.Organization) string {
	base := strings.TrimSuffix(h.Config.BaseURL.String(), "/")
	return fmt.Sprintf(`<script src="%s/widget.js" data-org="%s" async></script>`, base, org.PublicKey)
}

type widgetSettingsForm struct {
	AllowedOrigins       string
	IdentityVerification bool
	InactivityHours      int
	Color                string
	Greeting             string
}

func (h *Handler) widgetSettingsData(org *models.Organization, f widgetSettingsForm) gin.H {
	hours := f.InactivityHours
	if hours <= 0 {
		hours = models.DefaultInactivityHours
	}
	color := f.Color
	if !site.ValidColor(color) {
		color = models.DefaultWidgetColor
	}
	return gin.H{
		"Snippet": h.widgetSnippet(org), "PublicKey": org.PublicKey,
		"AllowedOrigins": f.AllowedOrigins, "IdentityVerification": f.IdentityVerification,
		"IdentitySecret": org.IdentitySecret, "InactivityHours": hours, "Color": color, "Greeting": f.Greeting,
		"MaxInactivityHours": maxInactivityHours, "MaxGreeting": MaxGreeting,
	}
}

func formOf(org *models.Organization) widgetSettingsForm {
	return widgetSettingsForm{AllowedOrigins: org.AllowedOrigins, IdentityVerification: org.IdentityVerification,
		InactivityHours: org.InactivityHours, Color: org.WidgetColor, Greeting: org.WidgetGreeting}
}

func (h *Handler) widgetSettingsPage(c *gin.Context) {
	org := site.CurrentOrg(c)
	h.Render(c, http.StatusOK, "widget_settings", h.Page(c, "Widget", "widget", h.widgetSettingsData(org, formOf(org))))
}

// parseAllowedOrigins checks one origin per line and returns them
// normalized, or a message naming the first bad line.
func parseAllowedOrigins(text string) (string, string) {
	var out []string
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		o, ok := site.NormalizeOriginPattern(line)
		if !ok {
			return "", fmt.Sprintf("%q is not an origin. Write one per line, such as https://www.example.com or https://*.example.com (no path).", site.TruncateRunes(line, 100))
		}
		if !seen[o] {
			seen[o] = true
			out = append(out, o)
		}
	}
	if len(out) > maxAllowedOrigins {
		return "", fmt.Sprintf("List at most %d origins.", maxAllowedOrigins)
	}
	return strings.Join(out, "\n"), ""
}

func (h *Handler) saveWidgetSettings(c *gin.Context) {
	a, o := site.CurrentAccount(c), *site.CurrentOrg(c)
	f := widgetSettingsForm{
		AllowedOrigins:       c.PostForm("allowed_origins"),
		IdentityVerification: c.PostForm("identity_verification") == "1",
		Color:                strings.ToLower(strings.TrimSpace(c.PostForm("widget_color"))),
		Greeting:             strings.TrimSpace(c.PostForm("widget_greeting")),
	}
	hours, err := strconv.Atoi(strings.TrimSpace(c.PostForm("inactivity_hours")))
	f.InactivityHours = hours
	origins, msg := parseAllowedOrigins(f.AllowedOrigins)
	switch {
	case msg != "":
	case err != nil || hours < 1 || hours > maxInactivityHours:
		msg = fmt.Sprintf("The inactivity period must be a whole number of hours from 1 to %d.", maxInactivityHours)
	case !site.ValidColor(f.Color):
		msg = "Choose a color such as #2f6f4f."
	case utf8.RuneCountInString(f.Greeting) > MaxGreeting || !site.Printable(f.Greeting):
		msg = fmt.Sprintf("The greeting must be text of at most %d characters.", MaxGreeting)
	}
	if msg != "" {
		h.RenderForm(c, http.StatusUnprocessableEntity, "widget_settings", "Widget", "widget", h.widgetSettingsData(&o, f), msg)
		return
	}
	changedVerification := o.IdentityVerification != f.IdentityVerification
	o.AllowedOrigins, o.IdentityVerification, o.InactivityHours = origins, f.IdentityVerification, hours
	o.WidgetColor, o.WidgetGreeting = f.Color, f.Greeting
	if o.IdentityVerification && o.IdentitySecret == "" {
		o.IdentitySecret = crypto.RandomToken(identitySecretSize)
	}
	err = h.Store.Tx(c, func(tx *store.Store) error {
		if err := tx.SaveWidgetSettings(c, o.ID, &o); err != nil {
			return err
		}
		detail := ""
		if changedVerification {
			detail = "identity_verification=" + strconv.FormatBool(o.IdentityVerification)
		}
		return h.Audit(tx, c, o.ID, a.ID, a.DataKeyID, "widget.settings_updated", site.Target("organization", o.ID), detail)
	})
	if err != nil {
		h.Internal(c, err)
		return
	}
	h.ForgetOrganization(o.PublicKey)
	h.RedirectWithFlash(c, "/settings/widget", "saved")
}

// rotateIdentitySecret replaces the identity secret: user hashes made with
// the old one stop verifying at once.
func (h *Handler) rotateIdentitySecret(c *gin.Context) {
	a, o := site.CurrentAccount(c), *site.CurrentOrg(c)
	o.IdentitySecret = crypto.RandomToken(identitySecretSize)
	err := h.Store.Tx(c, func(tx *store.Store) error {
		if err := tx.SaveIdentitySecret(c, o.ID, &o); err != nil {
			return err
		}
		return h.Audit(tx, c, o.ID, a.ID, a.DataKeyID, "widget.identity_secret_rotated", site.Target("organization", o.ID), "")
	})
	if err != nil {
		h.Internal(c, err)
		return
	}
	h.ForgetOrganization(o.PublicKey)
	h.RedirectWithFlash(c, "/settings/widget", "saved")
}
