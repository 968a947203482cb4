package store

import (
	"context"
	"time"

	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
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

// SetAutoAssignOnReply turns on or off assigning a conversation to the
// operator who first replies in it.
func (s *Store) SetAutoAssignOnReply(ctx context.Context, orgID uint64, on bool) error {
	return s.with(ctx).Model(&models.Organization{}).Where("id = ?", orgID).Update("auto_assign_on_reply", on).Error
}

// Organizations as the widget reads and its settings page writes them.

// WidgetOrganization finds an organization by its widget's public key,
// whatever its status, or ErrNotFound.
func (s *Store) WidgetOrganization(ctx context.Context, publicKey string) (*models.Organization, error) {
	return one[models.Organization](s.with(ctx).Where("public_key = ?", publicKey))
}

// SaveWidgetSettings writes the widget settings of o, the organization
// orgID: allowed origins, identity verification and its secret, the
// inactivity period, color and greeting.
func (s *Store) SaveWidgetSettings(ctx context.Context, orgID uint64, o *models.Organization) error {
	return s.with(ctx).Where("id = ?", orgID).Select("allowed_origins", "identity_verification", "identity_secret", "inactivity_hours",
		"widget_color", "widget_greeting", "updated_at").Save(o).Error
}

// SaveIdentitySecret writes the widget's identity secret of o, the
// organization orgID.
func (s *Store) SaveIdentitySecret(ctx context.Context, orgID uint64, o *models.Organization) error {
	return s.with(ctx).Where("id = ?", orgID).Select("identity_secret", "updated_at").Save(o).Error
}

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

// OrganizationGateContext is what the egress gate needs of the
// organization (its ID and region), read without its other columns; or
// ErrNotFound.
func (s *Store) OrganizationGateContext(ctx context.Context, orgID uint64) (policies.OrgContext, error) {
	var org models.Organization
	res := s.with(ctx).Select("id", "region", "status", "ai_settings").Where("id = ?", orgID).Limit(1).Find(&org)
	if err := found(res.RowsAffected, res.Error); err != nil {
		return policies.OrgContext{}, err
	}
	return org.GateContext(), nil
}

// SetOrganizationStatus moves the organization from status from to status
// to, in one conditional statement; changed is false when it was not in
// from (already moved, by a retry or the owner).
func (s *Store) SetOrganizationStatus(ctx context.Context, orgID uint64, from, to string, at time.Time) (changed bool, err error) {
	res := s.with(ctx).Model(&models.Organization{}).Where("id = ? AND status = ?", orgID, from).
		Updates(map[string]any{"status": to, "updated_at": at})
	return res.RowsAffected > 0, res.Error
}
