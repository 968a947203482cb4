package models

import "time"

// ConversationRating is a visitor's satisfaction rating of a resolved
// conversation: a score from 1 to 5 and an optional comment. One per
// conversation (a unique index). The comment is the visitor's own words,
// sealed under the contact's data key like the messages; it goes with the
// conversation (retention, erasure and export find it by contact_id and
// data_key_id).
type ConversationRating struct {
	ID             uint64  `gorm:"primaryKey"`
	OrganizationID uint64  `gorm:"index"`
	ConversationID uint64  `gorm:"uniqueIndex"`
	ContactID      uint64  `gorm:"index"`
	DataKeyID      uint64  // the contact's
	AssigneeID     *uint64 // the operator the conversation was assigned to when rated
	Score          int     `privacy:"none"` // 1..5; the row itself goes with the contact (its comment is personal)
	Comment        string  `gorm:"serializer:sealed" privacy:"category=user.content.message subject=end_user retention=account purpose=essential.service"`
	CreatedAt      time.Time
}

// Rating bounds.
const (
	RatingMin        = 1
	RatingMax        = 5
	RatingCommentMax = 2000
)
