package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/convot/convot/internal/realtime"
	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// The conversation core: what the widget, the inbox and the inbound-mail
// webhook share. A message is committed before anyone hears of it (the
// sender's acknowledgement, the live event, the lifecycle signal).

// MaxMessageRunes bounds a message's text.
const MaxMessageRunes = 10000

// author is who posts a message: the contact, an operator, or the system.
type author struct {
	Kind string // workflows.AuthorContact, AuthorOperator or AuthorSystem
	ID   uint64 // the contact's or the operator's ID
}

// errBadMessage is a message the sender must fix (a 4xx).
type errBadMessage struct{ msg string }

func (e errBadMessage) Error() string { return e.msg }

// cleanBody trims a message and checks its length.
func cleanBody(body string, attachments int) (string, error) {
	body = strings.TrimSpace(body)
	if !utf8.ValidString(body) {
		return "", errBadMessage{"The message is not valid UTF-8 text."}
	}
	if body == "" && attachments == 0 {
		return "", errBadMessage{"The message is empty."}
	}
	if utf8.RuneCountInString(body) > MaxMessageRunes {
		return "", errBadMessage{fmt.Sprintf("The message is longer than %d characters.", MaxMessageRunes)}
	}
	return body, nil
}

// startConversation opens a conversation for a contact and counts it
// against the plan's conversations this month: past the limit, a widget
// conversation is refused (models.ErrConversationLimit, nothing written).
// Its lifecycle workflow starts with the first message (signal-with-start).
// st is s.Store, or the caller's transaction.
func (s *Server) startConversation(ctx context.Context, st *store.Store, org *models.Organization, contact *models.Contact, channel string) (*models.Conversation, error) {
	now := s.now().UTC()
	conv := &models.Conversation{
		OrganizationID: org.ID, ContactID: contact.ID, DataKeyID: contact.DataKeyID,
		Channel: channel, Status: models.ConversationOpen, LastMessageAt: now, CreatedAt: now,
	}
	limit, err := s.conversationLimit(ctx, st, org, channel)
	if err != nil {
		return nil, err
	}
	nested := st.InTransaction() // inside a caller's transaction
	err = st.Tx(ctx, func(tx *store.Store) error {
		if !nested {
			// The month's counter row is locked from its update to the
			// commit: without waiting for the disk there, an
			// organization's conversations start side by side. Nothing is
			// acknowledged on this commit; the first message's commit,
			// which waits, makes the conversation durable with it.
			if err := tx.AsynchronousCommit(ctx); err != nil {
				return err
			}
		}
		// Counted before the conversation is written: the month's first
		// count starts from the conversations already there.
		if err := tx.CountConversationStart(ctx, org.ID, now, limit); err != nil {
			return err
		}
		return tx.CreateConversation(ctx, conv)
	})
	if err != nil {
		return nil, err
	}
	return conv, nil
}

// postMessage commits a message (with attachments already stored for this
// conversation), then publishes it live and tells the lifecycle workflow.
// The returned message is committed: only now may the sender be told.
func (s *Server) postMessage(ctx context.Context, org *models.Organization, conv *models.Conversation, by author, body string, private bool, attachmentIDs []uint64) (*models.Message, []models.Attachment, error) {
	body, err := cleanBody(body, len(attachmentIDs))
	if err != nil {
		return nil, nil, err
	}
	if private && by.Kind != workflows.AuthorOperator {
		return nil, nil, errBadMessage{"Only operators write private notes."}
	}
	now := s.now().UTC()
	msg := &models.Message{
		OrganizationID: org.ID, ConversationID: conv.ID, DataKeyID: conv.DataKeyID,
		AuthorType: by.Kind, AuthorID: by.ID, Body: body, Private: private,
		DeliveryStatus: "sent", CreatedAt: now,
	}
	// A contact's message reopens the conversation at once; the lifecycle
	// workflow records the same when it hears of it.
	reopened := by.Kind == workflows.AuthorContact && conv.Status != models.ConversationOpen
	var atts []models.Attachment
	if len(attachmentIDs) == 0 {
		err = s.Store.InsertMessage(ctx, msg, reopened)
	} else {
		err = s.Store.Tx(ctx, func(tx *store.Store) error {
			if err := tx.InsertMessage(ctx, msg, reopened); err != nil {
				return err
			}
			linked, err := tx.AttachToMessage(ctx, org.ID, conv.ID, msg.ID, attachmentIDs)
			if err != nil {
				return err
			}
			if int(linked) != len(attachmentIDs) {
				return errBadMessage{"An attachment is unknown or already sent."}
			}
			atts, err = tx.MessageAttachments(ctx, org.ID, msg.ID)
			return err
		})
	}
	if err != nil {
		return nil, nil, err
	}
	conv.LastMessageAt = now
	if reopened {
		conv.Status, conv.ResolvedAt, conv.SnoozedUntil = models.ConversationOpen, nil, nil
	}
	if !private {
		s.notifyLifecycle(org, conv, workflows.SignalMessage, workflows.MessageSignal{AuthorKind: by.Kind, MessageID: msg.ID, At: now})
	}
	view := s.messageView(ctx, msg, atts)
	s.publish(ctx, org, conv, liveEvent{Type: "message", ConversationID: conv.ID, Message: &view}, !private, messageCategories)
	if reopened {
		s.publishConversation(ctx, org, conv)
	}
	return msg, atts, nil
}

