package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/models"
)

// Plan limits are checked by s.Plans (package plans); this is the widget's
// answer when one refuses a conversation.

// conversationLimitMessage is what a visitor reads when the widget cannot
// start a conversation.
const conversationLimitMessage = "This team can't take new chat conversations at the moment. Please try again later or reach them another way."

// conversationLimitReached answers the widget (402) and tells the
// organization's owners, once a month, that new conversations are refused.
func (s *Server) conversationLimitReached(c *gin.Context, org *models.Organization) {
	widgetError(c, http.StatusPaymentRequired, conversationLimitMessage)
	s.Plans.ConversationLimitReached(c, org)
}
