package widget

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/conversation"
	"github.com/convot/convot/models"
)

// handover is the visitor's "Talk to a person": the automated answers hand
// the conversation to the team (an event line for the operators, a notice
// for the visitor) and stop for it. 409 when the organization has no bot;
// handing over twice changes nothing.
func (h *Handler) handover(c *gin.Context) {
	org, conv := orgOf(c), conversationOf(c)
	var req struct{}
	if !h.readJSON(c, &req, true) {
		return
	}
	if !settingsOf(org).AutomatedAnswers && conv.HandedOverAt == nil {
		apiError(c, http.StatusConflict, "This chat has no automated answers: the team answers it already.")
		return
	}
	if _, err := h.Conversations.HandOver(c, org, conv, models.HandoverAsked); err != nil {
		messageError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"conversation": conversation.NewConversationView(conv)})
}
