package store

import (
	"context"
	"time"

	"github.com/convot/convot/models"
)

// Closing an account: the organization turns read-only (cancelled) while
// its cancellation workflow keeps the data for the grace period.

// CloseOrganization marks the organization cancelled if it is active.
func (s *Store) CloseOrganization(ctx context.Context, orgID uint64, at time.Time) error {
	return s.with(ctx).Model(&models.Organization{}).Where("id = ? AND status = ?", orgID, models.OrgActive).
		Updates(map[string]any{"status": models.OrgCancelled, "updated_at": at}).Error
}

// OrganizationStatus is the organization's status (active, cancelled,
// deleted), or ErrNotFound.
func (s *Store) OrganizationStatus(ctx context.Context, orgID uint64) (string, error) {
	var statuses []string
	if err := s.with(ctx).Model(&models.Organization{}).Where("id = ?", orgID).Pluck("status", &statuses).Error; err != nil {
		return "", err
	}
	if len(statuses) == 0 {
		return "", ErrNotFound
	}
	return statuses[0], nil
}
