package store

import (
	"context"

	"github.com/convot/convot/models"
)

// SetConversationSubject writes conv.Subject (sealed under conv.DataKeyID)
// onto one of the organization's conversations.
func (s *Store) SetConversationSubject(ctx context.Context, orgID uint64, conv *models.Conversation) error {
	return s.with(ctx).Model(conv).Where("organization_id = ?", orgID).Select("subject").Updates(conv).Error
}
