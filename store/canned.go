package store

import (
	"context"
	"time"

	"github.com/convot/convot/models"
)

// CannedResponses lists the organization's canned responses by shortcut.
func (s *Store) CannedResponses(ctx context.Context, orgID uint64) ([]models.CannedResponse, error) {
	var list []models.CannedResponse
	err := s.with(ctx).Where("organization_id = ?", orgID).Order("shortcut").Find(&list).Error
	return list, err
}

// CannedResponse loads one of the organization's canned responses, or
// ErrNotFound.
func (s *Store) CannedResponse(ctx context.Context, orgID, id uint64) (*models.CannedResponse, error) {
	return one[models.CannedResponse](s.with(ctx).Where("id = ? AND organization_id = ?", id, orgID))
}

// CannedShortcutTaken reports whether another canned response of the
// organization than except already has the shortcut.
func (s *Store) CannedShortcutTaken(ctx context.Context, orgID uint64, shortcut string, except uint64) (bool, error) {
	var n int64
	err := s.with(ctx).Model(&models.CannedResponse{}).
		Where("organization_id = ? AND shortcut = ? AND id <> ?", orgID, shortcut, except).Count(&n).Error
	return n > 0, err
}

// CreateCannedResponse writes a new canned response; its OrganizationID
// says whose it is.
func (s *Store) CreateCannedResponse(ctx context.Context, cr *models.CannedResponse) error {
	return s.with(ctx).Create(cr).Error
}

// UpdateCannedResponse changes the shortcut and body of one of the
// organization's canned responses.
func (s *Store) UpdateCannedResponse(ctx context.Context, orgID, id uint64, shortcut, body string, at time.Time) error {
	return s.with(ctx).Model(&models.CannedResponse{}).Where("id = ? AND organization_id = ?", id, orgID).
		Updates(map[string]any{"shortcut": shortcut, "body": body, "updated_at": at}).Error
}

// DeleteCannedResponse deletes one of the organization's canned responses.
func (s *Store) DeleteCannedResponse(ctx context.Context, orgID, id uint64) error {
	return s.with(ctx).Where("id = ? AND organization_id = ?", id, orgID).Delete(&models.CannedResponse{}).Error
}
