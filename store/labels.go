package store

import (
	"context"
	"strconv"
	"time"

	"gorm.io/gorm"

	"github.com/convot/convot/models"
)

// Labels lists the organization's labels by name.
func (s *Store) Labels(ctx context.Context, orgID uint64) ([]models.Label, error) {
	var list []models.Label
	err := s.with(ctx).Where("organization_id = ?", orgID).Order("name, id").Find(&list).Error
	return list, err
}

// Label loads one of the organization's labels, or ErrNotFound.
func (s *Store) Label(ctx context.Context, orgID, id uint64) (*models.Label, error) {
	return one[models.Label](s.with(ctx).Where("id = ? AND organization_id = ?", id, orgID))
}

// CreateLabel adds a label to the organization; a name it already has is
// ErrDuplicateKey (a unique index, so two operators racing get one label).
func (s *Store) CreateLabel(ctx context.Context, orgID uint64, name string, at time.Time) (*models.Label, error) {
	l := &models.Label{OrganizationID: orgID, Name: name, CreatedAt: at}
	if err := s.with(ctx).Create(l).Error; err != nil {
		return nil, err
	}
	return l, nil
}

// DeleteLabel removes one of the organization's labels and takes it off
// every conversation, in one transaction; deleted is false when there was
// none.
func (s *Store) DeleteLabel(ctx context.Context, orgID, id uint64) (deleted bool, err error) {
	err = s.with(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Where("id = ? AND organization_id = ?", id, orgID).Delete(&models.Label{})
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		deleted = true
		return tx.Model(&models.Conversation{}).Where("organization_id = ? AND label_ids LIKE ?", orgID, labelPattern(id)).
			Update("label_ids", gorm.Expr("REPLACE(label_ids, ?, ',')", labelToken(id))).Error
	})
	return deleted, err
}

// labelToken is how a label ID appears in Conversation.LabelIDs.
func labelToken(id uint64) string { return "," + strconv.FormatUint(id, 10) + "," }

func labelPattern(id uint64) string { return "%" + labelToken(id) + "%" }

// AddConversationLabel puts one of the organization's labels on one of its
// conversations: a single statement that checks both belong to the
// organization and that the label is not there yet, so concurrent adds
// leave it there once. ErrNotFound when either is not the organization's.
func (s *Store) AddConversationLabel(ctx context.Context, orgID, convID, labelID uint64) error {
	if _, err := s.Label(ctx, orgID, labelID); err != nil {
		return err
	}
	res := s.with(ctx).Model(&models.Conversation{}).
		Where("id = ? AND organization_id = ? AND label_ids NOT LIKE ?", convID, orgID, labelPattern(labelID)).
		Where("EXISTS (SELECT 1 FROM labels WHERE labels.id = ? AND labels.organization_id = ?)", labelID, orgID).
		Update("label_ids", gorm.Expr("label_ids || ?", strconv.FormatUint(labelID, 10)+","))
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		// Already there, or not the organization's conversation.
		if _, err := s.ConversationHeader(ctx, orgID, convID); err != nil {
			return err
		}
	}
	return nil
}

// RemoveConversationLabel takes a label off one of the organization's
// conversations (nothing when it is not there); ErrNotFound when the
// conversation is not the organization's.
func (s *Store) RemoveConversationLabel(ctx context.Context, orgID, convID, labelID uint64) error {
	if _, err := s.ConversationHeader(ctx, orgID, convID); err != nil {
		return err
	}
	return s.with(ctx).Model(&models.Conversation{}).
		Where("id = ? AND organization_id = ? AND label_ids LIKE ?", convID, orgID, labelPattern(labelID)).
		Update("label_ids", gorm.Expr("REPLACE(label_ids, ?, ',')", labelToken(labelID))).Error
}

// ConversationLabelIDs reads Conversation.LabelIDs.
func ConversationLabelIDs(c *models.Conversation) []uint64 {
	var ids []uint64
	start := 0
	for i := 0; i < len(c.LabelIDs); i++ {
		if c.LabelIDs[i] != ',' {
			continue
		}
		if n, err := strconv.ParseUint(c.LabelIDs[start:i], 10, 64); err == nil {
			ids = append(ids, n)
		}
		start = i + 1
	}
	return ids
}
