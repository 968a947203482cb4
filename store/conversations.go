package store

import (
	"context"
	"time"

	"github.com/convot/convot/models"
	"gorm.io/gorm"
)

// Conversation loads one of the organization's conversations, or
// ErrNotFound.
func (s *Store) Conversation(ctx context.Context, orgID, id uint64) (*models.Conversation, error) {
	return one[models.Conversation](s.with(ctx).Where("id = ? AND organization_id = ?", id, orgID))
}

// ConversationHeader loads only the identifiers and status of one of the
// organization's conversations (what a live socket needs), or ErrNotFound.
func (s *Store) ConversationHeader(ctx context.Context, orgID, id uint64) (*models.Conversation, error) {
	return one[models.Conversation](s.with(ctx).Select("id", "organization_id", "contact_id", "data_key_id", "status").
		Where("id = ? AND organization_id = ?", id, orgID))
}

// ContactConversation loads a conversation of the organization only when
// it is the contact's (a visitor asking for it), or ErrNotFound.
func (s *Store) ContactConversation(ctx context.Context, orgID, contactID, id uint64) (*models.Conversation, error) {
	return one[models.Conversation](s.with(ctx).Where("id = ? AND organization_id = ? AND contact_id = ?", id, orgID, contactID))
}

// ContactConversations lists up to limit of a contact's conversations
// other than except (0: none left out), latest activity first.
func (s *Store) ContactConversations(ctx context.Context, orgID, contactID, except uint64, limit int) ([]models.Conversation, error) {
	q := s.with(ctx).Where("organization_id = ? AND contact_id = ?", orgID, contactID)
	if except != 0 {
		q = q.Where("id <> ?", except)
	}
	var convs []models.Conversation
	err := q.Order("last_message_at DESC, id DESC").Limit(limit).Find(&convs).Error
	return convs, err
}

// ConversationQuery selects a page of the inbox's list.
type ConversationQuery struct {
	Status     string // "": every status
	LabelID    uint64 // only those with this label (0: any)
	AssigneeID uint64 // only those assigned to this account (0: anyone's)
	Unassigned bool   // only those assigned to nobody
	Offset     int
	Limit      int
}

// Conversations lists the organization's conversations that q selects,
// latest activity first.
func (s *Store) Conversations(ctx context.Context, orgID uint64, q ConversationQuery) ([]models.Conversation, error) {
	db := s.with(ctx).Where("organization_id = ?", orgID)
	if q.Status != "" {
		db = db.Where("status = ?", q.Status)
	}
	if q.LabelID != 0 {
		db = db.Where("label_ids LIKE ?", labelPattern(q.LabelID))
	}
	switch {
	case q.AssigneeID != 0:
		db = db.Where("assignee_id = ?", q.AssigneeID)
	case q.Unassigned:
		db = db.Where("assignee_id IS NULL")
	}
	var convs []models.Conversation
	err := db.Order("last_message_at DESC, id DESC").Offset(q.Offset).Limit(q.Limit).Find(&convs).Error
	return convs, err
}

// ClaimConversation assigns one of the organization's conversations to
// accountID only if it is assigned to nobody: one conditional statement,
// so of operators replying at once exactly one gets it (claimed true).
func (s *Store) ClaimConversation(ctx context.Context, orgID, convID, accountID uint64, at time.Time) (claimed bool, err error) {
	res := s.with(ctx).Model(&models.Conversation{}).Where("id = ? AND organization_id = ? AND assignee_id IS NULL", convID, orgID).
		Updates(map[string]any{"assignee_id": accountID, "updated_at": at})
	return res.RowsAffected == 1, res.Error
}

// CreateConversation writes a new conversation; its OrganizationID says
// whose it is. Count it first (CountConversationStart) in the same
// transaction.
func (s *Store) CreateConversation(ctx context.Context, conv *models.Conversation) error {
	return s.with(ctx).Create(conv).Error
}

