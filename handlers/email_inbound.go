package handlers

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	netmail "net/mail"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/conversation"
	"github.com/convot/convot/dsr"
	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/internal/mail"
	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// The inbound side of the email channel (policy §2.3): Postmark parses the
// mail an End User sends to an organization's support address, or as a
// reply to a conversation's mail, and posts it here as JSON. Postmark also
// reports bounces and spam complaints here. Both webhooks authenticate
// with HTTP basic auth (POSTMARK_INBOUND_USER / _PASSWORD), checked in
// constant time before the body is read.
//
// Routing rule (never across organizations): the organizations a mail is
// addressed to are those whose support address is among its recipients
// (OriginalRecipient, To, Cc). A reply token (MailboxHash, or a
// reply+TOKEN@ recipient) or a Message-ID in In-Reply-To/References
// threads the mail into its conversation only when that conversation's
// organization is among them, or when the mail names no support address
// at all; and only when the sender is that conversation's contact. A mail
// that names another organization's support address starts a conversation
// there instead; an unknown token is never guessed at.

const (
	// maxInboundBytes bounds one inbound webhook (Postmark's limit is
	// about 35 MB of JSON with base64 attachments).
	maxInboundBytes = 30 << 20
	// maxInboundAttachments bounds the files one mail may bring.
	maxInboundAttachments = 20
)

// PrivacyIntake turns a mail to the privacy address into a data-subject
// request (policy §9, §14): dsr.Intake.ReceiveMail but in tests. An error
// makes Postmark deliver it again.
type PrivacyIntake func(ctx context.Context, m dsr.InboundMail) error

func (s *Server) emailRoutes(r *gin.Engine) {
	hooks := r.Group("/webhooks/postmark", s.postmarkAuth)
	hooks.POST("/inbound", s.postmarkInbound)
	hooks.POST("/events", s.postmarkEvents)
	s.LargeBodies["/webhooks/postmark/inbound"] = true
	r.GET("/unsubscribe/:token", s.unsubscribePage)
	r.POST("/unsubscribe/:token", s.unsubscribe)
}

// postmarkAuth checks the webhook's basic-auth credentials in constant
// time (digests of equal length, both compared whatever the first gives).
func (s *Server) postmarkAuth(c *gin.Context) {
	user, password, ok := c.Request.BasicAuth()
	wantUser, wantPassword := s.Config.PostmarkInboundUser, s.Config.PostmarkInboundPassword
	u1, u2 := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(wantUser))
	p1, p2 := sha256.Sum256([]byte(password)), sha256.Sum256([]byte(wantPassword))
	match := subtle.ConstantTimeCompare(u1[:], u2[:]) & subtle.ConstantTimeCompare(p1[:], p2[:])
	if !ok || wantUser == "" || wantPassword == "" || match != 1 {
		slog.Warn("postmark webhook refused", "route", c.FullPath(), "reason", "wrong credentials")
		c.Header("WWW-Authenticate", `Basic realm="convot-postmark", charset="UTF-8"`)
		c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "Wrong or missing credentials."})
		return
	}
	c.Next()
}

type postmarkAddress struct {
	Email       string `json:"Email"`
	Name        string `json:"Name"`
	MailboxHash string `json:"MailboxHash"`
}

type postmarkHeader struct {
	Name  string `json:"Name"`
	Value string `json:"Value"`
}

type postmarkAttachment struct {
	Name          string `json:"Name"`
	Content       string `json:"Content"`
	ContentType   string `json:"ContentType"`
	ContentLength int64  `json:"ContentLength"`
}

