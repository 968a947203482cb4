package store

import (
	"context"
	"time"

	"github.com/convot/convot/models"
)

// VisitorToken finds the organization's visitor token row by the token's
// hash, or ErrNotFound.
func (s *Store) VisitorToken(ctx context.Context, orgID uint64, tokenHash string) (*models.VisitorToken, error) {
	return one[models.VisitorToken](s.with(ctx).Where("token_hash = ? AND organization_id = ?", tokenHash, orgID))
}

// TouchVisitorToken records when one of the organization's visitor tokens
// was last used.
func (s *Store) TouchVisitorToken(ctx context.Context, orgID, id uint64, at time.Time) error {
	return s.with(ctx).Model(&models.VisitorToken{}).Where("id = ? AND organization_id = ?", id, orgID).Update("last_seen_at", at).Error
}

// CreateVisitorToken writes a new visitor token; its OrganizationID says
// whose it is.
func (s *Store) CreateVisitorToken(ctx context.Context, vt *models.VisitorToken) error {
	return s.with(ctx).Create(vt).Error
}

// MoveVisitorToken makes one of the organization's visitor tokens (a
// browser) belong to another of its contacts.
func (s *Store) MoveVisitorToken(ctx context.Context, orgID, id, contactID uint64) error {
	return s.with(ctx).Model(&models.VisitorToken{}).Where("id = ? AND organization_id = ?", id, orgID).Update("contact_id", contactID).Error
}

// VisitorHoldsConversation reports whether the visitor token still
// belongs to the contact of the organization's conversation (an identify
// may have moved the token, an erasure deleted the conversation).
func (s *Store) VisitorHoldsConversation(ctx context.Context, orgID, convID, tokenID uint64) (bool, error) {
	var n int64
	err := s.with(ctx).Model(&models.Conversation{}).
		Joins("JOIN visitor_tokens ON visitor_tokens.contact_id = conversations.contact_id").
		Where("conversations.id = ? AND conversations.organization_id = ? AND visitor_tokens.id = ?", convID, orgID, tokenID).
		Count(&n).Error
	return n > 0, err
}
