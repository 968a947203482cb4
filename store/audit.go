package store

import (
	"context"

	"github.com/convot/convot/models"
)

// CreateAuditEvent records a security event; its OrganizationID says whose
// (0 for one of no organization, such as a sign-in with an unknown email).
func (s *Store) CreateAuditEvent(ctx context.Context, ev *models.AuditEvent) error {
	return s.with(ctx).Create(ev).Error
}

// AuditEvents lists the organization's latest audit events, newest first,
// at most limit; only those of action when it is not empty.
func (s *Store) AuditEvents(ctx context.Context, orgID uint64, action string, limit int) ([]models.AuditEvent, error) {
	var list []models.AuditEvent
	q := s.with(ctx).Where("organization_id = ?", orgID).Order("id DESC").Limit(limit)
	if action != "" {
		q = q.Where("action = ?", action)
	}
	err := q.Find(&list).Error
	return list, err
}
