package store

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/convot/convot/models"
)

// AcceptDPA records that the organization accepted a version of the Data
// Processing Agreement, once: the unique index on (organization, version)
// decides between two owners accepting at the same moment, and accepted is
// false for the one that came second (or any later acceptance).
func (s *Store) AcceptDPA(ctx context.Context, orgID, accountID uint64, version, textSHA256 string, at time.Time) (accepted bool, err error) {
	row := &models.DPAAcceptance{OrganizationID: orgID, Version: version, TextSHA256: textSHA256, AcceptedByID: accountID, AcceptedAt: at}
	// ON CONFLICT DO NOTHING rather than a failed insert: inside a
	// transaction on PostgreSQL a failed statement aborts the transaction.
	res := s.with(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(row)
	if errors.Is(res.Error, gorm.ErrDuplicatedKey) {
		return false, nil
	}
	return res.Error == nil && res.RowsAffected > 0, res.Error
}

// DPAAcceptances lists the organization's acceptances, newest first.
func (s *Store) DPAAcceptances(ctx context.Context, orgID uint64) ([]models.DPAAcceptance, error) {
	var list []models.DPAAcceptance
	err := s.with(ctx).Where("organization_id = ?", orgID).Order("accepted_at DESC, id DESC").Find(&list).Error
	return list, err
}
