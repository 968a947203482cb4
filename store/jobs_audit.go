package store

import (
	"context"

	"github.com/convot/convot/models"
)

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
