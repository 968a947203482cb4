// Package codec serves the payload codec the Temporal UI calls, at /codec,
// so that a privacy officer reads workflow payloads in clear. It sits
// outside the dashboard's CSRF-protected group: the UI is another origin,
// so the handler admits that origin alone (CORS) and a signed-in session
// with a codec role.
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

// mayReadPayloads admits a live, fully signed-in session of a codec role.
func (h *Handler) mayReadPayloads(r *http.Request) bool {
	cookie, err := r.Cookie(site.SessionCookie)
	if err != nil || cookie.Value == "" {
		return false
	}
	sess, err := h.Store.SessionByTokenHash(r.Context(), crypto.HashToken(cookie.Value))
	if err != nil {
		return false
	}
	if now := h.Now(); sess.MFAPending || now.After(sess.ExpiresAt) || now.Sub(sess.LastSeenAt) > site.SessionIdle {
		return false
	}
	a, err := h.Store.SessionAccount(r.Context(), sess)
	if err != nil {
		return false
	}
	return slices.Contains(roles, a.Role)
}
