package store

import (
	"context"
	"time"

	"github.com/convot/convot/models"
)

// The register of disclosures (models.DisclosureRequest) is the
// deployment's: staff record requests about any organization's data.

// CreateDisclosureRequest records a request; its OrganizationID says whose
// data it asks for.
func (s *Store) CreateDisclosureRequest(ctx context.Context, d *models.DisclosureRequest) error {
	return s.with(ctx).Create(d).Error
}

// DisclosureRequests lists the register, open requests first, then the
// newest (at most limit).
func (s *Store) DisclosureRequests(ctx context.Context, limit int) ([]models.DisclosureRequest, error) {
	var list []models.DisclosureRequest
	err := s.with(ctx).Order("CASE WHEN status IN ('closed', 'refused') THEN 1 ELSE 0 END, created_at DESC, id DESC").Limit(limit).Find(&list).Error
	return list, err
}

// DisclosureRequest loads a request of the register, or ErrNotFound.
func (s *Store) DisclosureRequest(ctx context.Context, id uint64) (*models.DisclosureRequest, error) {
	return one[models.DisclosureRequest](s.with(ctx).Where("id = ?", id))
}

// UpdateDisclosureRequest sets columns of a request (the workflow's
// steps, an officer's refusal reason).
func (s *Store) UpdateDisclosureRequest(ctx context.Context, id uint64, updates map[string]any, at time.Time) error {
	updates["updated_at"] = at
	return s.with(ctx).Model(&models.DisclosureRequest{}).Where("id = ?", id).Updates(updates).Error
}

// ClaimDisclosureNotice marks the request's people notified at at, once:
// false when they were (or the request is gone), so a retried activity
// does not mail them again.
func (s *Store) ClaimDisclosureNotice(ctx context.Context, id uint64, at time.Time) (bool, error) {
	res := s.with(ctx).Model(&models.DisclosureRequest{}).Where("id = ? AND notified_at IS NULL", id).
		Updates(map[string]any{"notified_at": at, "updated_at": at})
	return res.RowsAffected > 0, res.Error
}

// ReleaseDisclosureNotice gives the claim back after a mail failed.
func (s *Store) ReleaseDisclosureNotice(ctx context.Context, id uint64) error {
	return s.with(ctx).Model(&models.DisclosureRequest{}).Where("id = ?", id).Update("notified_at", nil).Error
}
