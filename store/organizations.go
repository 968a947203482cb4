package store

import (
	"context"

	"github.com/convot/convot/models"
)

// CreateOrganization writes a new organization (at sign-up).
func (s *Store) CreateOrganization(ctx context.Context, o *models.Organization) error {
	return s.with(ctx).Create(o).Error
}

// Organization loads the organization itself, or ErrNotFound.
func (s *Store) Organization(ctx context.Context, orgID uint64) (*models.Organization, error) {
	return one[models.Organization](s.with(ctx).Where("id = ?", orgID))
}

// SaveOrganizationProfile writes the organization's profile fields from o
// (company name, website, industry, team size, billing address, tax ID),
// when o is the organization orgID.
func (s *Store) SaveOrganizationProfile(ctx context.Context, orgID uint64, o *models.Organization) error {
	return s.with(ctx).Where("id = ?", orgID).
		Select("company_name", "website", "industry", "team_size", "billing_address", "tax_identifier", "updated_at").Save(o).Error
}

// SetRequireMFA says whether every member of the organization must use
// two-factor authentication.
func (s *Store) SetRequireMFA(ctx context.Context, orgID uint64, require bool) error {
	return s.with(ctx).Model(&models.Organization{}).Where("id = ?", orgID).Update("require_mfa", require).Error
}