// notifyLifecycle signals the conversation's workflow, starting it if
// needed. Signals queue per conversation, in order, off the request path.
func (s *Server) notifyLifecycle(org *models.Organization, conv *models.Conversation, signal string, arg any) {
	if s.Lifecycles == nil {
		return
	}
	hours := org.InactivityHours
	if hours <= 0 {
		hours = models.DefaultInactivityHours
	}
	s.Lifecycles.Notify(LifecycleSignal{
		Input: workflows.ConversationInput{
			ConversationID: conv.ID, OrganizationID: org.ID,
			InactivityPeriod: time.Duration(hours) * time.Hour,
		},
		Name: signal, Arg: arg,
	})
}

// The wire format of live events is realtime's: workers publish status
// changes in it too.
type (
	liveEvent        = realtime.LiveEvent
	messageView      = realtime.MessageView
	attachmentView   = realtime.AttachmentView
	conversationView = realtime.ConversationView
)

func newConversationView(c *models.Conversation) conversationView {
	return conversationView{ID: c.ID, ContactID: c.ContactID, Channel: c.Channel, Status: c.Status,
		AssigneeID: c.AssigneeID, SnoozedUntil: c.SnoozedUntil, LastMessageAt: c.LastMessageAt, CreatedAt: c.CreatedAt}
}

func newAttachmentViews(atts []models.Attachment) []attachmentView {
	views := make([]attachmentView, 0, len(atts))
	for _, a := range atts {
		views = append(views, attachmentView{ID: a.ID, Name: a.FileName, ContentType: a.ContentType, Size: a.Size})
	}
	return views
}

// messageView builds the view of one message; operators are named by
// their display name (what the contact sees of them).
func (s *Server) messageView(ctx context.Context, m *models.Message, atts []models.Attachment) messageView {
	v := messageView{ID: m.ID, AuthorType: m.AuthorType, AuthorID: m.AuthorID, Body: m.Body, Private: m.Private,
		CreatedAt: m.CreatedAt, ReadAt: m.ReadAt, Attachments: newAttachmentViews(atts)}
	if m.AuthorType == workflows.AuthorOperator {
		v.AuthorName = s.operatorName(ctx, m.OrganizationID, m.AuthorID)
	}
	return v
}

// operatorName is the name an operator shows to contacts.
func (s *Server) operatorName(ctx context.Context, orgID, accountID uint64) string {
	a, err := s.Store.OperatorAccount(ctx, orgID, accountID)
	if err != nil {
		return ""
	}
	if a.DisplayName != "" {
		return a.DisplayName
	}
	if first, _, _ := strings.Cut(a.FullName, " "); first != "" {
		return first
	}
	return ""
}

// messageViews loads a conversation's messages (with their attachments) in
// order; withPrivate includes operators' notes.
func (s *Server) messageViews(ctx context.Context, orgID, convID uint64, withPrivate bool, afterID uint64, limit int) ([]messageView, error) {
	msgs, err := s.Store.Messages(ctx, orgID, convID, withPrivate, afterID, limit)
	if err != nil {
		return nil, err
	}
	atts, err := s.Store.ConversationAttachments(ctx, orgID, convID)
	if err != nil {
		return nil, err
	}
	byMessage := map[uint64][]models.Attachment{}
	for _, a := range atts {
		byMessage[a.MessageID] = append(byMessage[a.MessageID], a)
	}
	names := map[uint64]string{}
	views := make([]messageView, 0, len(msgs))
	for i := range msgs {
		m := &msgs[i]
		v := messageView{ID: m.ID, AuthorType: m.AuthorType, AuthorID: m.AuthorID, Body: m.Body, Private: m.Private,
			CreatedAt: m.CreatedAt, ReadAt: m.ReadAt, Attachments: newAttachmentViews(byMessage[m.ID])}
		if m.AuthorType == workflows.AuthorOperator {
			name, ok := names[m.AuthorID]
			if !ok {
				name = s.operatorName(ctx, orgID, m.AuthorID)
				names[m.AuthorID] = name
			}
			v.AuthorName = name
		}
		views = append(views, v)
	}
	return views, nil
}

