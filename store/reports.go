package store

import (
	"context"
	"time"

	"github.com/convot/convot/models"
)

// ReportConversation is what the reports need of one conversation: stored
// timestamps, assignee, labels and rating score; no personal data.
type ReportConversation struct {
	ID           uint64
	CreatedAt    time.Time
	ResolvedAt   *time.Time
	AssigneeID   *uint64
	LabelIDs     []uint64
	FirstReplyAt *time.Time // the first operator message (not a note)
	Score        int        // 0: not rated
}

// reportMax bounds the conversations one report reads.
const reportMax = 100000

// ReportConversations lists the organization's conversations started in
// [from, to), oldest first, with their first operator reply and rating.
func (s *Store) ReportConversations(ctx context.Context, orgID uint64, from, to time.Time) ([]ReportConversation, error) {
	var convs []models.Conversation
	if err := s.with(ctx).Select("id", "created_at", "resolved_at", "assignee_id", "label_ids").
		Where("organization_id = ? AND created_at >= ? AND created_at < ?", orgID, from, to).
		Order("created_at, id").Limit(reportMax).Find(&convs).Error; err != nil {
		return nil, err
	}
	out := make([]ReportConversation, len(convs))
	index := make(map[uint64]int, len(convs))
	ids := make([]uint64, len(convs))
	for i, c := range convs {
		out[i] = ReportConversation{ID: c.ID, CreatedAt: c.CreatedAt, ResolvedAt: c.ResolvedAt, AssigneeID: c.AssigneeID, LabelIDs: ConversationLabelIDs(&c)}
		index[c.ID], ids[i] = i, c.ID
	}
	for start := 0; start < len(ids); start += 1000 {
		chunk := ids[start:min(start+1000, len(ids))]
		// The operators' messages, oldest first: the first of each
		// conversation is its first reply (read as rows, not MIN(), so
		// that SQLite and PostgreSQL both give times).
		var replies []models.Message
		if err := s.with(ctx).Select("conversation_id", "created_at").
			Where("organization_id = ? AND conversation_id IN ? AND author_type = ? AND private = ?", orgID, chunk, "operator", false).
			Order("created_at, id").Find(&replies).Error; err != nil {
			return nil, err
		}
		for _, r := range replies {
			if c := &out[index[r.ConversationID]]; c.FirstReplyAt == nil {
				first := r.CreatedAt
				c.FirstReplyAt = &first
			}
		}
		var ratings []models.ConversationRating
		if err := s.with(ctx).Select("conversation_id", "score").Where("organization_id = ? AND conversation_id IN ?", orgID, chunk).
			Find(&ratings).Error; err != nil {
			return nil, err
		}
		for _, r := range ratings {
			out[index[r.ConversationID]].Score = r.Score
		}
	}
	return out, nil
}
