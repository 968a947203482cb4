package dashboard

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
)

// The operator inbox: the organization's conversations, one conversation
// with its messages and its contact, the composer, and the state changes
// (assign, snooze, resolve, reopen, wait on the contact). Every page works without JavaScript;
// inbox.js adds the live socket. Everything is scoped by the operator's
// organization: another organization's conversation is 404.

const (
	inboxPageSize      = 50  // conversations per list page
	inboxMessageWindow = 200 // messages a conversation page shows (the latest)
	inboxMessagesMax   = 500 // messages one JSON answer holds
)

// inboxPathID reads a numeric path parameter; anything else is 404.
func inboxPathID(c *gin.Context, name string) (uint64, bool) {
	id, err := strconv.ParseUint(c.Param(name), 10, 64)
	return id, err == nil && id > 0
}

// inboxConversation loads the conversation of the path within the
// operator's organization; another organization's is 404.
func (h *Handler) inboxConversation(c *gin.Context) (*models.Conversation, bool) {
	id, ok := inboxPathID(c, "id")
	if !ok {
		h.Fail(c, http.StatusNotFound, "Not found", "There is no such conversation.")
		return nil, false
	}
	return h.inboxConversationByID(c, id)
}

func (h *Handler) inboxConversationByID(c *gin.Context, id uint64) (*models.Conversation, bool) {
	conv, err := h.Store.Conversation(c, site.CurrentOrg(c).ID, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		h.Fail(c, http.StatusNotFound, "Not found", "There is no such conversation.")
		return nil, false
	case err != nil:
		h.Internal(c, err)
		return nil, false
	}
	return conv, true
}
