package store

import (
	"context"
	"time"

	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
)

// OrganizationGateContext is what the egress gate needs of the
// organization (its ID and region), read without its other columns; or
// ErrNotFound.
func (s *Store) OrganizationGateContext(ctx context.Context, orgID uint64) (policies.OrgContext, error) {
	var org models.Organization
	res := s.with(ctx).Select("id", "region", "status").Where("id = ?", orgID).Limit(1).Find(&org)
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
