package store

import (
	"context"

	"github.com/convot/convot/models"
)

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
