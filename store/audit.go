package store

import (
	"context"
	"fmt"

	"gorm.io/gorm"

	"github.com/convot/convot/models"
)

// CreateAuditEvent records a security event; its OrganizationID says whose
// (0 for one of no organization, such as a sign-in with an unknown email).
func (s *Store) CreateAuditEvent(ctx context.Context, ev *models.AuditEvent) error {
	return s.with(ctx).Create(ev).Error
}

// CreateAuditEventIn records ev with db: a *Store (or one of its
// transactions), or the *gorm.DB of a handler that still runs its own
// transaction, so that the event commits with the change it records. The
// *gorm.DB case is for the handlers not yet moved to the store (billing,
// cancellation, email and widget settings): delete it, and take a *Store,
// once they are.
func CreateAuditEventIn(ctx context.Context, db any, ev *models.AuditEvent) error {
	switch db := db.(type) {
	case *Store:
		return db.CreateAuditEvent(ctx, ev)
	case *gorm.DB:
		return db.Create(ev).Error
	}
	return fmt.Errorf("store: cannot record an audit event with a %T", db)
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
