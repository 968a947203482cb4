package store

import (
	"context"

	"github.com/convot/convot/models"
)

// Decisions lists the egress gate's decisions for the organization, newest
// first, narrowed by f (whose OrganizationID is replaced by orgID).
func (s *Store) Decisions(ctx context.Context, orgID uint64, f models.DecisionFilter) ([]models.EgressDecision, error) {
	// The decision log reads every organization's rows when the filter has
	// none: an organization of ID 0 has nothing to see.
	if orgID == 0 {
		return nil, nil
	}
	f.OrganizationID = orgID
	return models.DecisionLog{DB: s.db}.Decisions(ctx, f)
}
