package store

import (
	"context"

	"github.com/convot/convot/models"
)

// Requests to Convot as controller (its Customers' own, and people no
// Customer knows): Convot's staff decide them in the staff console. They
// belong to the deployment, not to an organization: no Customer's
// officer reads them (PrivacyRequests and OrganizationPrivacyRequest
// exclude them).

// ControllerPrivacyRequests lists the requests to Convot as controller, by
// deadline, at most 500.
func (s *Store) ControllerPrivacyRequests(ctx context.Context, f PrivacyRequestFilter) ([]models.PrivacyRequest, error) {
	q := s.with(ctx).Where("controller = ?", models.ControllerConvot)
	switch {
	case f.Open:
		q = q.Where("status NOT IN ?", closedDsrStatuses)
	case f.Status != "":
		q = q.Where("status = ?", f.Status)
	}
	if f.Type != "" {
		q = q.Where("type = ?", f.Type)
	}
	if !f.DueBefore.IsZero() {
		q = q.Where("deadline < ? AND status NOT IN ?", f.DueBefore, closedDsrStatuses)
	}
	var rs []models.PrivacyRequest
	err := q.Order("deadline, id").Limit(500).Find(&rs).Error
	return rs, err
}

// ControllerPrivacyRequest loads one request to Convot as controller, or
// ErrNotFound (an End User's request to a Customer).
func (s *Store) ControllerPrivacyRequest(ctx context.Context, id uint64) (*models.PrivacyRequest, error) {
	return one[models.PrivacyRequest](s.with(ctx).Where("id = ? AND controller = ?", id, models.ControllerConvot))
}

// ControllerIncidents lists the breaches that touched data Convot holds as
// controller (its Customers' operators' accounts, subject kind customer),
// newest first, from the latest 500 incidents: Convot's staff assess and
// notify them (policy §11).
func (s *Store) ControllerIncidents(ctx context.Context) ([]models.Incident, error) {
	var all []models.Incident
	if err := s.with(ctx).Order("id DESC").Limit(500).Find(&all).Error; err != nil {
		return nil, err
	}
	out := []models.Incident{}
	for _, inc := range all {
		if inc.ConvotIsController() {
			out = append(out, inc)
		}
	}
	return out, nil
}

// ExistingOrganizations returns those of ids that are organizations, by ID.
func (s *Store) ExistingOrganizations(ctx context.Context, ids []uint64) ([]uint64, error) {
	out := []uint64{}
	if len(ids) == 0 {
		return out, nil
	}
	err := s.with(ctx).Model(&models.Organization{}).Where("id IN ?", ids).Order("id").Pluck("id", &out).Error
	return out, err
}
