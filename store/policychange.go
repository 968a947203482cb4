package store

import (
	"context"
	"errors"

	"github.com/convot/convot/models"
	"gorm.io/gorm"
)

// The versions of Convot's privacy policy and their notices belong to the
// deployment, not to an organization.

// PolicyVersions lists every version without its text, by number.
func (s *Store) PolicyVersions(ctx context.Context) ([]models.PolicyVersion, error) {
	var list []models.PolicyVersion
	err := s.with(ctx).Select("id", "version", "summary", "material", "published_at", "effective_at").Order("version").Find(&list).Error
	return list, err
}

// NextPolicyVersion is the number the next published version gets.
func (s *Store) NextPolicyVersion(ctx context.Context) (int, error) {
	return models.NextPolicyVersion(ctx, s.db)
}

// CreatePolicyVersion writes a new version of the policy.
func (s *Store) CreatePolicyVersion(ctx context.Context, v *models.PolicyVersion) error {
	return s.with(ctx).Create(v).Error
}

// DeletePolicyVersion takes a version back (its notice could not start).
func (s *Store) DeletePolicyVersion(ctx context.Context, id uint64) error {
	return s.with(ctx).Delete(&models.PolicyVersion{}, id).Error
}

// ClaimPolicyNotice records that an account is being told of a version;
// claimed is false when it was told already.
func (s *Store) ClaimPolicyNotice(ctx context.Context, n *models.PolicyNotice) (claimed bool, err error) {
	if err := s.with(ctx).Create(n).Error; err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// ReleasePolicyNotice gives a claim back (its mail failed), so a retry
// sends it.
func (s *Store) ReleasePolicyNotice(ctx context.Context, noticeID uint64) error {
	return s.with(ctx).Delete(&models.PolicyNotice{}, noticeID).Error
}

// PolicyNoticeCount counts the accounts told of a version.
func (s *Store) PolicyNoticeCount(ctx context.Context, version int) (int64, error) {
	var n int64
	err := s.with(ctx).Model(&models.PolicyNotice{}).Where("version = ?", version).Count(&n).Error
	return n, err
}