// markRead records that a reader saw a conversation up to a message: the
// other party's messages get their read time, and the other side is told.
func (s *Server) markRead(ctx context.Context, org *models.Organization, conv *models.Conversation, readerKind string, upTo uint64) error {
	marked, err := s.Store.MarkRead(ctx, org.ID, conv.ID, upTo, readerKind == workflows.AuthorContact, s.now().UTC())
	if err != nil {
		return err
	}
	if marked > 0 {
		s.publish(ctx, org, conv, liveEvent{Type: "read", ConversationID: conv.ID, AuthorType: readerKind, MessageID: upTo}, true, nil)
	}
	return nil
}

// setConversationState changes status or assignee from the inbox: the row
// first (so every reader sees it at once), then the lifecycle workflow,
// which owns the timers and records the same state.
func (s *Server) setConversationState(ctx context.Context, org *models.Organization, conv *models.Conversation, signal string, arg any) error {
	now := s.now().UTC()
	updates := map[string]any{"updated_at": now}
	switch signal {
	case workflows.SignalResolve:
		updates["status"], updates["resolved_at"], updates["snoozed_until"] = models.ConversationResolved, now, nil
	case workflows.SignalReopen:
		updates["status"], updates["resolved_at"], updates["snoozed_until"] = models.ConversationOpen, nil, nil
	case workflows.SignalPending:
		updates["status"], updates["resolved_at"], updates["snoozed_until"] = models.ConversationPending, nil, nil
	case workflows.SignalSnooze:
		sn := arg.(workflows.SnoozeSignal)
		updates["status"], updates["snoozed_until"], updates["resolved_at"] = models.ConversationSnoozed, sn.Until, nil
	case workflows.SignalAssign:
		a := arg.(workflows.AssignSignal)
		if a.AssigneeID == 0 {
			updates["assignee_id"] = nil
		} else {
			updates["assignee_id"] = a.AssigneeID
		}
	default:
		return fmt.Errorf("unknown conversation signal %q", signal)
	}
	if err := s.Store.UpdateConversation(ctx, org.ID, conv.ID, updates); err != nil {
		return err
	}
	// Read into a fresh row: scanning into conv would leave a field the
	// update set to NULL (snoozed_until, resolved_at) as it was.
	fresh, err := s.Store.Conversation(ctx, org.ID, conv.ID)
	if err != nil {
		return err
	}
	*conv = *fresh
	s.notifyLifecycle(org, conv, signal, arg)
	s.publishConversation(ctx, org, conv)
	return nil
}

// publishConversation tells both sides of a status or assignee change.
func (s *Server) publishConversation(ctx context.Context, org *models.Organization, conv *models.Conversation) {
	v := newConversationView(conv)
	s.publish(ctx, org, conv, liveEvent{Type: "conversation", ConversationID: conv.ID, Conversation: &v}, true, nil)
}

// Data categories of live events: a message carries message text and
// attachment names; other events carry identifiers and states only.
var (
	messageCategories = []string{"user.content.message", "user.content.attachment"}
	stateCategories   = []string{"system.operations"}
)

// personalCategories reports whether an event's categories are an End
// User's data (rather than identifiers and states).
func personalCategories(categories []string) bool {
	for _, c := range categories {
		if strings.HasPrefix(c, "user.") {
			return true
		}
	}
	return false
}

func orgTopic(orgID uint64) string           { return realtime.OrgTopic(orgID) }
func conversationTopic(convID uint64) string { return realtime.ConversationTopic(convID) }

// publish sends an event to the organization's operators and, unless it is
// for operators only, to the conversation's visitor. A failed publish is
// logged: the event is already committed, and sockets that miss it catch
// up from the database when they reconnect.
func (s *Server) publish(ctx context.Context, org *models.Organization, conv *models.Conversation, e liveEvent, toVisitor bool, categories []string) {
	if s.Hub == nil {
		return
	}
	if categories == nil {
		categories = stateCategories
	}
	payload, err := json.Marshal(e)
	if err != nil {
		slog.Error("live event", "err", err)
		return
	}
	subject := policies.SubjectContext{Kind: models.SubjectEndUser}
	if personalCategories(categories) {
		subject = s.liveSubject(ctx, conv.OrganizationID, conv.ContactID)
	}
	ev := realtime.Event{Org: org.GateContext(), Subject: subject, Categories: categories, Payload: payload}
	topics := []string{orgTopic(org.ID)}
	if toVisitor {
		topics = append(topics, conversationTopic(conv.ID))
	}
	if err := s.Hub.PublishEach(ctx, topics, ev); err != nil && !errors.Is(err, context.Canceled) {
		slog.Warn("live event not published", "type", e.Type, "err", err)
	}
}
