package webhooks

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/conversation"
	"github.com/convot/convot/dsr"
	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/internal/mail"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// postmarkInbound takes one mail Postmark received: to the privacy
// address a data-subject request, to an unsubscribe+TOKEN@ address a
// withdrawal, else a message of the conversation it continues or of a new
// one (routeInbound), with its attachments; each mail once.
func (h *Handler) postmarkInbound(c *gin.Context) {
	var in postmarkInboundMail
	if !h.readWebhookJSON(c, MaxInboundBytes, &in) {
		return
	}
	from, fromName, ok := in.sender()
	if !ok {
		h.inboundRefusal(c, http.StatusUnprocessableEntity, "no sender", "The mail has no valid sender address (From, FromFull).")
		return
	}
	recipients := in.recipients()
	if len(recipients) == 0 {
		h.inboundRefusal(c, http.StatusUnprocessableEntity, "no recipient", "The mail has no recipient (OriginalRecipient, To, ToFull).")
		return
	}
	messageID := in.messageID()
	if messageID == "" {
		h.inboundRefusal(c, http.StatusUnprocessableEntity, "no message id", "The mail has neither a Message-ID header nor a MessageID.")
		return
	}
	if len(in.Attachments) > maxInboundAttachments {
		h.inboundRefusal(c, http.StatusRequestEntityTooLarge, "too many attachments", fmt.Sprintf("A mail may bring at most %d attachments.", maxInboundAttachments))
		return
	}
	ctx := c.Request.Context()
	domain := h.Config.InboundDomain

	// The privacy address: a data-subject request, not a conversation.
	if slices.Contains(recipients, h.Config.PrivacyAddress) {
		intake := h.PrivacyIntake()
		if intake == nil {
			h.inboundRefusal(c, http.StatusServiceUnavailable, "privacy intake unavailable", "Privacy requests by email cannot be taken at the moment; deliver the mail again later.")
			return
		}
		err := intake(ctx, dsr.InboundMail{MessageID: messageID, FromAddress: from, FromName: fromName,
			Subject: site.Truncate(in.Subject, 500), Text: in.text(), ReceivedAt: h.Now().UTC()})
		if err != nil {
			h.Internal(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "privacy_request"})
		return
	}
	// unsubscribe+TOKEN@: the mailto: of a marketing mail's List-Unsubscribe.
	for _, r := range recipients {
		if token, ok := mail.ParseTaggedAddress(r, "unsubscribe", domain); ok {
			found, err := h.withdrawByToken(c, token, "mailto")
			if err != nil {
				h.Internal(c, err)
				return
			}
			status := "unsubscribed"
			if !found {
				status = "unknown_token"
			}
			c.JSON(http.StatusOK, gin.H{"status": status})
			return
		}
	}

	target, conv, err := h.routeInbound(ctx, &in, recipients, from)
	if err != nil {
		h.Internal(c, err)
		return
	}
	if target == nil {
		h.inboundRefusal(c, http.StatusUnprocessableEntity, "no organization", "The mail is addressed to no organization's support address and answers no conversation.")
		return
	}
	if target.Status != models.OrgActive {
		h.inboundRefusal(c, http.StatusUnprocessableEntity, "organization closed", "The organization this mail is addressed to does not take mail.")
		return
	}
	// Postmark delivers again when it missed our answer: take a mail once.
	seen, err := h.Store.InboundMailSeen(ctx, target.ID, messageID)
	if err != nil {
		h.Internal(c, err)
		return
	}
	if seen {
		c.JSON(http.StatusOK, gin.H{"status": "duplicate"})
		return
	}

	if conv == nil {
		contact, err := h.contactByEmail(ctx, target, from, fromName)
		if err != nil {
			h.Internal(c, err)
			return
		}
		subject := site.Truncate(strings.TrimSpace(strings.ToValidUTF8(in.Subject, "")), 500)
		err = h.Store.Tx(ctx, func(tx *store.Store) error {
			var err error
			if conv, err = h.Conversations.Start(ctx, tx, target, contact, "email"); err != nil {
				return err
			}
			if subject == "" {
				return nil
			}
			conv.Subject = subject
			return tx.SetConversationSubject(ctx, conv.OrganizationID, conv)
		})
		if err != nil {
			h.Internal(c, err)
			return
		}
	}

	attIDs, skipped, err := h.storeInboundAttachments(ctx, target, conv, in.Attachments)
	if err != nil {
		h.Internal(c, err)
		return
	}
	body := in.text()
	if body == "" && len(attIDs) == 0 {
		body = "(This email had no text.)"
	}
	msg, _, err := h.Conversations.Post(ctx, target, conv, conversation.Author{Kind: workflows.AuthorContact, ID: conv.ContactID}, body, false, attIDs)
	if err != nil {
		var bad conversation.ErrBadMessage
		if errors.As(err, &bad) {
			h.inboundRefusal(c, http.StatusUnprocessableEntity, "bad message", bad.Msg)
			return
		}
		h.Internal(c, err)
		return
	}
	if len(skipped) > 0 {
		note := "Not accepted from this email: " + strings.Join(skipped, "; ") + "."
		if _, _, err := h.Conversations.Post(ctx, target, conv, conversation.Author{Kind: workflows.AuthorSystem}, site.Truncate(note, 4000), false, nil); err != nil {
			slog.Error("inbound mail: noting skipped attachments failed", "err", err)
		}
	}
	err = h.Store.RecordEmailMessage(ctx, &models.EmailMessage{OrganizationID: target.ID, ConversationID: conv.ID,
		MessageID: msg.ID, DataKeyID: conv.DataKeyID, Direction: models.EmailInbound, HeaderID: messageID})
	if err != nil && !errors.Is(err, models.ErrDuplicateEmail) {
		h.Internal(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "received", "conversation_id": conv.ID, "message_id": msg.ID})
}

