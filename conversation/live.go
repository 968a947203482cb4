package conversation

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"

	"github.com/convot/convot/internal/realtime"
	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/workflows"
)

// Live events and the views they carry. Their wire format is realtime's:
// workers publish status changes in it too.

// NewConversationView is what both sides see of a conversation.
func NewConversationView(c *models.Conversation) realtime.ConversationView {
	return realtime.ConversationView{ID: c.ID, ContactID: c.ContactID, Channel: c.Channel, Status: c.Status,
		AssigneeID: c.AssigneeID, SnoozedUntil: c.SnoozedUntil, LastMessageAt: c.LastMessageAt, CreatedAt: c.CreatedAt,
		HandedOver: c.HandedOverAt != nil}
}

func newAttachmentViews(atts []models.Attachment) []realtime.AttachmentView {
	views := make([]realtime.AttachmentView, 0, len(atts))
	for _, a := range atts {
		views = append(views, realtime.AttachmentView{ID: a.ID, Name: a.FileName, ContentType: a.ContentType, Size: a.Size})
	}
	return views
}

// MessageView builds the view of one message; operators are named by
// their display name (what the contact sees of them).
func (s *Service) MessageView(ctx context.Context, m *models.Message, atts []models.Attachment) realtime.MessageView {
	v := realtime.MessageView{ID: m.ID, AuthorType: m.AuthorType, AuthorID: m.AuthorID, Body: m.Body, Private: m.Private,
		Automated: m.Automated, CreatedAt: m.CreatedAt, ReadAt: m.ReadAt, Attachments: newAttachmentViews(atts)}
	if m.AuthorType == workflows.AuthorOperator {
		v.AuthorName = s.operatorName(ctx, m.OrganizationID, m.AuthorID)
	}
	return v
}

// operatorName is the name an operator shows to contacts.
func (s *Service) operatorName(ctx context.Context, orgID, accountID uint64) string {
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

// MessageViews loads a conversation's messages (with their attachments)
// in order, after afterID and at most limit; withPrivate includes
// operators' notes.
func (s *Service) MessageViews(ctx context.Context, orgID, convID uint64, withPrivate bool, afterID uint64, limit int) ([]realtime.MessageView, error) {
	msgs, err := s.Store.Messages(ctx, orgID, convID, withPrivate, afterID, limit)
	if err != nil {
		return nil, err
	}
	return s.messageViews(ctx, orgID, convID, msgs)
}

// MessageViewsBefore loads up to limit of a conversation's latest messages
// (with their attachments) with an ID below beforeID (0: the very
// latest), in order: the newest page first, older pages as the reader
// scrolls back.
func (s *Service) MessageViewsBefore(ctx context.Context, orgID, convID uint64, withPrivate bool, beforeID uint64, limit int) ([]realtime.MessageView, error) {
	msgs, err := s.Store.MessagesBefore(ctx, orgID, convID, withPrivate, beforeID, limit)
	if err != nil {
		return nil, err
	}
	return s.messageViews(ctx, orgID, convID, msgs)
}

func (s *Service) messageViews(ctx context.Context, orgID, convID uint64, msgs []models.Message) ([]realtime.MessageView, error) {
	atts, err := s.Store.ConversationAttachments(ctx, orgID, convID)
	if err != nil {
		return nil, err
	}
	byMessage := map[uint64][]models.Attachment{}
	for _, a := range atts {
		byMessage[a.MessageID] = append(byMessage[a.MessageID], a)
	}
	names := map[uint64]string{}
	views := make([]realtime.MessageView, 0, len(msgs))
	for i := range msgs {
		m := &msgs[i]
		v := realtime.MessageView{ID: m.ID, AuthorType: m.AuthorType, AuthorID: m.AuthorID, Body: m.Body, Private: m.Private,
			Automated: m.Automated, CreatedAt: m.CreatedAt, ReadAt: m.ReadAt, Attachments: newAttachmentViews(byMessage[m.ID])}
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

// PublishConversation tells both sides of a status or assignee change.
func (s *Service) PublishConversation(ctx context.Context, org *models.Organization, conv *models.Conversation) {
	v := NewConversationView(conv)
	s.Publish(ctx, org, conv, realtime.LiveEvent{Type: "conversation", ConversationID: conv.ID, Conversation: &v}, true)
}

// PublishContactChanged tells the organization's operators that a
// contact's details changed (an identify), by ID only: an open sidebar
// reloads them.
func (s *Service) PublishContactChanged(ctx context.Context, org *models.Organization, contactID uint64) {
	conv := &models.Conversation{OrganizationID: org.ID, ContactID: contactID}
	s.publish(ctx, org, conv, realtime.LiveEvent{Type: "contact", ContactID: contactID}, false, stateCategories)
}

// PublishOperatorsOnline tells the visitors of the conversations that an
// operator of the organization came online (no one was a moment before):
// their widgets stop saying "away" at once. Identifiers and states only.
func (s *Service) PublishOperatorsOnline(ctx context.Context, org *models.Organization, convIDs []uint64) {
	if s.Hub == nil || len(convIDs) == 0 {
		return
	}
	payload, err := json.Marshal(realtime.LiveEvent{Type: "presence", Online: true})
	if err != nil {
		return
	}
	topics := make([]string, 0, len(convIDs))
	for _, id := range convIDs {
		topics = append(topics, realtime.ConversationTopic(id))
	}
	ev := realtime.Event{Org: org.GateContext(), Subject: policies.SubjectContext{Kind: models.SubjectEndUser}, Categories: stateCategories, Payload: payload}
	if err := s.Hub.PublishEach(ctx, topics, ev); err != nil && !errors.Is(err, context.Canceled) {
		slog.Warn("presence not published", "err", err)
	}
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

// Publish sends an event that carries identifiers and states only (typing,
// read, a conversation's state) to the organization's operators and, when
// toVisitor, to the conversation's visitor. Messages are published by
// Post, which knows they carry the contact's words.
func (s *Service) Publish(ctx context.Context, org *models.Organization, conv *models.Conversation, e realtime.LiveEvent, toVisitor bool) {
	s.publish(ctx, org, conv, e, toVisitor, stateCategories)
}

// publish sends an event of the given data categories to the
// organization's operators and, unless it is for operators only, to the
// conversation's visitor. A failed publish is logged: the event is already
// committed, and sockets that miss it catch up from the database when they
// reconnect.
func (s *Service) publish(ctx context.Context, org *models.Organization, conv *models.Conversation, e realtime.LiveEvent, toVisitor bool, categories []string) {
	if s.Hub == nil {
		return
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
	topics := []string{realtime.OrgTopic(org.ID)}
	if toVisitor {
		topics = append(topics, realtime.ConversationTopic(conv.ID))
	}
	if err := s.Hub.PublishEach(ctx, topics, ev); err != nil && !errors.Is(err, context.Canceled) {
		slog.Warn("live event not published", "type", e.Type, "err", err)
	}
}
