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
	"github.com/convot/convot/security"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// postmarkInbound takes one mail Postmark received: to the privacy
// address a data-subject request, to Convot's support address a support
// ticket (supportMail), to an unsubscribe+TOKEN@ address a
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
			Subject: site.TruncateRunes(cleanMailText(in.Subject), 500), Text: in.text(), ReceivedAt: h.Now().UTC()})
		if err != nil {
			h.Internal(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "privacy_request"})
		return
	}
	// Convot's security address: a vulnerability report and its workflow.
	if h.Config.SecurityAddress != "" && slices.Contains(recipients, h.Config.SecurityAddress) {
		h.securityMail(c, &in, from, fromName, messageID)
		return
	}
	// Convot's support address: a support ticket of the sender's account.
	if slices.Contains(recipients, h.Config.SupportAddress) {
		h.supportMail(c, &in, from, messageID)
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
	// Postmark delivers again when it missed our answer: a mail taken in
	// already is answered at once.
	seen, err := h.Store.InboundMailSeen(ctx, target.ID, messageID)
	if err != nil {
		h.Internal(c, err)
		return
	}
	if seen {
		c.JSON(http.StatusOK, gin.H{"status": "duplicate"})
		return
	}
	taken, err := h.takeInbound(ctx, &in, target, conv, from, fromName, messageID)
	var bad conversation.ErrBadMessage
	switch {
	case errors.Is(err, errMailTaken):
		c.JSON(http.StatusOK, gin.H{"status": "duplicate"})
		return
	case errors.As(err, &bad):
		h.inboundRefusal(c, http.StatusUnprocessableEntity, "bad message", bad.Msg)
		return
	case err != nil:
		h.Internal(c, err)
		return
	}
	if len(taken.skipped) > 0 {
		note := "Not accepted from this email: " + strings.Join(taken.skipped, "; ") + "."
		if _, _, err := h.Conversations.Post(ctx, target, taken.conv, conversation.Author{Kind: workflows.AuthorSystem}, site.Truncate(note, 4000), false, nil); err != nil {
			slog.Error("inbound mail: noting skipped attachments failed", "err", err)
		}
	}
	c.JSON(http.StatusOK, gin.H{"status": "received", "conversation_id": taken.conv.ID, "message_id": taken.msg.ID})
}

// supportMail takes a mail to Convot's support address (policy §14): a
// support ticket of the account whose address sent it, shown on that
// organization's Support page and to Convot's support team (`convot
// support`), once per mail. Only Customers' accounts have tickets: mail
// from another address is refused with a 422 saying so.
func (h *Handler) supportMail(c *gin.Context, in *postmarkInboundMail, from, messageID string) {
	ctx := c.Request.Context()
	account, err := h.Store.ActiveAccountByEmail(ctx, from)
	if errors.Is(err, store.ErrNotFound) {
		h.inboundRefusal(c, http.StatusUnprocessableEntity, "support sender unknown", "The support address takes mail from the address of a Customer's account; privacy requests go to the privacy address.")
		return
	}
	if err != nil {
		h.Internal(c, err)
		return
	}
	subject := site.TruncateRunes(strings.TrimSpace(cleanMailText(in.Subject)), 500)
	if subject == "" {
		subject = "(no subject)"
	}
	body := site.Truncate(in.text(), maxSupportMailText)
	if body == "" {
		body = "(This email had no text.)"
	}
	now := h.Now().UTC()
	t := &models.SupportTicket{OrganizationID: account.OrganizationID, AccountID: account.ID, DataKeyID: account.DataKeyID, Subject: subject, Status: models.TicketOpen, CreatedAt: now, UpdatedAt: now}
	m := &models.SupportMessage{AuthorType: models.SupportAuthorCustomer, AuthorID: account.ID, Body: body, CreatedAt: now}
	opened, err := h.Store.OpenSupportTicketByMail(ctx, t, m, messageID)
	if err != nil {
		h.Internal(c, err)
		return
	}
	if !opened {
		c.JSON(http.StatusOK, gin.H{"status": "duplicate"})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "support_ticket", "ticket_id": t.ID})
}

// securityMail takes a mail to Convot's security address (policy §10,
// §14): a vulnerability report, once per mail, whose workflow acknowledges
// it to the sender at once. Without a workflow engine the mail is refused
// with 503 and Postmark delivers it again.
func (h *Handler) securityMail(c *gin.Context, in *postmarkInboundMail, from, fromName, messageID string) {
	reports := h.VulnerabilityReports()
	if reports == nil || reports.Workflows == nil {
		h.inboundRefusal(c, http.StatusServiceUnavailable, "security intake unavailable", "Vulnerability reports cannot be taken at the moment; deliver the mail again later.")
		return
	}
	report, opened, err := reports.ReceiveMail(c.Request.Context(), security.Mail{MessageID: messageID, FromAddress: from, FromName: fromName,
		Subject: cleanMailText(in.Subject), Text: in.text()})
	if err != nil {
		h.Internal(c, err)
		return
	}
	status := "vulnerability_report"
	if !opened {
		status = "duplicate"
	}
	c.JSON(http.StatusOK, gin.H{"status": status, "report_id": report.ID})
}

