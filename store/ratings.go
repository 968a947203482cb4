package store

import (
	"context"
	"errors"

	"gorm.io/gorm"

	"github.com/convot/convot/models"
)

// ErrAlreadyRated: the conversation has its rating already (one per
// conversation, a unique index, so two submissions racing store one).
var ErrAlreadyRated = errors.New("store: conversation already rated")

// CreateRating stores a visitor's rating of one of the organization's
// conversations, resolved and of r.ContactID (else ErrNotFound); r's
// OrganizationID is set to orgID. ErrAlreadyRated when the conversation
// has one.
func (s *Store) CreateRating(ctx context.Context, orgID uint64, r *models.ConversationRating) error {
	r.OrganizationID = orgID
	err := s.with(ctx).Transaction(func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&models.Conversation{}).Where("id = ? AND organization_id = ? AND contact_id = ? AND status = ?",
			r.ConversationID, orgID, r.ContactID, models.ConversationResolved).Count(&n).Error; err != nil {
			return err
		}
		if n == 0 {
			return ErrNotFound
		}
		return tx.Create(r).Error
	})
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return ErrAlreadyRated
	}
	return err
}

// ConversationRating loads the rating of one of the organization's
// conversations, or ErrNotFound.
func (s *Store) ConversationRating(ctx context.Context, orgID, convID uint64) (*models.ConversationRating, error) {
	return one[models.ConversationRating](s.with(ctx).Where("organization_id = ? AND conversation_id = ?", orgID, convID))
}
