package widget

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
)

// Organizations are cached briefly: every widget request names one, and
// settings changes reach other nodes within orgCacheTTL.
const (
	orgCacheTTL  = 5 * time.Second
	orgCacheSize = 10000
)

type cachedOrg struct {
	org   models.Organization
	until time.Time
}

// loadOrganization loads the organization named by the key and applies
// CORS.
func (h *Handler) loadOrganization(c *gin.Context) {
	// Shared helpers (ServeAttachment, ServeSocket) answer errors as JSON
	// for JSON clients: every widget client is one.
	c.Request.Header.Set("Accept", "application/json")
	c.Header("Vary", "Origin")
	org, err := h.orgByKey(c, c.Param("org"))
	if err != nil {
		apiInternal(c, err)
		return
	}
	if org == nil {
		apiError(c, http.StatusNotFound, "Unknown organization key. Check the data-org attribute of the widget's script tag.")
		return
	}
	if origin := c.GetHeader("Origin"); origin != "" {
		if !h.originAllowed(org, origin) {
			h.refuseOrigin(c, origin)
			return
		}
		c.Header("Access-Control-Allow-Origin", origin)
		c.Header("Access-Control-Expose-Headers", "Retry-After")
	}
	c.Set(ctxOrg, org)
	c.Next()
}

// refusedOrigin is what a site whose origin is not allowed is told.
const refusedOrigin = "This site is not allowed to use this chat widget. Add its origin to the allowed origins in Convot's widget settings."

// refuseOrigin answers a request from an origin that is not allowed. The
// refusal carries CORS headers so that the widget can read it and show
// the explanation instead of the browser's "Failed to fetch": the
// preflight passes (204) and the request itself gets 403 with the
// reason. Nothing but that reason is answered to such an origin.
func (h *Handler) refuseOrigin(c *gin.Context, origin string) {
	c.Header("Access-Control-Allow-Origin", origin)
	if c.Request.Method == http.MethodOptions {
		h.preflight(c)
		return
	}
	apiError(c, http.StatusForbidden, refusedOrigin)
}

func (h *Handler) preflight(c *gin.Context) {
	hd := c.Writer.Header()
	hd.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
	hd.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
	hd.Set("Access-Control-Max-Age", "600")
	c.AbortWithStatus(http.StatusNoContent)
}

// orgByKey returns an active organization by its public key, cached
// briefly.
func (h *Handler) orgByKey(ctx context.Context, key string) (*models.Organization, error) {
	if key == "" || len(key) > 100 {
		return nil, nil
	}
	now := time.Now()
	h.orgMu.Lock()
	if e, ok := h.orgs[key]; ok && now.Before(e.until) {
		org := e.org
		h.orgMu.Unlock()
		return &org, nil
	}
	h.orgMu.Unlock()
	org, err := h.Store.WidgetOrganization(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if org.Status != models.OrgActive {
		return nil, nil
	}
	h.orgMu.Lock()
	if h.orgs == nil || len(h.orgs) >= orgCacheSize {
		h.orgs = map[string]cachedOrg{}
	}
	h.orgs[key] = cachedOrg{org: *org, until: now.Add(orgCacheTTL)}
	h.orgMu.Unlock()
	return org, nil
}

// ForgetOrganization drops an organization's cached settings on this node
// (the settings page calls it after a change).
func (h *Handler) ForgetOrganization(publicKey string) {
	h.orgMu.Lock()
	delete(h.orgs, publicKey)
	h.orgMu.Unlock()
}

// originAllowed reports whether a browser origin may use the
// organization's widget: one of its allowed origins, or Convot itself.
func (h *Handler) originAllowed(org *models.Organization, origin string) bool {
	o, ok := site.NormalizeOrigin(origin)
	if !ok {
		return false
	}
	if base := h.Config.BaseURL; base != nil {
		if self, ok := site.NormalizeOrigin(base.Scheme + "://" + base.Host); ok && self == o {
			return true
		}
	}
	for _, pattern := range site.AllowedOrigins(org.AllowedOrigins) {
		if site.OriginMatches(pattern, o) {
			return true
		}
	}
	return false
}
