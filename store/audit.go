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

// AuditRecorded reports whether an event with the action and target is
// recorded, in any organization: a workflow records some events once
// however often its activity is retried, and the target names the
// organization or the object.
func (s *Store) AuditRecorded(ctx context.Context, action, target string) (bool, error) {
	var n int64
	err := s.with(ctx).Model(&models.AuditEvent{}).Where("action = ? AND target = ?", action, target).Count(&n).Error
	return n > 0, err
}

// AuditRecordedWithDetail is AuditRecorded for events that differ only in
// their detail.
func (s *Store) AuditRecordedWithDetail(ctx context.Context, action, target, detail string) (bool, error) {
	var n int64
	err := s.with(ctx).Model(&models.AuditEvent{}).Where("action = ? AND target = ? AND detail = ?", action, target, detail).Count(&n).Error
	return n > 0, err
}
