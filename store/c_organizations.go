package store

import (
	"context"

	"github.com/convot/convot/models"
)

// LiveOrganization loads the organization unless its data was deleted, or
// ErrNotFound.
func (s *Store) LiveOrganization(ctx context.Context, orgID uint64) (*models.Organization, error) {
	return one[models.Organization](s.with(ctx).Where("id = ? AND status <> ?", orgID, models.OrgDeleted))
}

// OrganizationRegion is the region where the organization's data is kept,
// or ErrNotFound; nothing sealed is read (its keys may be destroyed).
func (s *Store) OrganizationRegion(ctx context.Context, orgID uint64) (string, error) {
	org, err := one[models.Organization](s.with(ctx).Select("id", "region").Where("id = ?", orgID))
	if err != nil {
		return "", err
	}
	return org.Region, nil
}

// LiveOrganizationByPublicKey finds the organization of a widget public key
// unless its data was deleted, or ErrNotFound.
func (s *Store) LiveOrganizationByPublicKey(ctx context.Context, publicKey string) (*models.Organization, error) {
	return one[models.Organization](s.with(ctx).Where("public_key = ? AND status <> ?", publicKey, models.OrgDeleted))
}
