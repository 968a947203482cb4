package store

import (
	"errors"

	"github.com/convot/convot/models"
)

// What the commands wire up around the database they opened.

// Close closes the database's connections. Call it on the Store New
// returned, once nothing uses it any more; never on a transaction's.
func (s *Store) Close() error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return errors.Join(s.closeGenericPlans(), sqlDB.Close())
}

// GroupDecisionLog starts the egress gate's decision writer on this
// database (decisions of concurrent requests committed together); its
// Close stops it.
func (s *Store) GroupDecisionLog() *models.GroupDecisionLog { return models.NewGroupDecisionLog(s.db) }

// DecisionLog records the egress gate's decisions one at a time.
func (s *Store) DecisionLog() models.DecisionLog { return models.DecisionLog{DB: s.db} }

// Suppressions are the addresses mail must not go to (bounces,
// complaints), for the mailer.
func (s *Store) Suppressions() models.Suppressions {
	return models.Suppressions{DB: s.db, Keys: s.keys}
}
