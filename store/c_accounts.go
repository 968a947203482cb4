package store

import (
	"context"

	"github.com/convot/convot/models"
)

// OrganizationOfAccountEmail is the organization of the account with this
// email blind index (a Customer asking Convot about their own data), or
// ErrNotFound.
func (s *Store) OrganizationOfAccountEmail(ctx context.Context, emailIndex string) (uint64, error) {
	a, err := one[models.Account](s.with(ctx).Select("id", "organization_id").Where("email_index = ?", emailIndex))
	if err != nil {
		return 0, err
	}
	return a.OrganizationID, nil
}

// CountAccountsWithEmailIndex counts the accounts, in any organization,
// with this email blind index.
func (s *Store) CountAccountsWithEmailIndex(ctx context.Context, emailIndex string) (int64, error) {
	var n int64
	err := s.with(ctx).Model(&models.Account{}).Where("email_index = ?", emailIndex).Count(&n).Error
	return n, err
}

// accountIn is ErrNotFound unless the account is the organization's: the
// models functions it guards look an account up by its ID alone.
func (s *Store) accountIn(ctx context.Context, orgID, accountID uint64) error {
	var n int64
	if err := s.with(ctx).Model(&models.Account{}).Where("id = ? AND organization_id = ?", accountID, orgID).Count(&n).Error; err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}
