package store

import (
	"context"

	"github.com/convot/convot/models"
)

// IncidentSummaries lists the organization's latest breach incidents,
// newest first (at most 200), with the columns the list shows only.
func (s *Store) IncidentSummaries(ctx context.Context, orgID uint64) ([]models.Incident, error) {
	var list []models.Incident
	err := s.with(ctx).Select("id", "organization_id", "aware_at", "notice_due_at", "status", "risk", "notice_sent_at", "notice_late", "approx_subjects", "created_at").
		Where("organization_id = ?", orgID).Order("id DESC").Limit(200).Find(&list).Error
	return list, err
}

// Incident loads one of the organization's incidents, or ErrNotFound.
func (s *Store) Incident(ctx context.Context, orgID, id uint64) (*models.Incident, error) {
	return one[models.Incident](s.with(ctx).Where("id = ? AND organization_id = ?", id, orgID))
}

// CreateIncident writes a new incident; its OrganizationID says whose.
func (s *Store) CreateIncident(ctx context.Context, inc *models.Incident) error {
	return s.with(ctx).Create(inc).Error
}

// CreateIncidentStep writes a step of an incident's trail; its
// OrganizationID says whose.
func (s *Store) CreateIncidentStep(ctx context.Context, step *models.IncidentStep) error {
	return s.with(ctx).Create(step).Error
}

// IncidentSteps lists the trail of one of the organization's incidents in
// order.
func (s *Store) IncidentSteps(ctx context.Context, orgID, incidentID uint64) ([]models.IncidentStep, error) {
	var list []models.IncidentStep
	err := s.with(ctx).Where("incident_id = ? AND organization_id = ?", incidentID, orgID).Order("at, id").Find(&list).Error
	return list, err
}

// SaveIncidentRiskReason writes inc's risk reason (sealed) and updated_at,
// when inc is one of the organization's incidents.
func (s *Store) SaveIncidentRiskReason(ctx context.Context, orgID uint64, inc *models.Incident) error {
	return s.with(ctx).Where("organization_id = ?", orgID).Select("risk_reason", "updated_at").Save(inc).Error
}

// SaveIncidentDelayReasons writes inc's reasons for a late notice (sealed)
// and updated_at, when inc is one of the organization's incidents.
func (s *Store) SaveIncidentDelayReasons(ctx context.Context, orgID uint64, inc *models.Incident) error {
	return s.with(ctx).Where("organization_id = ?", orgID).Select("delay_reasons", "updated_at").Save(inc).Error
}
