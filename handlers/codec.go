package handlers

import (
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/internal/payloads"
	"github.com/convot/convot/models"
)

// codecRoles may read Temporal payloads in clear through the codec server.
// Payloads hold identifiers only; this is still a privacy officer's view.
var codecRoles = []string{models.RoleOwner, models.RoleAdmin, models.RoleAuditor}

// codecRoutes mounts the codec server the Temporal UI calls, at /codec. It
// sits outside the CSRF-protected group: the UI is another origin, so the
// handler admits that origin alone (CORS) and a signed-in session with a
// codec role.
func (s *Server) codecRoutes(r *gin.Engine) {
	origin := ""
	if u, err := url.Parse(s.TemporalUIURL); err == nil && u.Scheme != "" && u.Host != "" {
		origin = u.Scheme + "://" + u.Host
	}
	h := http.StripPrefix("/codec", payloads.Handler(s.PayloadCodec, origin, s.mayReadPayloads))
	r.Any("/codec/*path", gin.WrapH(h))
}

func (s *Server) mayReadPayloads(r *http.Request) bool {
	cookie, err := r.Cookie(site.SessionCookie)
	if err != nil || cookie.Value == "" {
		return false
	}
	sess, err := s.Store.SessionByTokenHash(r.Context(), crypto.HashToken(cookie.Value))
	if err != nil {
		return false
	}
	if now := s.now(); sess.MFAPending || now.After(sess.ExpiresAt) || now.Sub(sess.LastSeenAt) > site.SessionIdle {
		return false
	}
	a, err := s.Store.SessionAccount(r.Context(), sess)
	if err != nil {
		return false
	}
	return contains(codecRoles, a.Role)
}
