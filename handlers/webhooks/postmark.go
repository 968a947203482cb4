package webhooks

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/convot/convot/conversation"
	"github.com/gin-gonic/gin"
)

// The inbound side of the email channel (policy §2.3): Postmark parses the
// mail an End User sends to an organization's support address, or as a
// reply to a conversation's mail, and posts it here as JSON. Postmark also
// reports bounces and spam complaints here. Both webhooks authenticate
// with HTTP basic auth (POSTMARK_INBOUND_USER / _PASSWORD), checked in
// constant time before the body is read.

const (
	// MaxInboundBytes bounds one inbound webhook: the largest attachment a
	// conversation keeps (10 MB, 13.4 MB in base64) and the mail around
	// it. Postmark would deliver up to 35 MB of attachments; a larger
	// delivery is refused with 413 (never acknowledged), so Postmark
	// reports it as failed.
	MaxInboundBytes = conversation.MaxAttachmentBytes/3*4 + 1<<20
	// maxStripeEventBytes bounds one Stripe event (tens of KB at most).
	maxStripeEventBytes = 256 << 10
	// maxInboundAttachments bounds the files one mail may bring.
	maxInboundAttachments = 20
)

// postmarkAuth checks the webhook's basic-auth credentials in constant
// time (digests of equal length, both compared whatever the first gives).
func (h *Handler) postmarkAuth(c *gin.Context) {
	user, password, ok := c.Request.BasicAuth()
	wantUser, wantPassword := h.Config.PostmarkInboundUser, h.Config.PostmarkInboundPassword
	u1, u2 := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(wantUser))
	p1, p2 := sha256.Sum256([]byte(password)), sha256.Sum256([]byte(wantPassword))
	match := subtle.ConstantTimeCompare(u1[:], u2[:]) & subtle.ConstantTimeCompare(p1[:], p2[:])
	if !ok || wantUser == "" || wantPassword == "" || match != 1 {
		slog.Warn("postmark webhook refused", "route", c.FullPath(), "reason", "wrong credentials")
		c.Header("WWW-Authenticate", `Basic realm="convot-postmark", charset="UTF-8"`)
		c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "Wrong or missing credentials."})
		return
	}
	c.Next()
}

// inboundRefusal answers bad input with a 4xx, and logs why without any
// personal data (no address, subject or body).
func (h *Handler) inboundRefusal(c *gin.Context, status int, reason, message string) {
	slog.Warn("postmark webhook refused", "route", c.FullPath(), "status", status, "reason", reason)
	c.AbortWithStatusJSON(status, gin.H{"error": message})
}

// readWebhookJSON reads a webhook's JSON body within limit: 413 when it is
// larger, 400 when it is not JSON of the expected shape.
func (h *Handler) readWebhookJSON(c *gin.Context, limit int64, v any) bool {
	if c.Request.ContentLength > limit {
		h.inboundRefusal(c, http.StatusRequestEntityTooLarge, "body too large", fmt.Sprintf("The request body is larger than %d MB.", limit>>20))
		return false
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
	dec := json.NewDecoder(c.Request.Body)
	if err := dec.Decode(v); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			h.inboundRefusal(c, http.StatusRequestEntityTooLarge, "body too large", fmt.Sprintf("The request body is larger than %d MB.", limit>>20))
			return false
		}
		h.inboundRefusal(c, http.StatusBadRequest, "malformed json", "The body is not the JSON Postmark sends.")
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		h.inboundRefusal(c, http.StatusBadRequest, "trailing data", "The body holds more than one JSON document.")
		return false
	}
	return true
}
