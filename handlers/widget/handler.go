package widget

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/contacts"
	"github.com/convot/convot/conversation"
	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/internal/geoip"
	"github.com/convot/convot/internal/realtime"
	"github.com/convot/convot/models"
	"github.com/convot/convot/plans"
)

// Handler is what the widget API needs, and what it keeps in memory on
// this node (the script, recently used organizations).
type Handler struct {
	*site.Site
	// Conversations starts conversations and posts, stores and publishes
	// the visitors' messages; Plans says whether new ones are accepted.
	Conversations *conversation.Service
	Plans         *plans.Limits
	// Contacts merges a visitor into a known contact and proves claimed
	// addresses (identify).
	Contacts *contacts.Service
	// Hub carries the live events to the visitors' sockets; GeoIP gives
	// visitors a country (a nil *geoip.DB: none). Both are read at each
	// request, so a test may swap them on the Server after New.
	Hub   func() realtime.Hub
	GeoIP func() *geoip.DB
	// Limiters count what each visitor does (NewLimiters).
	Limiters Limiters

	script     []byte
	scriptETag string

	orgMu sync.Mutex
	orgs  map[string]cachedOrg
}

// Context keys of what the middlewares loaded for the handlers.
const (
	ctxOrg          = "convot.widget.org"
	ctxVisitor      = "convot.widget.visitor"
	ctxConversation = "convot.widget.conversation"
)

func orgOf(c *gin.Context) *models.Organization { return site.Loaded[models.Organization](c, ctxOrg) }

func visitorOf(c *gin.Context) *models.VisitorToken {
	return site.Loaded[models.VisitorToken](c, ctxVisitor)
}

func conversationOf(c *gin.Context) *models.Conversation {
	return site.Loaded[models.Conversation](c, ctxConversation)
}

// apiError answers an API error as JSON.
func apiError(c *gin.Context, status int, msg string) {
	c.AbortWithStatusJSON(status, gin.H{"error": msg})
}

// apiInternal answers an unexpected failure without detail.
func apiInternal(c *gin.Context, err error) {
	if errors.Is(err, context.Canceled) {
		c.Abort()
		return
	}
	slog.Error("widget request failed", "route", c.FullPath(), "err", err)
	apiError(c, http.StatusInternalServerError, "Something went wrong on our side. Please try again.")
}

// readJSON decodes a JSON body within the body limit; optional accepts an
// empty body. It answers 400 or 413 itself.
func (h *Handler) readJSON(c *gin.Context, v any, optional bool) bool {
	if c.Request.ContentLength > site.APIBodyLimit {
		apiError(c, http.StatusRequestEntityTooLarge, "The request body is too large.")
		return false
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, site.APIBodyLimit)
	err := json.NewDecoder(c.Request.Body).Decode(v)
	var tooLarge *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil:
		return true
	case errors.Is(err, io.EOF) && optional:
		return true
	case errors.As(err, &tooLarge):
		apiError(c, http.StatusRequestEntityTooLarge, "The request body is too large.")
	case errors.Is(err, io.EOF):
		apiError(c, http.StatusBadRequest, "Send a JSON body.")
	case errors.As(err, &typeErr):
		apiError(c, http.StatusBadRequest, fmt.Sprintf("The field %q has the wrong type.", typeErr.Field))
	default:
		apiError(c, http.StatusBadRequest, "The request body is not valid JSON.")
	}
	return false
}
