package store

import (
	"context"
	"time"

	"github.com/convot/convot/models"
)

// SetConversationStatus records a state of the conversation's lifecycle:
// its status, assignee (0: none) and the timestamps the status implies
// (resolved_at, snoozed_until). Replaying it sets the same values; changed
// is false when the conversation is gone (erased meanwhile).
func (s *Store) SetConversationStatus(ctx context.Context, orgID, convID uint64, status string, assigneeID uint64, snoozedUntil, at time.Time) (changed bool, err error) {
	updates := map[string]any{"status": status, "updated_at": at}
	if assigneeID == 0 {
		updates["assignee_id"] = nil
	} else {
		updates["assignee_id"] = assigneeID
	}
	switch status {
	case models.ConversationResolved:
		updates["resolved_at"] = at
		updates["snoozed_until"] = nil
	case models.ConversationSnoozed:
		updates["snoozed_until"] = snoozedUntil
	case models.ConversationOpen, models.ConversationPending:
		updates["resolved_at"] = nil
		updates["snoozed_until"] = nil
	}
	res := s.with(ctx).Model(&models.Conversation{}).
		Where("id = ? AND organization_id = ?", convID, orgID).Updates(updates)
	return res.RowsAffected > 0, res.Error
}

// UnreadReplies lists up to limit public messages of the conversation by
// authors of authorType that the contact has not read, with an ID above
// after, by ID: what a reply notification carries.
func (s *Store) UnreadReplies(ctx context.Context, orgID, convID uint64, authorType string, after uint64, limit int) ([]models.Message, error) {
	var msgs []models.Message
	err := s.with(ctx).Where("organization_id = ? AND conversation_id = ? AND author_type = ? AND private = ? AND read_at IS NULL AND id > ?",
		orgID, convID, authorType, false, after).Order("id").Limit(limit).Find(&msgs).Error
	return msgs, err
}

// AttachmentsOfMessages lists the organization's attachments of the
// messages, by ID.
func (s *Store) AttachmentsOfMessages(ctx context.Context, orgID uint64, messageIDs []uint64) ([]models.Attachment, error) {
	var atts []models.Attachment
	err := s.with(ctx).Where("organization_id = ? AND message_id IN ?", orgID, messageIDs).Order("id").Find(&atts).Error
	return atts, err
}
