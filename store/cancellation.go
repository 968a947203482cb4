package store

import (
	"context"

	"github.com/convot/convot/models"
)

// DeleteOrganizationData permanently deletes a cancelled organization's
// data and its end users' data (billing records kept), destroying its data
// keys and, through blobs, its files; see models.DeleteOrganizationData.
// It returns the progress and the counts of rows kept.
func (s *Store) DeleteOrganizationData(ctx context.Context, orgID uint64, batch int, progress models.DeletionProgress, blobs models.BlobDeleter, onBatch func(models.DeletionProgress) error) (models.DeletionProgress, map[string]int64, error) {
	return models.DeleteOrganizationData(ctx, s.db, s.keys, orgID, batch, progress, blobs, onBatch)
}
