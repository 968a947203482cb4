package store

import (
	"context"

	"github.com/convot/convot/models"
)

// RoutingExamples lists the organization's routing examples, oldest first.
func (s *Store) RoutingExamples(ctx context.Context, orgID uint64) ([]models.RoutingExample, error) {
	var list []models.RoutingExample
	err := s.with(ctx).Where("organization_id = ?", orgID).Order("id").Find(&list).Error
	return list, err
}

// RoutingExample loads one of the organization's routing examples, or
// ErrNotFound.
func (s *Store) RoutingExample(ctx context.Context, orgID, id uint64) (*models.RoutingExample, error) {
	return one[models.RoutingExample](s.with(ctx).Where("id = ? AND organization_id = ?", id, orgID))
}

// CreateRoutingExample writes a routing example of the organization for
// one of its active operators; ErrNotFound when the account is not one.
func (s *Store) CreateRoutingExample(ctx context.Context, orgID uint64, ex *models.RoutingExample) error {
	ex.OrganizationID = orgID
	var n int64
	if err := s.with(ctx).Model(&models.Account{}).Where("id = ? AND organization_id = ? AND status = ?", ex.AccountID, ex.OrganizationID, "active").Count(&n).Error; err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return s.with(ctx).Create(ex).Error
}

// DeleteRoutingExample deletes one of the organization's routing examples.
func (s *Store) DeleteRoutingExample(ctx context.Context, orgID, id uint64) error {
	return s.with(ctx).Where("id = ? AND organization_id = ?", id, orgID).Delete(&models.RoutingExample{}).Error
}
