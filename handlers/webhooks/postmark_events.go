package webhooks

import (
	"log/slog"
	"net/http"
	netmail "net/mail"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/models"
)

// postmarkEvent is a bounce, spam complaint or subscription change that
// Postmark reports (the fields Convot reads).
type postmarkEvent struct {
	RecordType      string `json:"RecordType"`
	ID              int64  `json:"ID"`
	Type            string `json:"Type"`
	Email           string `json:"Email"`
	Recipient       string `json:"Recipient"`
	Inactive        bool   `json:"Inactive"`
	MessageStream   string `json:"MessageStream"`
	BouncedAt       string `json:"BouncedAt"`
	ChangedAt       string `json:"ChangedAt"`
	SuppressSending bool   `json:"SuppressSending"`
}

// suppressingBounces are the bounce types after which mail to the address
// stops; transient ones (soft bounces, auto-replies, DNS errors) are
// recorded but do not stop mail, unless Postmark deactivated the address.
var suppressingBounces = map[string]bool{
	"HardBounce": true, "BadEmailAddress": true, "SpamComplaint": true, "SpamNotification": true,
	"ManuallyDeactivated": true, "Blocked": true, "Unsubscribe": true,
}

// postmarkEvents records the bounces, spam complaints and subscription
// changes Postmark reports: the addresses mail must no longer go to.
func (h *Handler) postmarkEvents(c *gin.Context) {
	var ev postmarkEvent
	if !h.readWebhookJSON(c, h.Config.MaxBodyBytes, &ev) {
		return
	}
	ctx := c.Request.Context()
	at := func(v string) time.Time {
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			return t.UTC()
		}
		return h.Now().UTC()
	}
	address := func(v string) (string, bool) {
		a, err := netmail.ParseAddress(strings.TrimSpace(v))
		if err != nil {
			return "", false
		}
		return strings.ToLower(a.Address), true
	}
	switch ev.RecordType {
	case "Bounce", "SpamComplaint":
		addr, ok := address(ev.Email)
		if !ok || ev.ID == 0 {
			h.inboundRefusal(c, http.StatusUnprocessableEntity, "missing fields", "A bounce or spam complaint needs its ID and Email.")
			return
		}
		rec := models.EmailSuppression{Kind: models.SuppressionBounce, BounceType: site.Truncate(ev.Type, 40), PostmarkID: ev.ID,
			Stream: site.Truncate(ev.MessageStream, 40), OccurredAt: at(ev.BouncedAt), CreatedAt: h.Now().UTC()}
		rec.Suppresses = ev.Inactive || suppressingBounces[ev.Type]
		if ev.RecordType == "SpamComplaint" {
			rec.Kind, rec.Suppresses = models.SuppressionSpamComplaint, true
		}
		stored, err := h.Store.RecordSuppression(ctx, addr, rec)
		if err != nil {
			h.Internal(c, err)
			return
		}
		slog.Info("postmark event recorded", "record_type", ev.RecordType, "type", rec.BounceType, "suppresses", rec.Suppresses, "new", stored)
		c.JSON(http.StatusOK, gin.H{"status": "recorded", "suppresses": rec.Suppresses})
	case "SubscriptionChange":
		addr, ok := address(ev.Recipient)
		if !ok {
			h.inboundRefusal(c, http.StatusUnprocessableEntity, "missing fields", "A subscription change needs its Recipient.")
			return
		}
		if ev.SuppressSending {
			if _, err := h.Store.RecordSuppression(ctx, addr, models.EmailSuppression{Kind: models.SuppressionBounce, BounceType: "SubscriptionChange",
				Suppresses: true, Stream: site.Truncate(ev.MessageStream, 40), OccurredAt: at(ev.ChangedAt)}); err != nil {
				h.Internal(c, err)
				return
			}
			c.JSON(http.StatusOK, gin.H{"status": "recorded", "suppresses": true})
			return
		}
		// Postmark reactivated the address: mail to it may go again.
		if _, err := h.Store.LiftSuppressions(ctx, addr, at(ev.ChangedAt)); err != nil {
			h.Internal(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "lifted"})
	case "":
		h.inboundRefusal(c, http.StatusUnprocessableEntity, "missing fields", "The event has no RecordType.")
	default:
		// Deliveries, opens and clicks: Convot tracks none of them.
		c.JSON(http.StatusOK, gin.H{"status": "ignored"})
	}
}
