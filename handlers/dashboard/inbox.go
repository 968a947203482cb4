package dashboard

import (
	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/models"
)

// The operator inbox: the organization's conversations, one conversation
// with its messages and its contact, the composer, and the state changes
// (assign, snooze, resolve, reopen, wait on the contact). Every page works without JavaScript;
// inbox.js adds the live socket. Everything is scoped by the operator's
// organization: another organization's conversation is 404.

const (
	inboxPageSize      = 50  // conversations per list page
	inboxMessageWindow = 50  // messages a conversation page shows first (the latest); older load on scroll
	inboxMessagesMax   = 500 // messages one JSON answer holds
)

// inboxPathID reads a numeric path parameter; anything else is 404.
var inboxPathID = site.PathID

// inboxConversation loads the conversation of the path within the
// operator's organization; another organization's is 404.
func (h *Handler) inboxConversation(c *gin.Context) (*models.Conversation, bool) {
	return site.OwnRow(h.Site, c, "conversation", h.Store.Conversation)
}

func (h *Handler) inboxConversationByID(c *gin.Context, id uint64) (*models.Conversation, bool) {
	conv, err := h.Store.Conversation(c, site.CurrentOrg(c).ID, id)
	return site.Found(h.Site, c, "conversation", conv, err)
}
