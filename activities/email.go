package activities

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	netmail "net/mail"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/convot/convot/internal/mail"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/subprocessors"
	"github.com/convot/convot/workflows"
)

// maxNotifiedMessages bounds the replies one notification carries.
const maxNotifiedMessages = 50

// NotifyContactOfReplies mails a contact the operator replies of a
// conversation they have not read (policy §4: a transactional mail about
// the conversation they started). It sends nothing when the contact gave
// no email address, has read the replies (Message.ReadAt), or the address
// is suppressed after a bounce or complaint; private notes never leave.
// The mail is threaded: Reply-To reply+TOKEN@ the inbound domain, its own
// Message-ID, In-Reply-To and References naming the conversation's earlier
// mail. A reply is mailed once: the thread remembers the last one notified.
func (a *Activities) NotifyContactOfReplies(ctx context.Context, in workflows.ReplyNotification) (workflows.ReplyNotificationResult, error) {
	skip := func(reason string) (workflows.ReplyNotificationResult, error) {
		activity.GetLogger(ctx).Info("reply notification not sent", "conversation", in.ConversationID, "reason", reason)
		return workflows.ReplyNotificationResult{Skipped: reason}, nil
	}
	if a.Mail == nil || a.InboundDomain == "" {
		return workflows.ReplyNotificationResult{}, temporal.NewNonRetryableApplicationError("no mail sender or inbound domain configured", "NoMail", nil)
	}
	org, err := a.Store.Organization(ctx, in.OrganizationID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return workflows.ReplyNotificationResult{}, err
	}
	conv, convErr := a.Store.Conversation(ctx, in.OrganizationID, in.ConversationID)
	if convErr != nil && !errors.Is(convErr, store.ErrNotFound) {
		return workflows.ReplyNotificationResult{}, convErr
	}
	if err != nil || convErr != nil {
		return skip("conversation_gone")
	}
	contact, err := a.Store.Contact(ctx, org.ID, conv.ContactID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return workflows.ReplyNotificationResult{}, err
	}
	if err != nil || strings.TrimSpace(contact.Email) == "" {
		return skip("no_email")
	}
	notifiedUpTo, err := a.Store.EmailThreadNotifiedUpTo(ctx, org.ID, conv.ID)
	if err != nil {
		return workflows.ReplyNotificationResult{}, err
	}
	msgs, err := a.Store.UnreadReplies(ctx, org.ID, conv.ID, workflows.AuthorOperator, notifiedUpTo, maxNotifiedMessages)
	if err != nil {
		return workflows.ReplyNotificationResult{}, err
	}
	if len(msgs) == 0 {
		return skip("nothing_unread")
	}

	t, err := a.Store.EnsureEmailThread(ctx, conv)
	if err != nil {
		return workflows.ReplyNotificationResult{}, err
	}
	ancestors, err := a.Store.EmailThreadMessageIDs(ctx, org.ID, conv.ID, mail.MaxReferences)
	if err != nil {
		return workflows.ReplyNotificationResult{}, err
	}
	recipient, err := a.Store.SubjectContextForContact(ctx, org.ID, contact.ID)
	if err != nil {
		return workflows.ReplyNotificationResult{}, err
	}
	body, err := a.replyDigest(ctx, org, msgs)
	if err != nil {
		return workflows.ReplyNotificationResult{}, err
	}
	messageID := mail.NewMessageID(a.InboundDomain)
	m := mail.Message{
		From:      a.sender(org.CompanyName),
		To:        (&netmail.Address{Name: contact.Name, Address: contact.Email}).String(),
		ReplyTo:   mail.ReplyAddress(t.ReplyToken, a.InboundDomain),
		Subject:   replySubject(conv, org),
		Text:      body.text,
		HTML:      body.html,
		Headers:   mail.ThreadHeaders(messageID, ancestors),
		Stream:    mail.Transactional,
		Tag:       "reply_notification",
		Org:       org.GateContext(),
		Recipient: recipient,
	}
	if err := a.Mail.Send(ctx, m); err != nil {
		switch {
		case errors.Is(err, mail.ErrSuppressed):
			return skip("suppressed")
		case errors.Is(err, subprocessors.ErrDenied):
			return skip("refused")
		}
		// The error of a transport never names the recipient.
		return workflows.ReplyNotificationResult{}, fmt.Errorf("reply notification: %w", err)
	}
	last := msgs[len(msgs)-1].ID
	err = a.Store.Tx(ctx, func(tx *store.Store) error {
		if err := tx.RecordEmailMessage(ctx, &models.EmailMessage{
			OrganizationID: org.ID, ConversationID: conv.ID, MessageID: last, DataKeyID: conv.DataKeyID,
			Direction: models.EmailOutbound, HeaderID: messageID,
		}); err != nil {
			return err
		}
		return tx.AdvanceEmailThreadNotified(ctx, org.ID, conv.ID, last, time.Now().UTC())
	})
	if err != nil {
		return workflows.ReplyNotificationResult{}, err
	}
	return workflows.ReplyNotificationResult{Sent: true, Messages: len(msgs)}, nil
}

