package store

import (
	"context"

	"github.com/convot/convot/models"
)

// CreateUsageEvent records an operator's use of a dashboard page; its
// OrganizationID says whose.
func (s *Store) CreateUsageEvent(ctx context.Context, ev *models.UsageEvent) error {
	return s.with(ctx).Create(ev).Error
}
