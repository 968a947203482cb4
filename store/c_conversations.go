package store

import (
	"context"

	"github.com/convot/convot/models"
)

// Conversation loads one of the organization's conversations, or
// ErrNotFound.
func (s *Store) Conversation(ctx context.Context, orgID, id uint64) (*models.Conversation, error) {
	var conv models.Conversation
	res := s.with(ctx).Where("id = ? AND organization_id = ?", id, orgID).Limit(1).Find(&conv)
	if err := found(res.RowsAffected, res.Error); err != nil {
		return nil, err
	}
	return &conv, nil
}

// SetConversationSubject writes conv.Subject (sealed under conv.DataKeyID)
// onto one of the organization's conversations.
func (s *Store) SetConversationSubject(ctx context.Context, orgID uint64, conv *models.Conversation) error {
	return s.with(ctx).Model(conv).Where("organization_id = ?", orgID).Select("subject").Updates(conv).Error
}
