// Package codec serves the payload codec the Temporal UI calls, at /codec,
// so that a privacy officer reads workflow payloads in clear, and the
// Temporal UI itself, proxied at /temporal behind the dashboard session
// (ui.go). The codec sits outside the dashboard's CSRF-protected group: it
// admits calls from Convot's own origin (the proxied UI), or from a UI on
// an origin of its own (CORS), with a signed-in session of a codec role
// or of staff; an officer reads their own organization's payloads only
// (payloads.Codec.DecodeFor).
package codec

import (
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/internal/payloads"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
)

// roles may read Temporal payloads in clear through the codec server.
// Payloads hold identifiers only; this is still a privacy officer's view.
var roles = []string{models.RoleOwner, models.RoleAdmin, models.RoleAuditor}

// Handler is what the codec endpoint needs.
type Handler struct {
	Store *store.Store
	Codec *payloads.Codec
	// UIURL is where the Temporal UI runs: its origin alone may call.
	UIURL string
	Now   func() time.Time
}

// Routes mounts /codec/*.
func (h *Handler) Routes(r *gin.Engine) {
	origin := ""
	if u, err := url.Parse(h.UIURL); err == nil && u.Scheme != "" && u.Host != "" {
		origin = u.Scheme + "://" + u.Host
	}
	codec := http.StripPrefix("/codec", payloads.Handler(h.Codec, origin, h.mayReadPayloads))
	r.Any("/codec/*path", gin.WrapH(codec))
}

// mayReadPayloads admits a live, fully signed-in session of a codec role,
// reading for its organization, or of Convot's staff (two-factor), reading
// for every organization.
func (h *Handler) mayReadPayloads(r *http.Request) (payloads.Reader, bool) {
	cookie, err := r.Cookie(site.SessionCookie)
	if err != nil || cookie.Value == "" {
		return payloads.Reader{}, false
	}
	sess, err := h.Store.SessionByTokenHash(r.Context(), crypto.HashToken(cookie.Value))
	if err != nil {
		return payloads.Reader{}, false
	}
	if now := h.Now(); sess.MFAPending || now.After(sess.ExpiresAt) || now.Sub(sess.LastSeenAt) > site.SessionIdle {
		return payloads.Reader{}, false
	}
	a, err := h.Store.SessionAccount(r.Context(), sess)
	if err != nil || a.OrganizationID != sess.OrganizationID {
		return payloads.Reader{}, false
	}
	staff := false
	if a.TOTPEnabled {
		_, err := h.Store.ActiveStaffMember(r.Context(), a.ID)
		staff = err == nil
	}
	if !staff && !slices.Contains(roles, a.Role) {
		return payloads.Reader{}, false
	}
	return payloads.Reader{OrganizationID: a.OrganizationID, Staff: staff}, true
}
