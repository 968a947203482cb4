package store

import (
	"context"
	"errors"
	"time"

	"github.com/convot/convot/models"
	"gorm.io/gorm"
)

// The breach workflow's records. An incident is Convot's (it may affect
// several organizations): its workflow names it by ID, and its steps and
// notices hang off it.

// IncidentByID loads an incident, or ErrNotFound.
func (s *Store) IncidentByID(ctx context.Context, incidentID uint64) (*models.Incident, error) {
	return one[models.Incident](s.with(ctx).Where("id = ?", incidentID))
}

// IncidentStepRecorded reports whether the incident's trail has a step
// with the OnceKey.
func (s *Store) IncidentStepRecorded(ctx context.Context, incidentID uint64, onceKey string) (bool, error) {
	var n int64
	err := s.with(ctx).Model(&models.IncidentStep{}).Where("incident_id = ? AND once_key = ?", incidentID, onceKey).Count(&n).Error
	return n > 0, err
}

// AddIncidentStep appends a step to its incident's trail; added is false
// when the unique index refused it (its OnceKey is there already).
func (s *Store) AddIncidentStep(ctx context.Context, step *models.IncidentStep) (added bool, err error) {
	if err := s.with(ctx).Create(step).Error; err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// RecordIncidentProgress moves the incident to status (closed_at = at when
// it closes) and risk; an empty one stays as it is.
func (s *Store) RecordIncidentProgress(ctx context.Context, incidentID uint64, status, risk string, at, now time.Time) error {
	updates := map[string]any{"updated_at": now}
	if status != "" {
		updates["status"] = status
		if status == models.IncidentClosed {
			updates["closed_at"] = at
		}
	}
	if risk != "" {
		updates["risk"] = risk
	}
	return s.with(ctx).Model(&models.Incident{}).Where("id = ?", incidentID).Updates(updates).Error
}

// SaveIncidentNoticeDraft writes the incident's drafted authority notice
// (authority_notice, notice_drafted_at, updated_at).
func (s *Store) SaveIncidentNoticeDraft(ctx context.Context, inc *models.Incident) error {
	return s.with(ctx).Select("authority_notice", "notice_drafted_at", "updated_at").Save(inc).Error
}

// SaveIncidentNoticeSent writes the authority notice as sent
// (notice_sent_at, notice_late, status, authority_notice, updated_at).
func (s *Store) SaveIncidentNoticeSent(ctx context.Context, inc *models.Incident) error {
	return s.with(ctx).Select("notice_sent_at", "notice_late", "status", "authority_notice", "updated_at").Save(inc).Error
}

// RecordIncidentUsersNotified records how many affected people were told
// of the incident, and when.
func (s *Store) RecordIncidentUsersNotified(ctx context.Context, incidentID uint64, n int64, at time.Time) error {
	return s.with(ctx).Model(&models.Incident{}).Where("id = ?", incidentID).Updates(map[string]any{
		"users_notified": n, "users_notified_at": at, "updated_at": at}).Error
}

// ClaimIncidentNotice records that a person is being told of the
// incident; claimed is false when they were told already (unique per
// incident and person).
func (s *Store) ClaimIncidentNotice(ctx context.Context, n *models.IncidentNotice) (claimed bool, err error) {
	if err := s.with(ctx).Create(n).Error; err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// ReleaseIncidentNotice gives a claim back (its mail failed), so a retry
// sends it.
func (s *Store) ReleaseIncidentNotice(ctx context.Context, noticeID uint64) error {
	return s.with(ctx).Delete(&models.IncidentNotice{}, noticeID).Error
}

// IncidentNoticeCount counts the people told of the incident.
func (s *Store) IncidentNoticeCount(ctx context.Context, incidentID uint64) (int64, error) {
	var n int64
	err := s.with(ctx).Model(&models.IncidentNotice{}).Where("incident_id = ?", incidentID).Count(&n).Error
	return n, err
}
