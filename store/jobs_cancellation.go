package store

import (
	"context"

	"github.com/convot/convot/models"
)

// Subscription returns the organization's subscription row, or ErrNotFound
// when it never had a Stripe customer.
func (s *Store) Subscription(ctx context.Context, orgID uint64) (*models.Subscription, error) {
	sub, err := models.SubscriptionOf(ctx, s.db, orgID)
	if err != nil {
		return nil, err
	}
	if sub == nil {
		return nil, ErrNotFound
	}
	return sub, nil
}

// DeleteOrganizationData permanently deletes a cancelled organization's
// data and its end users' data (billing records kept), destroying its data
// keys and, through blobs, its files; see models.DeleteOrganizationData.
// It returns the progress and the counts of rows kept.
func (s *Store) DeleteOrganizationData(ctx context.Context, orgID uint64, batch int, progress models.DeletionProgress, blobs models.BlobDeleter, onBatch func(models.DeletionProgress) error) (models.DeletionProgress, map[string]int64, error) {
	return models.DeleteOrganizationData(ctx, s.db, s.keys, orgID, batch, progress, blobs, onBatch)
}