// maxSupportMailText is the longest message a support ticket keeps, as
// the dashboard's form allows.
const maxSupportMailText = 10000

// errMailTaken: another delivery of the same mail took it in (or is
// taking it in, and this one waited for it).
var errMailTaken = errors.New("inbound mail taken in already")

// takenMail is what an inbound mail became.
type takenMail struct {
	conv    *models.Conversation
	msg     *models.Message
	skipped []string // attachments refused, for a note in the conversation
}

// takeInbound takes a mail in, once, in one transaction: its Message-ID
// claimed first (a unique index: a delivery of the same mail at the same
// time waits there, then gets errMailTaken), then the contact and
// conversation when it starts one, its attachments and its message, and
// the Message-ID row pointed at them. Nothing is announced (live event,
// lifecycle signal) before the commit; the blobs of a transaction that
// rolled back are deleted.
func (h *Handler) takeInbound(ctx context.Context, in *postmarkInboundMail, org *models.Organization, conv *models.Conversation, from, fromName, messageID string) (*takenMail, error) {
	taken := &takenMail{conv: conv}
	var stored []*models.Attachment
	var announce func()
	err := h.Store.Tx(ctx, func(tx *store.Store) error {
		var contact *models.Contact
		dataKeyID := uint64(0)
		if conv != nil {
			dataKeyID = conv.DataKeyID
		} else {
			var err error
			if contact, err = h.contactByEmail(ctx, tx, org, from, fromName); err != nil {
				return err
			}
			dataKeyID = contact.DataKeyID
		}
		row := &models.EmailMessage{OrganizationID: org.ID, DataKeyID: dataKeyID, HeaderID: messageID}
		claimed, err := tx.ClaimInboundMail(ctx, row)
		if err != nil {
			return err
		}
		if !claimed {
			return errMailTaken
		}
		if conv == nil {
			subject := site.TruncateRunes(strings.TrimSpace(cleanMailText(in.Subject)), 500)
			if taken.conv, err = h.Conversations.Start(ctx, tx, org, contact, "email"); err != nil {
				return err
			}
			if subject != "" {
				taken.conv.Subject = subject
				if err := tx.SetConversationSubject(ctx, org.ID, taken.conv); err != nil {
					return err
				}
			}
		}
		var attIDs []uint64
		stored, taken.skipped, err = h.storeInboundAttachments(ctx, tx, org, taken.conv, in.Attachments)
		if err != nil {
			return err
		}
		for _, a := range stored {
			attIDs = append(attIDs, a.ID)
		}
		body := in.text()
		if body == "" && len(attIDs) == 0 {
			body = "(This email had no text.)"
		}
		taken.msg, _, announce, err = h.Conversations.PostIn(ctx, tx, org, taken.conv, conversation.Author{Kind: workflows.AuthorContact, ID: taken.conv.ContactID}, body, false, attIDs)
		if err != nil {
			return err
		}
		return tx.SetInboundMailMessage(ctx, org.ID, row.ID, taken.conv.ID, taken.msg.ID)
	})
	if err != nil {
		for _, a := range stored {
			if err := h.Conversations.DeleteAttachmentBlob(ctx, org, a); err != nil {
				slog.Error("inbound mail: deleting the file of a mail not taken in failed", "err", err)
			}
		}
		return nil, err
	}
	announce()
	return taken, nil
}

// contactByEmail finds the organization's contact with this address (blind
// index), or creates one, in tx.
func (h *Handler) contactByEmail(ctx context.Context, tx *store.Store, org *models.Organization, email, name string) (*models.Contact, error) {
	index := h.Keys.BlindIndex(email)
	contact, err := tx.ContactByEmailIndex(ctx, org.ID, index)
	if !errors.Is(err, store.ErrNotFound) {
		return contact, err
	}
	now := h.Now().UTC()
	contact = &models.Contact{OrganizationID: org.ID, Name: name, Email: email, CreatedAt: now, UpdatedAt: now, LastSeenAt: &now}
	// In a savepoint: should a unique index refuse a contact created
	// meanwhile, the transaction goes on with that one.
	err = tx.Tx(ctx, func(sp *store.Store) error { return sp.CreateContact(ctx, contact) })
	if errors.Is(err, store.ErrContactEmailHeld) {
		return tx.ContactByEmailIndex(ctx, org.ID, index)
	}
	if err != nil {
		return nil, err
	}
	return contact, nil
}

// storeInboundAttachments stores the files a mail brings, like widget
// uploads (the same allow-list, size limit and sealing), their rows in tx.
// A file that is refused is skipped and named in skipped, for a note in
// the conversation. On an error, stored are the files stored so far.
func (h *Handler) storeInboundAttachments(ctx context.Context, tx *store.Store, org *models.Organization, conv *models.Conversation, files []postmarkAttachment) ([]*models.Attachment, []string, error) {
	var stored []*models.Attachment
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
		att, err := h.Conversations.StoreAttachmentIn(ctx, tx, org, conv, name, data)
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
			return stored, nil, err
		}
		stored = append(stored, att)
	}
	return stored, skipped, nil
}
