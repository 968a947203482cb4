package store

import (
	"context"
	"time"

	"github.com/convot/convot/models"
)

// OperatorsOnline reports whether an active operator of the organization
// reported in (an open inbox socket) since since.
func (s *Store) OperatorsOnline(ctx context.Context, orgID uint64, since time.Time) (bool, error) {
	var n int64
	err := s.with(ctx).Model(&models.Account{}).
		Where("organization_id = ? AND status = ? AND presence_at >= ?", orgID, "active", since).
		Count(&n).Error
	return n > 0, err
}

// LiveConversationIDs lists up to limit of the organization's open or
// pending conversations with activity since since, latest first: those
// whose visitors may be on the site now.
func (s *Store) LiveConversationIDs(ctx context.Context, orgID uint64, since time.Time, limit int) ([]uint64, error) {
	var ids []uint64
	err := s.with(ctx).Model(&models.Conversation{}).
		Where("organization_id = ? AND status IN ? AND last_message_at >= ?", orgID, []string{models.ConversationOpen, models.ConversationPending}, since).
		Order("last_message_at DESC").Limit(limit).Pluck("id", &ids).Error
	return ids, err
}

// RecordPresence records that an operator of the organization is online.
func (s *Store) RecordPresence(ctx context.Context, orgID, accountID uint64, at time.Time) error {
	return s.with(ctx).Model(&models.Account{}).Where("id = ? AND organization_id = ?", accountID, orgID).Update("presence_at", at).Error
}
