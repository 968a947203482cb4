package store

import (
	"context"

	"github.com/convot/convot/models"
)

// CreateAuditEvent records an audit event; its OrganizationID says whose
// it is.
func (s *Store) CreateAuditEvent(ctx context.Context, ev *models.AuditEvent) error {
	return s.with(ctx).Create(ev).Error
}
