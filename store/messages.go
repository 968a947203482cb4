package store

import (
	"context"
	"errors"
	"time"

	"github.com/convot/convot/models"
	"github.com/convot/convot/workflows"
	"gorm.io/gorm"
)

// InsertMessage writes a message and touches (with reopen, reopens) its
// conversation as one unit: one statement on PostgreSQL, see
// models.InsertMessage. Its OrganizationID says whose it is; when the
// conversation is not that organization's (or is gone), ErrNotFound and
// nothing is written.
func (s *Store) InsertMessage(ctx context.Context, m *models.Message, reopen bool) error {
	err := models.InsertMessage(ctx, s.db, s.keys, m, reopen)
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return ErrNotFound
	}
	return err
}

// Messages loads up to limit of a conversation's messages after afterID,
// oldest first; withPrivate includes operators' notes.
func (s *Store) Messages(ctx context.Context, orgID, convID uint64, withPrivate bool, afterID uint64, limit int) ([]models.Message, error) {
	q := s.with(ctx).Where("organization_id = ? AND conversation_id = ? AND id > ?", orgID, convID, afterID)
	if !withPrivate {
		q = q.Where("private = ?", false)
	}
	var msgs []models.Message
	err := q.Order("id").Limit(limit).Find(&msgs).Error
	return msgs, err
}

// MessagesBefore loads up to limit of a conversation's latest messages
// with an ID below beforeID (0: no bound), oldest first: a page of the
// history scrolled back from the newest. withPrivate includes operators'
// notes.
func (s *Store) MessagesBefore(ctx context.Context, orgID, convID uint64, withPrivate bool, beforeID uint64, limit int) ([]models.Message, error) {
	q := s.with(ctx).Where("organization_id = ? AND conversation_id = ?", orgID, convID)
	if beforeID != 0 {
		q = q.Where("id < ?", beforeID)
	}
	if !withPrivate {
		q = q.Where("private = ?", false)
	}
	var msgs []models.Message
	if err := q.Order("id DESC").Limit(limit).Find(&msgs).Error; err != nil {
		return nil, err
	}
	for i, j := 0, len(msgs)-1; i < j; i, j = i+1, j-1 {
		msgs[i], msgs[j] = msgs[j], msgs[i]
	}
	return msgs, nil
}

// LatestMessageIDs lists the IDs of a conversation's n latest messages
// (notes included), latest first.
func (s *Store) LatestMessageIDs(ctx context.Context, orgID, convID uint64, n int) ([]uint64, error) {
	var ids []uint64
	err := s.with(ctx).Model(&models.Message{}).Where("organization_id = ? AND conversation_id = ?", orgID, convID).
		Order("id DESC").Limit(n).Pluck("id", &ids).Error
	return ids, err
}

// PublicMessageExists reports whether a message of the conversation is
// there and is not a private note (what its contact may see).
func (s *Store) PublicMessageExists(ctx context.Context, orgID, convID, id uint64) (bool, error) {
	var n int64
	err := s.with(ctx).Model(&models.Message{}).
		Where("id = ? AND organization_id = ? AND conversation_id = ? AND private = ?", id, orgID, convID, false).
		Count(&n).Error
	return n > 0, err
}

// MarkRead records at as the read time of a conversation's unread messages
// up to upTo written by the other party than the reader: the contact's
// when an operator reads (byContact false), the operators' and the
// system's when the contact does. Notes are never marked. It returns how
// many messages it marked.
func (s *Store) MarkRead(ctx context.Context, orgID, convID, upTo uint64, byContact bool, at time.Time) (int64, error) {
	q := s.with(ctx).Model(&models.Message{}).
		Where("organization_id = ? AND conversation_id = ? AND id <= ? AND read_at IS NULL AND private = ?", orgID, convID, upTo, false)
	if byContact {
		q = q.Where("author_type <> ?", workflows.AuthorContact)
	} else {
		q = q.Where("author_type = ?", workflows.AuthorContact)
	}
	res := q.Updates(map[string]any{"read_at": at, "delivery_status": "read"})
	return res.RowsAffected, res.Error
}

// UnreadCounts counts the contact's unread messages in each of the
// organization's conversations convIDs; a conversation without any is
// left out.
func (s *Store) UnreadCounts(ctx context.Context, orgID uint64, convIDs []uint64) (map[uint64]int64, error) {
	var rows []struct {
		ConversationID uint64
		N              int64
	}
	if err := s.with(ctx).Model(&models.Message{}).Select("conversation_id, COUNT(*) AS n").
		Where("organization_id = ? AND conversation_id IN ? AND author_type = ? AND read_at IS NULL", orgID, convIDs, workflows.AuthorContact).
		Group("conversation_id").Scan(&rows).Error; err != nil {
		return nil, err
	}
	out := make(map[uint64]int64, len(rows))
	for _, r := range rows {
		out[r.ConversationID] = r.N
	}
	return out, nil
}

// LastMessages loads the latest message (notes included) of each of the
// organization's conversations convIDs, by conversation: the list's
// preview. A conversation without messages is left out.
func (s *Store) LastMessages(ctx context.Context, orgID uint64, convIDs []uint64) (map[uint64]models.Message, error) {
	out := make(map[uint64]models.Message, len(convIDs))
	if len(convIDs) == 0 {
		return out, nil
	}
	latest := s.with(ctx).Model(&models.Message{}).Select("MAX(id)").
		Where("organization_id = ? AND conversation_id IN ?", orgID, convIDs).Group("conversation_id")
	var msgs []models.Message
	if err := s.with(ctx).Where("organization_id = ? AND id IN (?)", orgID, latest).Find(&msgs).Error; err != nil {
		return nil, err
	}
	for _, m := range msgs {
		out[m.ConversationID] = m
	}
	return out, nil
}
