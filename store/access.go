package store

import (
	"context"
	"time"

	"gorm.io/gorm/clause"

	"github.com/convot/convot/models"
)

// RecordAccess records that the organization's operator accountID opened
// target (kind:id) with action: one short INSERT, whatever the page shows.
func (s *Store) RecordAccess(ctx context.Context, orgID, accountID uint64, action, target string) error {
	return s.with(ctx).Create(&models.AccessEvent{OrganizationID: orgID, AccountID: accountID, Action: action,
		Target: target, CreatedAt: time.Now().UTC()}).Error
}

// AccessLog lists the organization's access events the filter keeps (its
// ActorID is the operator's account), newest first.
func (s *Store) AccessLog(ctx context.Context, orgID uint64, f AuditFilter) ([]models.AccessEvent, error) {
	q := s.with(ctx).Where("organization_id = ?", orgID)
	if f.ActorID != 0 {
		q = q.Where("account_id = ?", f.ActorID)
	}
	if f.Action != "" {
		q = q.Where("action = ?", f.Action)
	}
	if !f.From.IsZero() {
		q = q.Where("created_at >= ?", f.From)
	}
	if !f.To.IsZero() {
		q = q.Where("created_at < ?", f.To)
	}
	if f.BeforeID != 0 {
		q = q.Where("id < ?", f.BeforeID)
	}
	var list []models.AccessEvent
	err := q.Order("id DESC").Limit(f.Limit).Find(&list).Error
	return list, err
}

// DeploymentEvents lists the deployment's own audit events (organization
// 0) with one of the actions, newest first, at most limit: retention
// sweeps, key rotations. They name tables, counts and key versions, never
// an organization's data.
func (s *Store) DeploymentEvents(ctx context.Context, actions []string, limit int) ([]models.AuditEvent, error) {
	var list []models.AuditEvent
	err := s.with(ctx).Where("organization_id = 0 AND action IN ?", actions).Order("id DESC").Limit(limit).Find(&list).Error
	return list, err
}

// RecordTestResult records one test's outcome at runAt: a pass also moves
// its last passing time; a failure or skip keeps the last pass as it was.
// One statement, so concurrent recorders never lose a pass.
func (s *Store) RecordTestResult(ctx context.Context, name, result, revision string, runAt time.Time) error {
	runAt = runAt.UTC()
	row := models.TestResult{Name: name, LastResult: result, LastRunAt: runAt}
	cols := []string{"last_result", "last_run_at"}
	if result == "pass" {
		row.LastPassedAt, row.Revision = &runAt, revision
		cols = append(cols, "last_passed_at", "revision")
	}
	return s.with(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "name"}},
		DoUpdates: clause.AssignmentColumns(cols),
	}).Create(&row).Error
}

// TestResults maps each recorded test's name to its latest result.
func (s *Store) TestResults(ctx context.Context) (map[string]models.TestResult, error) {
	var list []models.TestResult
	if err := s.with(ctx).Find(&list).Error; err != nil {
		return nil, err
	}
	out := make(map[string]models.TestResult, len(list))
	for _, r := range list {
		out[r.Name] = r
	}
	return out, nil
}
