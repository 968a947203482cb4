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

// VisitorConversation reads one of the organization's visitor tokens and,
// in the same statement, the conversation id of the token's contact: the
// widget's conversation routes (every message a visitor sends) need both,
// in one round trip. vt is ErrNotFound for an unknown token; conv is nil
// when the token's contact has no such conversation.
func (s *Store) VisitorConversation(ctx context.Context, orgID uint64, tokenHash string, id uint64) (vt *models.VisitorToken, conv *models.Conversation, err error) {
	var row struct {
		models.Conversation
		TokenID         uint64
		TokenContactID  uint64
		TokenHash       string
		TokenCreatedAt  time.Time
		TokenLastSeenAt time.Time
	}
	res := s.withGenericPlans(ctx).Raw(`SELECT c.*, vt.id AS token_id, vt.contact_id AS token_contact_id, vt.token_hash,
	vt.created_at AS token_created_at, vt.last_seen_at AS token_last_seen_at
FROM visitor_tokens vt
LEFT JOIN conversations c ON c.id = ? AND c.organization_id = vt.organization_id AND c.contact_id = vt.contact_id
WHERE vt.token_hash = ? AND vt.organization_id = ?
LIMIT 1`, id, tokenHash, orgID).Scan(&row)
	if err := found(res.RowsAffected, res.Error); err != nil {
		return nil, nil, err
	}
	vt = &models.VisitorToken{ID: row.TokenID, OrganizationID: orgID, ContactID: row.TokenContactID, TokenHash: row.TokenHash,
		CreatedAt: row.TokenCreatedAt, LastSeenAt: row.TokenLastSeenAt}
	if row.ID == 0 {
		return vt, nil, nil
	}
	return vt, &row.Conversation, nil
}
