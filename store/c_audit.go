package store

import (
	"context"

	"github.com/convot/convot/models"
)

// CreateAuditEvent writes an audit event; its OrganizationID says whose.
func (s *Store) CreateAuditEvent(ctx context.Context, ev *models.AuditEvent) error {
	return s.with(ctx).Create(ev).Error
}
