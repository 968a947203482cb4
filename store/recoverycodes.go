package store

import (
	"context"
	"time"

	"github.com/convot/convot/models"
	"gorm.io/gorm"
)

// Recovery codes carry no organization of their own: they are scoped
// through their account.

// accountIDsOf selects the IDs of the organization's accounts.
func (s *Store) accountIDsOf(ctx context.Context, orgID uint64) *gorm.DB {
	return s.with(ctx).Model(&models.Account{}).Select("id").Where("organization_id = ?", orgID)
}

// UseRecoveryCode marks the account's unused recovery code with hash used
// at at: false when there is none. The single conditional update makes a
// code single-use under races. The account is the one the caller
// authenticated (sign-in session or dashboard).
func (s *Store) UseRecoveryCode(ctx context.Context, accountID uint64, codeHash string, at time.Time) (bool, error) {
	res := s.with(ctx).Model(&models.RecoveryCode{}).
		Where("account_id = ? AND code_hash = ? AND used_at IS NULL", accountID, codeHash).
		Update("used_at", at)
	return res.RowsAffected == 1, res.Error
}

// RecoveryCodesLeft counts the unused recovery codes of one of the
// organization's accounts.
func (s *Store) RecoveryCodesLeft(ctx context.Context, orgID, accountID uint64) (int64, error) {
	var n int64
	err := s.with(ctx).Model(&models.RecoveryCode{}).
		Where("account_id = ? AND used_at IS NULL AND account_id IN (?)", accountID, s.accountIDsOf(ctx, orgID)).Count(&n).Error
	return n, err
}

// ReplaceRecoveryCodes replaces every recovery code of one of the
// organization's accounts by codes with hashes; ErrNotFound when the
// account is not the organization's.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, orgID, accountID uint64, hashes []string, now time.Time) error {
	var n int64
	if err := s.accountIDsOf(ctx, orgID).Where("id = ?", accountID).Count(&n).Error; err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	if err := s.with(ctx).Where("account_id = ?", accountID).Delete(&models.RecoveryCode{}).Error; err != nil {
		return err
	}
	rows := make([]models.RecoveryCode, len(hashes))
	for i, h := range hashes {
		rows[i] = models.RecoveryCode{AccountID: accountID, CodeHash: h, CreatedAt: now.UTC()}
	}
	return s.with(ctx).Create(&rows).Error
}

// DeleteRecoveryCodes deletes every recovery code of one of the
// organization's accounts.
func (s *Store) DeleteRecoveryCodes(ctx context.Context, orgID, accountID uint64) error {
	return s.with(ctx).Where("account_id = ? AND account_id IN (?)", accountID, s.accountIDsOf(ctx, orgID)).Delete(&models.RecoveryCode{}).Error
}
