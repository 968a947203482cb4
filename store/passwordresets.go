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
	return one[models.PasswordReset](s.with(ctx).Where("token_hash = ?", hash))
}

// ClaimPasswordReset marks the reset used at at, unless it already was:
// false then, so a link resets the password once.
func (s *Store) ClaimPasswordReset(ctx context.Context, id uint64, at time.Time) (bool, error) {
	return s.claimOnce(ctx, &models.PasswordReset{}, id, "used_at", at)
}

// PasswordResetAccount loads the account a reset link was issued for, of
// any status, or ErrNotFound.
func (s *Store) PasswordResetAccount(ctx context.Context, r *models.PasswordReset) (*models.Account, error) {
	return one[models.Account](s.with(ctx).Where("id = ?", r.AccountID))
}
