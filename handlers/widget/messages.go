package widget

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/conversation"
	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/internal/realtime"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// maxMessagesPage bounds one page of GET .../messages.
const maxMessagesPage = 200

type messageRequest struct {
	Body string `json:"body"`
}

// messageError answers an error of Conversations.Post or StoreAttachment.
func messageError(c *gin.Context, err error) {
	var bad conversation.ErrBadMessage
	var badFile conversation.ErrBadAttachment
	switch {
	case errors.As(err, &bad):
		apiError(c, http.StatusUnprocessableEntity, bad.Msg)
	case errors.As(err, &badFile):
		apiError(c, site.AttachmentStatus(badFile.Problem), badFile.Msg)
	case errors.Is(err, store.ErrNotFound):
		apiError(c, http.StatusNotFound, "No such conversation.")
	default:
		apiInternal(c, err)
	}
}

// messages pages through what the visitor may read (never private notes):
// forward from after_id, or back from before_id.
func (h *Handler) messages(c *gin.Context) {
	org, conv := orgOf(c), conversationOf(c)
	after, err := strconv.ParseUint(c.DefaultQuery("after_id", "0"), 10, 64)
	if err != nil {
		apiError(c, http.StatusBadRequest, "after_id must be a message ID.")
		return
	}
	limit, err := strconv.Atoi(c.DefaultQuery("limit", "100"))
	if err != nil || limit < 1 || limit > maxMessagesPage {
		apiError(c, http.StatusBadRequest, fmt.Sprintf("limit must be between 1 and %d.", maxMessagesPage))
		return
	}
	if v, older := c.GetQuery("before_id"); older {
		// The newest page first (before_id=0), then older pages as the
		// visitor scrolls back; has_more says whether older ones remain.
		before, err := strconv.ParseUint(v, 10, 64)
		if err != nil || after != 0 {
			apiError(c, http.StatusBadRequest, "before_id must be a message ID, without after_id.")
			return
		}
		views, err := h.Conversations.MessageViewsBefore(c, org.ID, conv.ID, false, before, limit+1)
		if err != nil {
			apiInternal(c, err)
			return
		}
		more := len(views) > limit
		if more {
			views = views[1:]
		}
		c.JSON(http.StatusOK, gin.H{"messages": views, "has_more": more})
		return
	}
	views, err := h.Conversations.MessageViews(c, org.ID, conv.ID, false, after, limit+1)
	if err != nil {
		apiInternal(c, err)
		return
	}
	more := len(views) > limit
	if more {
		views = views[:limit]
	}
	c.JSON(http.StatusOK, gin.H{"messages": views, "has_more": more})
}

// send posts the visitor's text message.
func (h *Handler) send(c *gin.Context) {
	org, vt, conv := orgOf(c), visitorOf(c), conversationOf(c)
	if !h.allow(c, h.Limiters.Messages, vt.TokenHash) {
		return
	}
	var req messageRequest
	if !h.readJSON(c, &req, false) {
		return
	}
	msg, atts, err := h.Conversations.Post(c, org, conv, conversation.Author{Kind: workflows.AuthorContact, ID: conv.ContactID}, req.Body, false, nil)
	if err != nil {
		messageError(c, err)
		return
	}
	c.JSON(http.StatusCreated, gin.H{"message": h.Conversations.MessageView(c, msg, atts)})
}

// visitorTyping tells the operators that the visitor is typing.
func (h *Handler) visitorTyping(ctx context.Context, org *models.Organization, conv *models.Conversation) {
	h.Conversations.Publish(ctx, org, conv, realtime.LiveEvent{Type: "typing", ConversationID: conv.ID, AuthorType: workflows.AuthorContact}, false)
}

// typing relays that the visitor is typing (the socket does it too).
func (h *Handler) typing(c *gin.Context) {
	h.visitorTyping(c, orgOf(c), conversationOf(c))
	c.Status(http.StatusNoContent)
}

type readRequest struct {
	MessageID uint64 `json:"message_id"`
}

// visitorRead marks the conversation read by its visitor up to a message
// (0: the latest).
func (h *Handler) visitorRead(ctx context.Context, org *models.Organization, conv *models.Conversation, upTo uint64) error {
	if upTo == 0 {
		last, err := h.Store.LatestMessageIDs(ctx, org.ID, conv.ID, 1)
		if err != nil {
			return err
		}
		if len(last) == 0 {
			return nil
		}
		upTo = last[0]
	}
	return h.Conversations.MarkRead(ctx, org, conv, workflows.AuthorContact, upTo)
}

// read records the visitor's read receipt.
func (h *Handler) read(c *gin.Context) {
	var req readRequest
	if !h.readJSON(c, &req, true) {
		return
	}
	if err := h.visitorRead(c, orgOf(c), conversationOf(c), req.MessageID); err != nil {
		apiInternal(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
