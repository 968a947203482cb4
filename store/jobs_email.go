package store

import (
	"context"
	"time"

	"github.com/convot/convot/models"
)

// EmailThreadNotifiedUpTo is the last operator message a reply
// notification of the conversation covered; 0 when it has no thread yet.
func (s *Store) EmailThreadNotifiedUpTo(ctx context.Context, orgID, convID uint64) (uint64, error) {
	var t models.EmailThread
	err := s.with(ctx).Where("conversation_id = ? AND organization_id = ?", convID, orgID).Limit(1).Find(&t).Error
	return t.NotifiedUpTo, err
}

// EnsureEmailThread returns the conversation's thread, creating it with a
// fresh reply token on first use; the conversation's OrganizationID scopes
// it.
func (s *Store) EnsureEmailThread(ctx context.Context, conv *models.Conversation) (*models.EmailThread, error) {
	return models.EnsureEmailThread(ctx, s.db, s.keys, conv)
}

// EmailThreadMessageIDs returns the Message-IDs of the conversation's
// mail, oldest first, at most the last n.
func (s *Store) EmailThreadMessageIDs(ctx context.Context, orgID, convID uint64, n int) ([]string, error) {
	return models.EmailThreadMessageIDs(ctx, s.db, orgID, convID, n)
}

// AdvanceEmailThreadNotified records that the conversation's replies up to
// message upTo are notified; a notification that covered less (a late
// retry) does not move it back.
func (s *Store) AdvanceEmailThreadNotified(ctx context.Context, orgID, convID, upTo uint64, at time.Time) error {
	return s.with(ctx).Model(&models.EmailThread{}).Where("conversation_id = ? AND organization_id = ? AND notified_up_to < ?", convID, orgID, upTo).
		Updates(map[string]any{"notified_up_to": upTo, "updated_at": at}).Error
}
