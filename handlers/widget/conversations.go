package widget

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/conversation"
	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// isMultipart: a first message with a file comes as a form.
func isMultipart(c *gin.Context) bool {
	return strings.HasPrefix(strings.ToLower(c.ContentType()), "multipart/form-data")
}

// start opens a conversation with its first message (text, or a
// file with an optional caption when the body is multipart).
func (h *Handler) start(c *gin.Context) {
	org, vt := orgOf(c), visitorOf(c)
	if !h.allow(c, h.Limiters.Messages, vt.TokenHash) {
		return
	}
	var body, name string
	var data []byte
	withFile := isMultipart(c)
	if withFile {
		if !h.allow(c, h.Limiters.Uploads, vt.TokenHash) {
			return
		}
		var err error
		if name, data, err = site.ReadUpload(c); err == nil {
			// Refused before the conversation is started for it.
			_, err = conversation.CheckAttachment(name, data)
		}
		if err != nil {
			messageError(c, err)
			return
		}
		body = c.PostForm("body")
	} else {
		var req messageRequest
		if !h.readJSON(c, &req, false) {
			return
		}
		body = req.Body
	}
	files := 0
	if withFile {
		files = 1
	}
	if _, err := conversation.CleanBody(body, files); err != nil {
		messageError(c, err)
		return
	}
	contact, ok := h.visitorContact(c, org, vt)
	if !ok {
		return
	}
	conv, err := h.Conversations.Start(c, h.Store, org, contact, "widget")
	if errors.Is(err, models.ErrConversationLimit) {
		h.conversationLimitReached(c, org)
		return
	}
	if err != nil {
		apiInternal(c, err)
		return
	}
	var attIDs []uint64
	var att *models.Attachment
	if withFile {
		if att, err = h.Conversations.StoreAttachment(c, org, conv, name, data); err != nil {
			h.discardConversation(org, conv, nil)
			messageError(c, err)
			return
		}
		attIDs = []uint64{att.ID}
	}
	msg, atts, err := h.Conversations.Post(c, org, conv, conversation.Author{Kind: workflows.AuthorContact, ID: contact.ID}, body, false, attIDs)
	if err != nil {
		h.discardConversation(org, conv, att)
		messageError(c, err)
		return
	}
	// Operators learn of the new conversation (its message event was
	// published by Conversations.Post).
	h.Conversations.PublishConversation(c, org, conv)
	c.JSON(http.StatusCreated, gin.H{"conversation": conversation.NewConversationView(conv), "message": h.Conversations.MessageView(c, msg, atts)})
}

// discardConversation removes a conversation whose first message failed.
func (h *Handler) discardConversation(org *models.Organization, conv *models.Conversation, att *models.Attachment) {
	ctx := context.Background()
	if att != nil {
		h.discardAttachment(org, att)
	}
	err := h.Store.Tx(ctx, func(tx *store.Store) error {
		deleted, err := tx.DeleteConversation(ctx, org.ID, conv.ID)
		if err != nil || !deleted {
			return err
		}
		// Not started after all: it does not count against the plan.
		return tx.UncountConversationStart(ctx, org.ID, conv.CreatedAt, conv.ID)
	})
	if err != nil {
		slog.Warn("empty conversation not removed", "conversation", conv.ID, "err", err)
	}
}

// discardAttachment removes a stored file that was never sent.
func (h *Handler) discardAttachment(org *models.Organization, att *models.Attachment) {
	ctx := context.Background()
	if err := h.Conversations.DeleteAttachmentBlob(ctx, org, att); err != nil {
		slog.Warn("unsent attachment blob not removed", "attachment", att.ID, "err", err)
	}
	_ = h.Store.DeleteUnsentAttachment(ctx, org.ID, att.ID)
}