// UpdateConversation sets columns of one of the organization's
// conversations (status, assignee, snooze and their times).
func (s *Store) UpdateConversation(ctx context.Context, orgID, id uint64, updates map[string]any) error {
	return s.with(ctx).Model(&models.Conversation{}).Where("id = ? AND organization_id = ?", id, orgID).Updates(updates).Error
}

// DeleteConversation deletes one of the organization's conversations (one
// whose first message failed); deleted is false when there was none.
func (s *Store) DeleteConversation(ctx context.Context, orgID, id uint64) (deleted bool, err error) {
	res := s.with(ctx).Where("id = ? AND organization_id = ?", id, orgID).Delete(&models.Conversation{})
	return res.RowsAffected > 0, res.Error
}

// InTransaction reports whether the Store runs inside a transaction (a
// caller's Tx), where a nested Tx is a savepoint and commits nothing.
func (s *Store) InTransaction() bool {
	_, nested := s.db.Statement.ConnPool.(gorm.TxCommitter)
	return nested
}

// AsynchronousCommit lets the current transaction's commit return before
// its record reaches the disk (PostgreSQL's synchronous_commit, for this
// transaction only); nothing on SQLite. Only for a transaction whose
// commit acknowledges nothing by itself.
func (s *Store) AsynchronousCommit(ctx context.Context) error {
	if !s.Postgres() {
		return nil
	}
	return s.with(ctx).Exec("SET LOCAL synchronous_commit TO OFF").Error
}

// SetConversationSubject writes conv.Subject (sealed under conv.DataKeyID)
// onto one of the organization's conversations.
func (s *Store) SetConversationSubject(ctx context.Context, orgID uint64, conv *models.Conversation) error {
	return s.with(ctx).Model(conv).Where("organization_id = ?", orgID).Select("subject").Updates(conv).Error
}

// SetConversationStatus records a state of the conversation's lifecycle:
// its status, assignee (0: none) and the timestamps the status implies
// (resolved_at, snoozed_until). Replaying it sets the same values; changed
// is false when the conversation is gone (erased meanwhile).
func (s *Store) SetConversationStatus(ctx context.Context, orgID, convID uint64, status string, assigneeID uint64, snoozedUntil, at time.Time) (changed bool, err error) {
	updates := map[string]any{"status": status, "updated_at": at}
	if assigneeID == 0 {
		updates["assignee_id"] = nil
	} else {
		updates["assignee_id"] = assigneeID
	}
	switch status {
	case models.ConversationResolved:
		updates["resolved_at"] = at
		updates["snoozed_until"] = nil
	case models.ConversationSnoozed:
		updates["snoozed_until"] = snoozedUntil
	case models.ConversationOpen, models.ConversationPending:
		updates["resolved_at"] = nil
		updates["snoozed_until"] = nil
	}
	res := s.with(ctx).Model(&models.Conversation{}).
		Where("id = ? AND organization_id = ?", convID, orgID).Updates(updates)
	return res.RowsAffected > 0, res.Error
}

// UnreadReplies lists up to limit public messages of the conversation by
// authors of authorType that the contact has not read, with an ID above
// after, by ID: what a reply notification carries.
func (s *Store) UnreadReplies(ctx context.Context, orgID, convID uint64, authorType string, after uint64, limit int) ([]models.Message, error) {
	var msgs []models.Message
	err := s.with(ctx).Where("organization_id = ? AND conversation_id = ? AND author_type = ? AND private = ? AND read_at IS NULL AND id > ?",
		orgID, convID, authorType, false, after).Order("id").Limit(limit).Find(&msgs).Error
	return msgs, err
}

// AttachmentsOfMessages lists the organization's attachments of the
// messages, by ID.
func (s *Store) AttachmentsOfMessages(ctx context.Context, orgID uint64, messageIDs []uint64) ([]models.Attachment, error) {
	var atts []models.Attachment
	err := s.with(ctx).Where("organization_id = ? AND message_id IN ?", orgID, messageIDs).Order("id").Find(&atts).Error
	return atts, err
}
