package store

import (
	"context"
	"time"

	"github.com/convot/convot/models"
)

// CreatePasswordReset writes a reset link's row for the account found by
// its email.
func (s *Store) CreatePasswordReset(ctx context.Context, r *models.PasswordReset) error {
	return s.with(ctx).Create(r).Error
}

// PasswordResetByTokenHash finds the reset whose link token hashes to
// hash, used or not, or ErrNotFound.
func (s *Store) PasswordResetByTokenHash(ctx context.Context, hash string) (*models.PasswordReset, error) {
	var r models.PasswordReset
	res := s.with(ctx).Where("token_hash = ?", hash).Limit(1).Find(&r)
	if err := found(res.RowsAffected, res.Error); err != nil {
		return nil, err
	}
	return &r, nil
}

// ClaimPasswordReset marks the reset used at at, unless it already was:
// false then, so a link resets the password once.
func (s *Store) ClaimPasswordReset(ctx context.Context, id uint64, at time.Time) (bool, error) {
	return s.claimOnce(ctx, &models.PasswordReset{}, id, "used_at", at)
}

// PasswordResetAccount loads the account a reset link was issued for, of
// any status, or ErrNotFound.
func (s *Store) PasswordResetAccount(ctx context.Context, r *models.PasswordReset) (*models.Account, error) {
	var a models.Account
	res := s.with(ctx).Where("id = ?", r.AccountID).Limit(1).Find(&a)
	if err := found(res.RowsAffected, res.Error); err != nil {
		return nil, err
	}
	return &a, nil
}