// postmarkInboundMail is Postmark's inbound JSON (the fields Convot reads).
type postmarkInboundMail struct {
	MessageID         string               `json:"MessageID"`
	From              string               `json:"From"`
	FromName          string               `json:"FromName"`
	FromFull          *postmarkAddress     `json:"FromFull"`
	To                string               `json:"To"`
	ToFull            []postmarkAddress    `json:"ToFull"`
	Cc                string               `json:"Cc"`
	CcFull            []postmarkAddress    `json:"CcFull"`
	OriginalRecipient string               `json:"OriginalRecipient"`
	MailboxHash       string               `json:"MailboxHash"`
	Subject           string               `json:"Subject"`
	TextBody          string               `json:"TextBody"`
	HtmlBody          string               `json:"HtmlBody"`
	StrippedTextReply string               `json:"StrippedTextReply"`
	Headers           []postmarkHeader     `json:"Headers"`
	Attachments       []postmarkAttachment `json:"Attachments"`
}

func (m *postmarkInboundMail) header(name string) string {
	for _, h := range m.Headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

// sender is the From address (lowercased) and display name.
func (m *postmarkInboundMail) sender() (string, string, bool) {
	addr, name := "", m.FromName
	if m.FromFull != nil && m.FromFull.Email != "" {
		addr, name = m.FromFull.Email, m.FromFull.Name
	} else if a, err := netmail.ParseAddress(m.From); err == nil {
		addr = a.Address
		if name == "" {
			name = a.Name
		}
	}
	addr, err := validEmail(addr)
	if err != nil {
		return "", "", false
	}
	return addr, site.Truncate(strings.TrimSpace(name), 200), true
}

// recipients are the addresses the mail was sent to, lowercased, each
// once: the original recipient first, then To and Cc.
func (m *postmarkInboundMail) recipients() []string {
	var out []string
	add := func(a string) {
		a = strings.ToLower(strings.TrimSpace(a))
		if a != "" && len(a) <= 254 && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	if a, err := netmail.ParseAddress(m.OriginalRecipient); err == nil {
		add(a.Address)
	}
	for _, full := range [][]postmarkAddress{m.ToFull, m.CcFull} {
		for _, a := range full {
			add(a.Email)
		}
	}
	for _, list := range []string{m.To, m.Cc} {
		if addrs, err := netmail.ParseAddressList(list); err == nil {
			for _, a := range addrs {
				add(a.Address)
			}
		}
	}
	return out
}

// messageID is the mail's Message-ID, or one made of Postmark's ID of the
// mail (stable when Postmark delivers it again).
func (m *postmarkInboundMail) messageID() string {
	if ids := mail.ParseMessageIDs(m.header("Message-ID")); len(ids) > 0 {
		return ids[len(ids)-1]
	}
	if id := strings.TrimSpace(m.MessageID); id != "" && len(id) <= 100 && !strings.ContainsAny(id, " <>@") {
		return "postmark." + id + "@inbound.postmarkapp.com"
	}
	return ""
}

// text is what the End User wrote: the reply without the quoted mail when
// Postmark could strip it, else the text part, else the HTML as text.
func (m *postmarkInboundMail) text() string {
	text := strings.TrimSpace(m.StrippedTextReply)
	if text == "" {
		text = strings.TrimSpace(m.TextBody)
	}
	if text == "" && m.HtmlBody != "" {
		text = mail.HTMLToText(m.HtmlBody)
	}
	text = strings.ToValidUTF8(strings.ReplaceAll(text, "\r\n", "\n"), "\uFFFD")
	if utf8.RuneCountInString(text) > conversation.MaxMessageRunes {
		const note = "\n\n[The rest of this email was cut: it is longer than a message may be.]"
		r := []rune(text)
		text = string(r[:conversation.MaxMessageRunes-utf8.RuneCountInString(note)]) + note
	}
	return text
}

// inboundRefusal answers bad input with a 4xx, and logs why without any
// personal data (no address, subject or body).
func (s *Server) inboundRefusal(c *gin.Context, status int, reason, message string) {
	slog.Warn("postmark webhook refused", "route", c.FullPath(), "status", status, "reason", reason)
	c.AbortWithStatusJSON(status, gin.H{"error": message})
}

// readWebhookJSON reads a webhook's JSON body within limit: 413 when it is
// larger, 400 when it is not JSON of the expected shape.
func (s *Server) readWebhookJSON(c *gin.Context, limit int64, v any) bool {
	if c.Request.ContentLength > limit {
		s.inboundRefusal(c, http.StatusRequestEntityTooLarge, "body too large", fmt.Sprintf("The request body is larger than %d MB.", limit>>20))
		return false
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
	dec := json.NewDecoder(c.Request.Body)
	if err := dec.Decode(v); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			s.inboundRefusal(c, http.StatusRequestEntityTooLarge, "body too large", fmt.Sprintf("The request body is larger than %d MB.", limit>>20))
			return false
		}
		s.inboundRefusal(c, http.StatusBadRequest, "malformed json", "The body is not the JSON Postmark sends.")
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		s.inboundRefusal(c, http.StatusBadRequest, "trailing data", "The body holds more than one JSON document.")
		return false
	}
	return true
}

func (s *Server) postmarkInbound(c *gin.Context) {
	var in postmarkInboundMail
	if !s.readWebhookJSON(c, maxInboundBytes, &in) {
		return
	}
	from, fromName, ok := in.sender()
	if !ok {
		s.inboundRefusal(c, http.StatusUnprocessableEntity, "no sender", "The mail has no valid sender address (From, FromFull).")
		return
	}
	recipients := in.recipients()
	if len(recipients) == 0 {
		s.inboundRefusal(c, http.StatusUnprocessableEntity, "no recipient", "The mail has no recipient (OriginalRecipient, To, ToFull).")
		return
	}
	messageID := in.messageID()
	if messageID == "" {
		s.inboundRefusal(c, http.StatusUnprocessableEntity, "no message id", "The mail has neither a Message-ID header nor a MessageID.")
		return
	}
	if len(in.Attachments) > maxInboundAttachments {
		s.inboundRefusal(c, http.StatusRequestEntityTooLarge, "too many attachments", fmt.Sprintf("A mail may bring at most %d attachments.", maxInboundAttachments))
		return
	}
	ctx := c.Request.Context()
	domain := s.Config.InboundDomain

	// The privacy address: a data-subject request, not a conversation.
	if slices.Contains(recipients, s.Config.PrivacyAddress) {
		if s.PrivacyIntake == nil {
			s.inboundRefusal(c, http.StatusServiceUnavailable, "privacy intake unavailable", "Privacy requests by email cannot be taken at the moment; deliver the mail again later.")
			return
		}
		err := s.PrivacyIntake(ctx, dsr.InboundMail{MessageID: messageID, FromAddress: from, FromName: fromName,
			Subject: site.Truncate(in.Subject, 500), Text: in.text(), ReceivedAt: s.now().UTC()})
		if err != nil {
			s.Internal(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "privacy_request"})
		return
	}
	// unsubscribe+TOKEN@: the mailto: of a marketing mail's List-Unsubscribe.
	for _, r := range recipients {
		if token, ok := mail.ParseTaggedAddress(r, "unsubscribe", domain); ok {
			found, err := s.withdrawByToken(c, token, "mailto")
			if err != nil {
				s.Internal(c, err)
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

	target, conv, err := s.routeInbound(ctx, &in, recipients, from)
	if err != nil {
		s.Internal(c, err)
		return
	}
	if target == nil {
		s.inboundRefusal(c, http.StatusUnprocessableEntity, "no organization", "The mail is addressed to no organization's support address and answers no conversation.")
		return
	}
	if target.Status != models.OrgActive {
		s.inboundRefusal(c, http.StatusUnprocessableEntity, "organization closed", "The organization this mail is addressed to does not take mail.")
		return
	}
	// Postmark delivers again when it missed our answer: take a mail once.
	seen, err := s.Store.InboundMailSeen(ctx, target.ID, messageID)
	if err != nil {
		s.Internal(c, err)
		return
	}
	if seen {
		c.JSON(http.StatusOK, gin.H{"status": "duplicate"})
		return
	}

	if conv == nil {
		contact, err := s.contactByEmail(ctx, target, from, fromName)
		if err != nil {
			s.Internal(c, err)
			return
		}
		subject := site.Truncate(strings.TrimSpace(strings.ToValidUTF8(in.Subject, "")), 500)
		err = s.Store.Tx(ctx, func(tx *store.Store) error {
			var err error
			if conv, err = s.Conversations.Start(ctx, tx, target, contact, "email"); err != nil {
				return err
			}
			if subject == "" {
				return nil
			}
			conv.Subject = subject
			return tx.SetConversationSubject(ctx, conv.OrganizationID, conv)
		})
		if err != nil {
			s.Internal(c, err)
			return
		}
	}

	attIDs, skipped, err := s.storeInboundAttachments(ctx, target, conv, in.Attachments)
	if err != nil {
		s.Internal(c, err)
		return
	}
	body := in.text()
	if body == "" && len(attIDs) == 0 {
		body = "(This email had no text.)"
	}
	msg, _, err := s.Conversations.Post(ctx, target, conv, conversation.Author{Kind: workflows.AuthorContact, ID: conv.ContactID}, body, false, attIDs)
	if err != nil {
		var bad conversation.ErrBadMessage
		if errors.As(err, &bad) {
			s.inboundRefusal(c, http.StatusUnprocessableEntity, "bad message", bad.Msg)
			return
		}
		s.Internal(c, err)
		return
	}
	if len(skipped) > 0 {
		note := "Not accepted from this email: " + strings.Join(skipped, "; ") + "."
		if _, _, err := s.Conversations.Post(ctx, target, conv, conversation.Author{Kind: workflows.AuthorSystem}, site.Truncate(note, 4000), false, nil); err != nil {
			slog.Error("inbound mail: noting skipped attachments failed", "err", err)
		}
	}
	err = s.Store.RecordEmailMessage(ctx, &models.EmailMessage{OrganizationID: target.ID, ConversationID: conv.ID,
		MessageID: msg.ID, DataKeyID: conv.DataKeyID, Direction: models.EmailInbound, HeaderID: messageID})
	if err != nil && !errors.Is(err, models.ErrDuplicateEmail) {
		s.Internal(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "received", "conversation_id": conv.ID, "message_id": msg.ID})
}

// routeInbound decides the organization a mail goes to and, when it
// continues a conversation, that conversation (see the rule at the top).
func (s *Server) routeInbound(ctx context.Context, in *postmarkInboundMail, recipients []string, from string) (*models.Organization, *models.Conversation, error) {
	domain := s.Config.InboundDomain
	// The organizations addressed by their support address, in recipient
	// order (the original recipient first).
	var addressed []models.Organization
	for _, r := range recipients {
		if strings.HasSuffix(r, "@"+domain) {
			continue
		}
		org, err := s.Store.OrganizationBySupportAddressIndex(ctx, s.Keys.BlindIndex(r))
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return nil, nil, err
		case !slices.ContainsFunc(addressed, func(o models.Organization) bool { return o.ID == org.ID }):
			addressed = append(addressed, *org)
		}
	}
	allowed := func(orgID uint64) bool {
		return len(addressed) == 0 || slices.ContainsFunc(addressed, func(o models.Organization) bool { return o.ID == orgID })
	}

	// Candidate conversations: by reply token first, then by the
	// Message-IDs the mail answers (the closest first).
	var candidates []struct{ orgID, convID uint64 }
	tokens := []string{}
	if h := strings.ToLower(strings.TrimSpace(in.MailboxHash)); mail.ValidReplyToken(h) {
		tokens = append(tokens, h)
	}
	for _, r := range recipients {
		if t, ok := mail.ParseReplyAddress(r, domain); ok && !slices.Contains(tokens, t) {
			tokens = append(tokens, t)
		}
	}
	for _, token := range tokens {
		t, err := s.Store.EmailThreadByReplyToken(ctx, token)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return nil, nil, err
		default:
			candidates = append(candidates, struct{ orgID, convID uint64 }{t.OrganizationID, t.ConversationID})
		}
	}
	refs := mail.ParseMessageIDs(in.header("References"))
	refs = append(refs, mail.ParseMessageIDs(in.header("In-Reply-To"))...)
	slices.Reverse(refs) // In-Reply-To, then the closest ancestors
	matches, err := s.Store.EmailMessagesByHeaderIDs(ctx, refs)
	if err != nil {
		return nil, nil, err
	}
	byIndex := map[string][]models.EmailMessage{}
	for _, m := range matches {
		byIndex[m.HeaderIDIndex] = append(byIndex[m.HeaderIDIndex], m)
	}
	for _, ref := range refs {
		found := byIndex[s.Keys.BlindIndex(ref)]
		orgs := map[uint64]bool{}
		for _, m := range found {
			if allowed(m.OrganizationID) {
				orgs[m.OrganizationID] = true
			}
		}
		if len(orgs) != 1 {
			continue // none, or the same Message-ID in several organizations: never a guess
		}
		for _, m := range found {
			if orgs[m.OrganizationID] {
				candidates = append(candidates, struct{ orgID, convID uint64 }{m.OrganizationID, m.ConversationID})
				break
			}
		}
	}

	senderIndex := s.Keys.BlindIndex(from)
	var threadOrg *models.Organization
	for _, cand := range candidates {
		if !allowed(cand.orgID) {
			continue // addressed to another organization: never across
		}
		org, err := s.Store.Organization(ctx, cand.orgID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, nil, err
		}
		conv, err := s.Store.Conversation(ctx, cand.orgID, cand.convID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, nil, err
		}
		if org == nil || conv == nil {
			continue
		}
		contact, err := s.Store.Contact(ctx, org.ID, conv.ContactID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, nil, err
		}
		if contact != nil && contact.EmailIndex != "" && contact.EmailIndex == senderIndex {
			return org, conv, nil
		}
		// Someone else answered (a forward, a colleague): their own
		// conversation, with the organization the thread belongs to.
		if threadOrg == nil {
			threadOrg = org
		}
	}
	if threadOrg != nil {
		return threadOrg, nil, nil
	}
	if len(addressed) > 0 {
		return &addressed[0], nil, nil
	}
	return nil, nil, nil
}

// contactByEmail finds the organization's contact with this address (blind
// index), or creates one.
func (s *Server) contactByEmail(ctx context.Context, org *models.Organization, email, name string) (*models.Contact, error) {
	contact, err := s.Store.ContactByEmailIndex(ctx, org.ID, s.Keys.BlindIndex(email))
	if !errors.Is(err, store.ErrNotFound) {
		return contact, err
	}
	now := s.now().UTC()
	contact = &models.Contact{OrganizationID: org.ID, Name: name, Email: email, CreatedAt: now, UpdatedAt: now, LastSeenAt: &now}
	if err := s.Store.CreateContact(ctx, contact); err != nil {
		return nil, err
	}
	return contact, nil
}

// storeInboundAttachments stores the files a mail brings, like widget
// uploads (the same allow-list, size limit and sealing). A file that is
// refused is skipped and named in skipped, for a note in the conversation.
func (s *Server) storeInboundAttachments(ctx context.Context, org *models.Organization, conv *models.Conversation, files []postmarkAttachment) ([]uint64, []string, error) {
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
		att, err := s.Conversations.StoreAttachment(ctx, org, conv, name, data)
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

// postmarkEvent is a bounce, spam complaint or subscription change that
// Postmark reports (the fields Convot reads).
type postmarkEvent struct {
	RecordType      string `json:"RecordType"`
	ID              int64  `json:"ID"`
	Type            string `json:"Type"`
	Email           string `json:"Email"`
	Recipient       string `json:"Recipient"`
	Inactive        bool   `json:"Inactive"`
	MessageStream   string `json:"MessageStream"`
	BouncedAt       string `json:"BouncedAt"`
	ChangedAt       string `json:"ChangedAt"`
	SuppressSending bool   `json:"SuppressSending"`
}

// suppressingBounces are the bounce types after which mail to the address
// stops; transient ones (soft bounces, auto-replies, DNS errors) are
// recorded but do not stop mail, unless Postmark deactivated the address.
var suppressingBounces = map[string]bool{
	"HardBounce": true, "BadEmailAddress": true, "SpamComplaint": true, "SpamNotification": true,
	"ManuallyDeactivated": true, "Blocked": true, "Unsubscribe": true,
}

func (s *Server) postmarkEvents(c *gin.Context) {
	var ev postmarkEvent
	if !s.readWebhookJSON(c, s.Config.MaxBodyBytes, &ev) {
		return
	}
	ctx := c.Request.Context()
	at := func(v string) time.Time {
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			return t.UTC()
		}
		return s.now().UTC()
	}
	address := func(v string) (string, bool) {
		a, err := netmail.ParseAddress(strings.TrimSpace(v))
		if err != nil {
			return "", false
		}
		return strings.ToLower(a.Address), true
	}
	switch ev.RecordType {
	case "Bounce", "SpamComplaint":
		addr, ok := address(ev.Email)
		if !ok || ev.ID == 0 {
			s.inboundRefusal(c, http.StatusUnprocessableEntity, "missing fields", "A bounce or spam complaint needs its ID and Email.")
			return
		}
		rec := models.EmailSuppression{Kind: models.SuppressionBounce, BounceType: site.Truncate(ev.Type, 40), PostmarkID: ev.ID,
			Stream: site.Truncate(ev.MessageStream, 40), OccurredAt: at(ev.BouncedAt), CreatedAt: s.now().UTC()}
		rec.Suppresses = ev.Inactive || suppressingBounces[ev.Type]
		if ev.RecordType == "SpamComplaint" {
			rec.Kind, rec.Suppresses = models.SuppressionSpamComplaint, true
		}
		stored, err := s.Store.RecordSuppression(ctx, addr, rec)
		if err != nil {
			s.Internal(c, err)
			return
		}
		slog.Info("postmark event recorded", "record_type", ev.RecordType, "type", rec.BounceType, "suppresses", rec.Suppresses, "new", stored)
		c.JSON(http.StatusOK, gin.H{"status": "recorded", "suppresses": rec.Suppresses})
	case "SubscriptionChange":
		addr, ok := address(ev.Recipient)
		if !ok {
			s.inboundRefusal(c, http.StatusUnprocessableEntity, "missing fields", "A subscription change needs its Recipient.")
			return
		}
		if ev.SuppressSending {
			if _, err := s.Store.RecordSuppression(ctx, addr, models.EmailSuppression{Kind: models.SuppressionBounce, BounceType: "SubscriptionChange",
				Suppresses: true, Stream: site.Truncate(ev.MessageStream, 40), OccurredAt: at(ev.ChangedAt)}); err != nil {
				s.Internal(c, err)
				return
			}
			c.JSON(http.StatusOK, gin.H{"status": "recorded", "suppresses": true})
			return
		}
		// Postmark reactivated the address: mail to it may go again.
		if _, err := s.Store.LiftSuppressions(ctx, addr, at(ev.ChangedAt)); err != nil {
			s.Internal(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "lifted"})
	case "":
		s.inboundRefusal(c, http.StatusUnprocessableEntity, "missing fields", "The event has no RecordType.")
	default:
		// Deliveries, opens and clicks: Convot tracks none of them.
		c.JSON(http.StatusOK, gin.H{"status": "ignored"})
	}
}

// orgContextByID is what the egress gate needs to know of an organization,
// loaded by ID (a zero context, which the gate refuses, when it is gone).
func (s *Server) orgContextByID(ctx context.Context, id uint64) policies.OrgContext {
	org, err := s.Store.Organization(ctx, id)
	if err != nil {
		return policies.OrgContext{}
	}
	return org.GateContext()
}
