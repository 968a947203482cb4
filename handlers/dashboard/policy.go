package dashboard

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/web"
)

// The privacy policy Convot publishes (policy §13): /privacy serves the
// version in effect with its last-updated date; ?version=N a published
// one (a change announced but not yet in effect, say). The text embedded
// in the binary is version 1 until a version is published with
// `convot policy publish`.

// servePolicy answers /privacy.
func (h *Handler) servePolicy(c *gin.Context) {
	if err := h.seedPolicy(c); err != nil {
		h.Internal(c, err)
		return
	}
	now := h.Now().UTC()
	var v *models.PolicyVersion
	var err error
	if q := c.Query("version"); q != "" {
		n, convErr := strconv.Atoi(q)
		if convErr != nil || n <= 0 {
			h.Fail(c, http.StatusBadRequest, "Bad request", "The version must be a positive whole number.")
			return
		}
		v, err = h.Store.PolicyByVersion(c, n)
		if err == nil && v.PublishedAt.After(now) {
			err = store.ErrNotFound
		}
	} else {
		v, err = h.Store.CurrentPolicy(c, now)
	}
	v, ok := site.Found(h.Site, c, "version of the privacy policy", v, err)
	if !ok {
		return
	}
	head := "Last updated: " + v.EffectiveAt.UTC().Format("2 January 2006") + " (version " + strconv.Itoa(v.Version) + ")\n\n"
	if v.EffectiveAt.After(now) {
		head = "Version " + strconv.Itoa(v.Version) + ", published " + v.PublishedAt.UTC().Format("2 January 2006") +
			", takes effect " + v.EffectiveAt.UTC().Format("2 January 2006") + ". Until then the current version at /privacy applies.\n\n"
	}
	c.Header("Cache-Control", "no-cache")
	c.Data(http.StatusOK, "text/plain; charset=utf-8", []byte(head+linkDataDeletion(v.Text, h.Config.BaseURL.String())))
}

var seededPolicy sync.Map // *store.Store → true once version 1 is known to exist

// seedPolicy records the embedded policy as version 1 when no version is
// recorded yet.
func (h *Handler) seedPolicy(ctx context.Context) error {
	if _, done := seededPolicy.Load(h.Store); done {
		return nil
	}
	text, err := EmbeddedPolicy()
	if err != nil {
		return err
	}
	if err := h.Store.SeedPolicy(ctx, text, h.Now().UTC()); err != nil {
		return err
	}
	seededPolicy.Store(h.Store, true)
	return nil
}

// EmbeddedPolicy is the policy text the binary carries: version 1.
func EmbeddedPolicy() (string, error) {
	f, err := web.Static().Open("privacy-policy.txt")
	if err != nil {
		return "", err
	}
	defer func() { _ = f.Close() }() // embedded and read only: nothing to lose
	b, err := io.ReadAll(f)
	return string(b), err
}

// linkDataDeletion gives the policy's "see our Data Deletion page" its
// address (the page is /data-deletion).
func linkDataDeletion(text, base string) string {
	return strings.ReplaceAll(text, "see our Data Deletion page", "see our Data Deletion page ("+strings.TrimSuffix(base, "/")+"/data-deletion)")
}
