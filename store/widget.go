package store

import (
	"context"
	"database/sql"
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
// in the same statement, the conversation of the token's contact: the
// widget's conversation routes (every message a visitor sends) need both,
// in one round trip. vt is ErrNotFound for an unknown token; conv is nil
// when the token's contact has no such conversation.
//
// It runs straight on the driver, its columns named and scanned in order:
// through gorm the read cost twice the CPU of the round trip itself
// (statement building and reflection over the row), once a message. The
// subject is opened as the sealed serializer opens it (OpenColumn).
func (s *Store) VisitorConversation(ctx context.Context, orgID uint64, tokenHash string, id uint64) (vt *models.VisitorToken, conv *models.Conversation, err error) {
	rows, err := s.withGenericPlans(ctx).Statement.ConnPool.QueryContext(ctx, visitorConversation, id, tokenHash, orgID)
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = rows.Close() }() // one row at most, read below; Err reports
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, nil, err
		}
		return nil, nil, ErrNotFound
	}
	vt = &models.VisitorToken{OrganizationID: orgID}
	var (
		c                         models.Conversation
		convID, org, contact, key sql.NullInt64
		subject, channel, status  sql.NullString
		labels, handoverReason    sql.NullString
		lastMessage, created, upd sql.NullTime
	)
	if err := rows.Scan(&vt.ID, &vt.ContactID, &vt.TokenHash, &vt.CreatedAt, &vt.LastSeenAt,
		&convID, &org, &contact, &key, &subject, &channel, &status, &c.AssigneeID, &labels,
		&c.SnoozedUntil, &c.ResolvedAt, &lastMessage, &c.HandedOverAt, &handoverReason, &created, &upd); err != nil {
		return nil, nil, err
	}
	if err := rows.Close(); err != nil {
		return nil, nil, err
	}
	if !convID.Valid {
		return vt, nil, nil
	}
	c.ID, c.OrganizationID, c.ContactID, c.DataKeyID = uint64(convID.Int64), uint64(org.Int64), uint64(contact.Int64), uint64(key.Int64)
	c.Channel, c.Status, c.LabelIDs, c.HandoverReason = channel.String, status.String, labels.String, handoverReason.String
	c.LastMessageAt, c.CreatedAt, c.UpdatedAt = lastMessage.Time, created.Time, upd.Time
	plain, err := s.keys.OpenColumn(ctx, "subject", subject.String)
	if err != nil {
		return nil, nil, err
	}
	c.Subject = string(plain)
	return vt, &c, nil
}

// visitorConversation is VisitorConversation's statement: the token, and
// the columns of models.Conversation in the order Scan takes them (NULL
// when the contact has no such conversation). Its parameters are numbered
// in the order they appear, which SQLite binds as PostgreSQL does.
const visitorConversation = `SELECT vt.id, vt.contact_id, vt.token_hash, vt.created_at, vt.last_seen_at,
	c.id, c.organization_id, c.contact_id, c.data_key_id, c.subject, c.channel, c.status, c.assignee_id, c.label_ids,
	c.snoozed_until, c.resolved_at, c.last_message_at, c.handed_over_at, c.handover_reason, c.created_at, c.updated_at
FROM visitor_tokens vt
LEFT JOIN conversations c ON c.id = $1 AND c.organization_id = vt.organization_id AND c.contact_id = vt.contact_id
WHERE vt.token_hash = $2 AND vt.organization_id = $3
LIMIT 1`
