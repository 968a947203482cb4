package store

import (
	"context"

	"github.com/convot/convot/models"
)

// Accounts as the conversations surfaces (widget, inbox, plan limits)
// read them.

// OperatorAccount loads one of the organization's accounts (the author of
// a message), or ErrNotFound.
func (s *Store) OperatorAccount(ctx context.Context, orgID, id uint64) (*models.Account, error) {
	return one[models.Account](s.with(ctx).Where("id = ? AND organization_id = ?", id, orgID))
}

// ActiveAccountNames lists the organization's active accounts with their
// names and roles only, in order (who a conversation may be assigned to).
func (s *Store) ActiveAccountNames(ctx context.Context, orgID uint64) ([]models.Account, error) {
	var accounts []models.Account
	err := s.with(ctx).Select("id", "data_key_id", "full_name", "display_name", "role").
		Where("organization_id = ? AND status = ?", orgID, "active").Order("id").Find(&accounts).Error
	return accounts, err
}

// ActiveOwners lists the organization's active owners.
func (s *Store) ActiveOwners(ctx context.Context, orgID uint64) ([]models.Account, error) {
	var owners []models.Account
	err := s.with(ctx).Where("organization_id = ? AND role = ? AND status = ?", orgID, models.RoleOwner, "active").Find(&owners).Error
	return owners, err
}
