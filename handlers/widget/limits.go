package widget

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/internal/ratelimit"
	"github.com/convot/convot/models"
)

// Rate limits of the widget API: token buckets (internal/ratelimit),
// shared by the web nodes when the rate limit store is on Redis, else per
// node. Each bucket holds up to Burst requests and gains one every Every,
// so a visitor may send Burst messages at once and then one per Every.

// Rate is one token bucket's shape.
type Rate = ratelimit.Rate

// Limits bound what one visitor may do. Keys are the visitor token (its
// hash) or, for new visitors, the IP address.
type Limits struct {
	Messages    Rate // messages sent (start, send, upload) per visitor
	Uploads     Rate // attachments uploaded per visitor
	Requests    Rate // any authenticated widget API call per visitor
	NewVisitors Rate // new visitor tokens handed out per IP address
}

// DefaultLimits are generous for people (20 messages at once, then two a
// second) and stop a script flooding a conversation. A load test spreads
// its messages over many visitors, or sets handlers.Server.WidgetLimits.
var DefaultLimits = Limits{
	Messages:    Rate{Burst: 20, Every: 500 * time.Millisecond},
	Uploads:     Rate{Burst: 10, Every: 3 * time.Second},
	Requests:    Rate{Burst: 120, Every: 50 * time.Millisecond},
	NewVisitors: Rate{Burst: 600, Every: 100 * time.Millisecond},
}

// Limiters are the buckets of Limits, counted in a ratelimit.Store.
type Limiters struct {
	Messages, Uploads, Requests, NewVisitors ratelimit.Limiter
}

// NewLimiters makes the widget's limiters in st.
func NewLimiters(st ratelimit.Store, l Limits) Limiters {
	return Limiters{
		Messages:    st.Limiter("widget-messages", l.Messages),
		Uploads:     st.Limiter("widget-uploads", l.Uploads),
		Requests:    st.Limiter("widget-requests", l.Requests),
		NewVisitors: st.Limiter("widget-new-visitors", l.NewVisitors),
	}
}

// allow takes a token from a bucket, answering 429 when none is left.
func (h *Handler) allow(c *gin.Context, l ratelimit.Limiter, key string) bool {
	ok, wait := l.Allow(c.Request.Context(), key, h.Now())
	if ok {
		return true
	}
	secs := retryAfterSeconds(wait)
	c.Header("Retry-After", strconv.Itoa(secs))
	c.AbortWithStatusJSON(http.StatusTooManyRequests, gin.H{
		"error":       fmt.Sprintf("Too many requests. Try again in %d seconds.", secs),
		"retry_after": secs,
	})
	return false
}

// retryAfterSeconds is the Retry-After value for a wait.
func retryAfterSeconds(d time.Duration) int {
	s := int(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return s
}

// ConversationLimitMessage is what a visitor reads when the widget cannot
// start a conversation because the plan has none left this month.
const ConversationLimitMessage = "This team can't take new chat conversations at the moment. Please try again later or reach them another way."

// conversationLimitReached answers the widget (402) and tells the
// organization's owners, once a month, that new conversations are refused.
func (h *Handler) conversationLimitReached(c *gin.Context, org *models.Organization) {
	apiError(c, http.StatusPaymentRequired, ConversationLimitMessage)
	h.Plans.ConversationLimitReached(c, org)
}
