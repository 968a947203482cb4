package store

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/convot/convot/models"
)

// Plans and seats belong to billing; these are what the team page needs.

// PlanOf is the plan the organization has now.
func (s *Store) PlanOf(ctx context.Context, orgID uint64) (models.Plan, error) {
	return models.PlanOf(ctx, s.db, orgID)
}

// SeatsUsed counts the organization's active accounts that take a seat,
// and its live invitations (at now) that will take one.
func (s *Store) SeatsUsed(ctx context.Context, orgID uint64, now time.Time) (members, invited int64, err error) {
	return models.SeatsUsed(ctx, s.db, orgID, now)
}

// UnconvertedDB is the database handle s runs on (inside Tx, the
// transaction), for the handler helpers that still take a *gorm.DB and
// must run in a Store's transaction: seatForMember and seatForRole of
// handlers/plan_limits.go. Delete it once they take a *Store.
func (s *Store) UnconvertedDB() *gorm.DB { return s.db }
