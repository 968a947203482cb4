package store

import (
	"context"

	"github.com/convot/convot/models"
)

// ActiveAccountsInRoles lists the organization's active accounts with one
// of the roles, by ID: who is told of a cancellation, a breach or a
// privacy request.
func (s *Store) ActiveAccountsInRoles(ctx context.Context, orgID uint64, roles ...string) ([]models.Account, error) {
	var out []models.Account
	err := s.with(ctx).Where("organization_id = ? AND role IN ? AND status = ?", orgID, roles, "active").
		Order("id").Find(&out).Error
	return out, err
}

// ActiveAccountsPage lists up to limit of the organization's active
// accounts with an ID above after, by ID.
func (s *Store) ActiveAccountsPage(ctx context.Context, orgID, after uint64, limit int) ([]models.Account, error) {
	var out []models.Account
	err := s.with(ctx).Where("organization_id = ? AND status = ? AND id > ?", orgID, "active", after).
		Order("id").Limit(limit).Find(&out).Error
	return out, err
}

// EveryActiveAccountPage lists up to limit active accounts of every
// organization with an ID above after, by ID: a deployment-wide notice
// walks them all.
func (s *Store) EveryActiveAccountPage(ctx context.Context, after uint64, limit int) ([]models.Account, error) {
	var out []models.Account
	err := s.with(ctx).Where("status = ? AND id > ?", "active", after).Order("id").Limit(limit).Find(&out).Error
	return out, err
}

// AccountsByID loads those of the accounts that belong to the
// organization.
func (s *Store) AccountsByID(ctx context.Context, orgID uint64, ids []uint64) ([]models.Account, error) {
	var out []models.Account
	err := s.with(ctx).Where("organization_id = ? AND id IN ?", orgID, ids).Find(&out).Error
	return out, err
}

// AnyAccount reports whether the database has an account at all (a fresh
// development database gets a first owner).
func (s *Store) AnyAccount(ctx context.Context) (bool, error) {
	var n int64
	err := s.with(ctx).Model(&models.Account{}).Count(&n).Error
	return n > 0, err
}
