package store

import (
	"context"
	"time"

	"github.com/convot/convot/models"
)

// CreateAuditEvent records a security event; its OrganizationID says whose
// (0 for one of no organization, such as a sign-in with an unknown email).
func (s *Store) CreateAuditEvent(ctx context.Context, ev *models.AuditEvent) error {
	return s.with(ctx).Create(ev).Error
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

// AuditFilter narrows the audit log: an actor, an action, a time range
// [From, To), and a page of at most Limit events with an ID below BeforeID.
type AuditFilter struct {
	ActorID  uint64
	Action   string
	From, To time.Time
	BeforeID uint64
	Limit    int
}

// AuditLog lists the organization's audit events the filter keeps, newest
// first.
func (s *Store) AuditLog(ctx context.Context, orgID uint64, f AuditFilter) ([]models.AuditEvent, error) {
	q := s.with(ctx).Where("organization_id = ?", orgID)
	if f.ActorID != 0 {
		q = q.Where("actor_id = ?", f.ActorID)
	}
	if f.Action != "" {
		q = q.Where("action = ?", f.Action)
	}
	if !f.From.IsZero() {
		q = q.Where("created_at >= ?", f.From)
	}
	if !f.To.IsZero() {
		q = q.Where("created_at < ?", f.To)
	}
	if f.BeforeID != 0 {
		q = q.Where("id < ?", f.BeforeID)
	}
	var list []models.AuditEvent
	err := q.Order("id DESC").Limit(f.Limit).Find(&list).Error
	return list, err
}
