package store

import (
	"context"
	"errors"

	"gorm.io/gorm"

	"github.com/convot/convot/models"
)

// The message path's statements (a visitor's token and conversation read
// together, the group commit's batch insert) run once or more per message.
// pgx prepares them once per connection, but PostgreSQL plans a prepared
// statement again at each execution for as long as a custom plan looks
// cheaper than the generic one, which for the batch insert is always: a
// custom plan counts the rows of its arrays, a generic one cannot. At 1,000
// messages/s the planning cost more than the execution of the visitor read
// (60 µs against 40) and a fifth of the batch insert (181 µs). Their plans
// are lookups by key and inserts from arrays, the same whatever the values,
// so they run on a small pool of connections that plan once.

// genericPlanConns is the size of the generic-plan pool: the group
// commit's committers and the visitor reads of concurrent posts.
const genericPlanConns = 16

// OpenGenericPlans opens the message path's pool of connections that plan
// once (see above), on PostgreSQL; Close closes it. Without it, those
// statements run on the store's own pool.
func (s *Store) OpenGenericPlans() error {
	if !s.Postgres() {
		return nil
	}
	if s.plans != nil {
		return errors.New("store: the generic-plan pool is open already")
	}
	db, err := models.OpenGenericPlans(s.db, genericPlanConns)
	if err != nil {
		return err
	}
	s.plans = db
	return nil
}

// withGenericPlans is the database bound to ctx for a statement of the
// message path: the generic-plan pool when open (never in a transaction,
// whose store has none), else the store's own.
func (s *Store) withGenericPlans(ctx context.Context) *gorm.DB {
	if s.plans == nil {
		return s.with(ctx)
	}
	return s.plans.WithContext(ctx)
}

// closeGenericPlans closes the generic-plan pool, if open.
func (s *Store) closeGenericPlans() error {
	if s.plans == nil {
		return nil
	}
	sqlDB, err := s.plans.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}
