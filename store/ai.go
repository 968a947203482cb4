package store

import (
	"context"
	"time"

	"gorm.io/gorm/clause"

	"github.com/convot/convot/models"
)

// SaveAISettings sets which AI features the organization turned on and
// their providers (models.FormatAISettings).
func (s *Store) SaveAISettings(ctx context.Context, orgID uint64, settings string) error {
	res := s.with(ctx).Model(&models.Organization{}).Where("id = ?", orgID).
		Updates(map[string]any{"ai_settings": settings, "updated_at": time.Now().UTC()})
	return found(res.RowsAffected, res.Error)
}

// SaveAIOutput stores what a provider wrote about one of the
// organization's conversations, sealed under the conversation's contact's
// key; ErrNotFound when the conversation is not the organization's.
func (s *Store) SaveAIOutput(ctx context.Context, orgID uint64, out *models.AIOutput) error {
	conv, err := s.ConversationHeader(ctx, orgID, out.ConversationID)
	if err != nil {
		return err
	}
	out.ID = 0
	out.OrganizationID, out.ContactID, out.DataKeyID = orgID, conv.ContactID, conv.DataKeyID
	if out.CreatedAt.IsZero() {
		out.CreatedAt = time.Now().UTC()
	}
	return s.with(ctx).Create(out).Error
}

// AIOutputs lists the AI outputs of kind (all kinds when empty) about one
// of the organization's conversations, oldest first.
func (s *Store) AIOutputs(ctx context.Context, orgID, convID uint64, kind string) ([]models.AIOutput, error) {
	q := s.with(ctx).Where("organization_id = ? AND conversation_id = ?", orgID, convID)
	if kind != "" {
		q = q.Where("kind = ?", kind)
	}
	var list []models.AIOutput
	err := q.Order("id").Find(&list).Error
	return list, err
}

// SaveEmbedding stores (or replaces) the vector of one of the
// organization's conversations, in one statement: concurrent indexing of
// the same conversation leaves one row.
func (s *Store) SaveEmbedding(ctx context.Context, orgID, convID uint64, model, vector string) error {
	conv, err := s.ConversationHeader(ctx, orgID, convID)
	if err != nil {
		return err
	}
	row := models.AIEmbedding{OrganizationID: orgID, ConversationID: convID, ContactID: conv.ContactID,
		DataKeyID: conv.DataKeyID, Model: model, Vector: vector, UpdatedAt: time.Now().UTC()}
	return s.with(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "organization_id"}, {Name: "conversation_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"model", "vector", "updated_at", "contact_id", "data_key_id"}),
	}).Create(&row).Error
}

// Embeddings lists the organization's conversation vectors computed by
// model.
func (s *Store) Embeddings(ctx context.Context, orgID uint64, model string) ([]models.AIEmbedding, error) {
	var list []models.AIEmbedding
	err := s.with(ctx).Where("organization_id = ? AND model = ?", orgID, model).Order("conversation_id").Find(&list).Error
	return list, err
}

// HelpArticles lists the organization's help articles by title.
func (s *Store) HelpArticles(ctx context.Context, orgID uint64) ([]models.HelpArticle, error) {
	var list []models.HelpArticle
	err := s.with(ctx).Where("organization_id = ?", orgID).Order("title, id").Find(&list).Error
	return list, err
}

// HelpArticle loads one of the organization's help articles, or
// ErrNotFound.
func (s *Store) HelpArticle(ctx context.Context, orgID, id uint64) (*models.HelpArticle, error) {
	return one[models.HelpArticle](s.with(ctx).Where("id = ? AND organization_id = ?", id, orgID))
}

// CreateHelpArticle writes a new help article; its OrganizationID says
// whose it is.
func (s *Store) CreateHelpArticle(ctx context.Context, a *models.HelpArticle) error {
	return s.with(ctx).Create(a).Error
}

// DeleteHelpArticle deletes one of the organization's help articles.
func (s *Store) DeleteHelpArticle(ctx context.Context, orgID, id uint64) error {
	return s.with(ctx).Where("id = ? AND organization_id = ?", id, orgID).Delete(&models.HelpArticle{}).Error
}

// MarkHandedOver records that the automated answers handed one of the
// organization's conversations to the team, and why; handed is false when
// it was already handed over (the first reason stays). ErrNotFound when
// the conversation is not the organization's.
func (s *Store) MarkHandedOver(ctx context.Context, orgID, convID uint64, reason string, at time.Time) (handed bool, err error) {
	res := s.with(ctx).Model(&models.Conversation{}).
		Where("id = ? AND organization_id = ? AND handed_over_at IS NULL", convID, orgID).
		Updates(map[string]any{"handed_over_at": at, "handover_reason": reason, "updated_at": at})
	if res.Error != nil {
		return false, res.Error
	}
	if res.RowsAffected == 1 {
		return true, nil
	}
	if _, err := s.ConversationHeader(ctx, orgID, convID); err != nil {
		return false, err
	}
	return false, nil
}
