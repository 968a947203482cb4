package widget

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/conversation"
	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// upload sends a file (with an optional caption) in a visitor's conversation.
func (h *Handler) upload(c *gin.Context) {
	org, vt, conv := orgOf(c), visitorOf(c), conversationOf(c)
	if !h.allow(c, h.Limiters.Messages, vt.TokenHash) || !h.allow(c, h.Limiters.Uploads, vt.TokenHash) {
		return
	}
	name, data, err := site.ReadUpload(c)
	if err != nil {
		messageError(c, err)
		return
	}
	body := c.PostForm("body")
	if _, err := conversation.CleanBody(body, 1); err != nil {
		messageError(c, err)
		return
	}
	att, err := h.Conversations.StoreAttachment(c, org, conv, name, data)
	if err != nil {
		messageError(c, err)
		return
	}
	msg, atts, err := h.Conversations.Post(c, org, conv, conversation.Author{Kind: workflows.AuthorContact, ID: conv.ContactID}, body, false, []uint64{att.ID})
	if err != nil {
		h.discardAttachment(org, att)
		messageError(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"message": h.Conversations.MessageView(c, msg, atts)})
}

// attachment serves a file of the visitor's conversation: only one
// that was sent in a message the visitor may see (never a private note's).
func (h *Handler) attachment(c *gin.Context) {
	org, conv := orgOf(c), conversationOf(c)
	id, err := strconv.ParseUint(c.Param("attachment"), 10, 64)
	if err != nil {
		apiError(c, http.StatusNotFound, "No such file.")
		return
	}
	att, err := h.Store.SentAttachment(c, org.ID, conv.ID, id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		apiInternal(c, err)
		return
	}
	visible := false
	if att != nil {
		if visible, err = h.Store.PublicMessageExists(c, org.ID, conv.ID, att.MessageID); err != nil {
			apiInternal(c, err)
			return
		}
	}
	if !visible {
		apiError(c, http.StatusNotFound, "No such file.")
		return
	}
	h.ServeAttachment(c, h.Conversations, org, att)
}
