package store

import (
	"context"

	"github.com/convot/convot/models"
)

// CreateAttachment records a stored file of a conversation, not yet part
// of a message; its OrganizationID says whose it is.
func (s *Store) CreateAttachment(ctx context.Context, att *models.Attachment) error {
	return s.with(ctx).Create(att).Error
}

// Attachment loads a file of one of the organization's conversations,
// sent or not, or ErrNotFound.
func (s *Store) Attachment(ctx context.Context, orgID, convID, id uint64) (*models.Attachment, error) {
	return one[models.Attachment](s.with(ctx).Where("id = ? AND organization_id = ? AND conversation_id = ?", id, orgID, convID))
}

// SentAttachment loads a file of one of the organization's conversations
// only when it was sent in a message, or ErrNotFound.
func (s *Store) SentAttachment(ctx context.Context, orgID, convID, id uint64) (*models.Attachment, error) {
	return one[models.Attachment](s.with(ctx).Where("id = ? AND organization_id = ? AND conversation_id = ? AND message_id <> 0", id, orgID, convID))
}

// ConversationAttachments lists the files sent in a conversation's
// messages, in order.
func (s *Store) ConversationAttachments(ctx context.Context, orgID, convID uint64) ([]models.Attachment, error) {
	var atts []models.Attachment
	err := s.with(ctx).Where("organization_id = ? AND conversation_id = ? AND message_id <> 0", orgID, convID).Order("id").Find(&atts).Error
	return atts, err
}

// AttachToMessage makes the conversation's unsent files ids part of a
// message; it returns how many it linked (fewer than len(ids) when one is
// unknown or sent already: the caller rolls back).
func (s *Store) AttachToMessage(ctx context.Context, orgID, convID, messageID uint64, ids []uint64) (int64, error) {
	res := s.with(ctx).Model(&models.Attachment{}).
		Where("id IN ? AND organization_id = ? AND conversation_id = ? AND message_id = 0", ids, orgID, convID).
		Update("message_id", messageID)
	return res.RowsAffected, res.Error
}

// MessageAttachments lists a message's files in order.
func (s *Store) MessageAttachments(ctx context.Context, orgID, messageID uint64) ([]models.Attachment, error) {
	var atts []models.Attachment
	err := s.with(ctx).Where("organization_id = ? AND message_id = ?", orgID, messageID).Order("id").Find(&atts).Error
	return atts, err
}

// DeleteUnsentAttachment forgets a file of the organization that never
// joined a message (its blob is the caller's to delete).
func (s *Store) DeleteUnsentAttachment(ctx context.Context, orgID, id uint64) error {
	return s.with(ctx).Where("id = ? AND organization_id = ? AND message_id = 0", id, orgID).Delete(&models.Attachment{}).Error
}