// contactByEmail finds the organization's contact with this address (blind
// index), or creates one.
func (h *Handler) contactByEmail(ctx context.Context, org *models.Organization, email, name string) (*models.Contact, error) {
	contact, err := h.Store.ContactByEmailIndex(ctx, org.ID, h.Keys.BlindIndex(email))
	if !errors.Is(err, store.ErrNotFound) {
		return contact, err
	}
	now := h.Now().UTC()
	contact = &models.Contact{OrganizationID: org.ID, Name: name, Email: email, CreatedAt: now, UpdatedAt: now, LastSeenAt: &now}
	if err := h.Store.CreateContact(ctx, contact); err != nil {
		return nil, err
	}
	return contact, nil
}

// storeInboundAttachments stores the files a mail brings, like widget
// uploads (the same allow-list, size limit and sealing). A file that is
// refused is skipped and named in skipped, for a note in the conversation.
func (h *Handler) storeInboundAttachments(ctx context.Context, org *models.Organization, conv *models.Conversation, files []postmarkAttachment) ([]uint64, []string, error) {
	var ids []uint64
	var skipped []string
	for i, f := range files {
		name := strings.TrimSpace(f.Name)
		if name == "" {
			name = fmt.Sprintf("attachment %d", i+1)
		}
		label := site.Truncate(strings.Map(func(r rune) rune {
			if r < ' ' || r == 0x7f {
				return -1
			}
			return r
		}, name), 120)
		if f.ContentLength > conversation.MaxAttachmentBytes || int64(base64.StdEncoding.DecodedLen(len(f.Content))) > conversation.MaxAttachmentBytes+3 {
			skipped = append(skipped, fmt.Sprintf("%s (larger than %d MB)", label, conversation.MaxAttachmentBytes>>20))
			continue
		}
		data, err := base64.StdEncoding.DecodeString(strings.Map(func(r rune) rune {
			if r == '\r' || r == '\n' || r == ' ' || r == '\t' {
				return -1
			}
			return r
		}, f.Content))
		if err != nil {
			skipped = append(skipped, label+" (could not be read)")
			continue
		}
		att, err := h.Conversations.StoreAttachment(ctx, org, conv, name, data)
		var bad conversation.ErrBadAttachment
		switch {
		case errors.As(err, &bad) && bad.Problem == conversation.AttachmentTypeRefused:
			skipped = append(skipped, label+" (this type of file is not accepted)")
			continue
		case errors.As(err, &bad) && bad.Problem == conversation.AttachmentTooLarge:
			skipped = append(skipped, fmt.Sprintf("%s (larger than %d MB)", label, conversation.MaxAttachmentBytes>>20))
			continue
		case errors.As(err, &bad):
			skipped = append(skipped, label+" (empty)")
			continue
		case err != nil:
			return nil, nil, err
		}
		ids = append(ids, att.ID)
	}
	return ids, skipped, nil
}