// sender is the From of an organization's conversation mail: Convot's
// sending address, named for the organization.
func (a *Activities) sender(company string) string {
	from, err := netmail.ParseAddress(a.MailFrom)
	if err != nil {
		return a.MailFrom
	}
	if company != "" {
		from.Name = company + " (via Convot)"
	}
	return from.String()
}

func replySubject(conv *models.Conversation, org *models.Organization) string {
	subject := strings.TrimSpace(conv.Subject)
	if subject == "" {
		if org.CompanyName == "" {
			return "New reply to your conversation"
		}
		return "New reply from " + org.CompanyName
	}
	if len(subject) >= 3 && strings.EqualFold(subject[:3], "re:") {
		return subject
	}
	return "Re: " + subject
}

type digest struct{ text, html string }

type digestMessage struct {
	Author      string
	Body        string
	Attachments []string
}

var digestHTML = template.Must(template.New("digest").Parse(`<!doctype html>
<html><body style="font-family:sans-serif;line-height:1.5;color:#222">
<p>{{.Company}} replied to your conversation:</p>
{{range .Messages}}<div style="border-left:3px solid #ccc;padding-left:12px;margin:12px 0">
<p style="margin:0;color:#555">{{.Author}} wrote:</p>
<p style="white-space:pre-wrap;margin:4px 0">{{.Body}}</p>
{{range .Attachments}}<p style="margin:0;color:#555">Attachment: {{.}}</p>{{end}}
</div>{{end}}
<p style="color:#555;font-size:0.9em">Reply to this email to answer: your reply is added to the same conversation.<br>
This is a service message about the conversation you started with {{.Company}}, not marketing.</p>
</body></html>`))

// replyDigest writes the replies as text and HTML (escaped: a reply is
// text, never markup).
func (a *Activities) replyDigest(ctx context.Context, org *models.Organization, msgs []models.Message) (digest, error) {
	ids := make([]uint64, 0, len(msgs))
	authorIDs := map[uint64]bool{}
	for _, m := range msgs {
		ids = append(ids, m.ID)
		authorIDs[m.AuthorID] = true
	}
	atts, err := a.Store.AttachmentsOfMessages(ctx, org.ID, ids)
	if err != nil {
		return digest{}, err
	}
	byMessage := map[uint64][]string{}
	for _, at := range atts {
		byMessage[at.MessageID] = append(byMessage[at.MessageID], at.FileName)
	}
	authors := make([]uint64, 0, len(authorIDs))
	for id := range authorIDs {
		authors = append(authors, id)
	}
	accounts, err := a.Store.AccountsByID(ctx, org.ID, authors)
	if err != nil {
		return digest{}, err
	}
	names := map[uint64]string{}
	for _, acc := range accounts {
		name := acc.DisplayName
		if name == "" {
			name, _, _ = strings.Cut(acc.FullName, " ")
		}
		names[acc.ID] = name
	}
	company := org.CompanyName
	if company == "" {
		company = "The team"
	}
	var text strings.Builder
	fmt.Fprintf(&text, "%s replied to your conversation:\n\n", company)
	view := struct {
		Company  string
		Messages []digestMessage
	}{Company: company}
	for _, m := range msgs {
		author := names[m.AuthorID]
		if author == "" {
			author = company
		}
		dm := digestMessage{Author: author, Body: m.Body, Attachments: byMessage[m.ID]}
		view.Messages = append(view.Messages, dm)
		fmt.Fprintf(&text, "%s wrote:\n%s\n", author, m.Body)
		for _, name := range dm.Attachments {
			fmt.Fprintf(&text, "[Attachment: %s]\n", name)
		}
		text.WriteString("\n")
	}
	fmt.Fprintf(&text, "-- \nReply to this email to answer: your reply is added to the same conversation.\nThis is a service message about the conversation you started with %s, not marketing.\n", company)
	var html bytes.Buffer
	if err := digestHTML.Execute(&html, view); err != nil {
		return digest{}, err
	}
	return digest{text: text.String(), html: html.String()}, nil
}
