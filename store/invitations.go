package store

import (
	"context"
	"time"

	"github.com/convot/convot/models"
)

// InvitationByTokenHash finds the invitation whose link token hashes to
// hash, used or not, or ErrNotFound.
func (s *Store) InvitationByTokenHash(ctx context.Context, hash string) (*models.Invitation, error) {
	return one[models.Invitation](s.with(ctx).Where("token_hash = ?", hash))
}

// PendingInvitations lists the organization's invitations neither accepted
// nor expired at now, oldest first.
func (s *Store) PendingInvitations(ctx context.Context, orgID uint64, now time.Time) ([]models.Invitation, error) {
	var list []models.Invitation
	err := s.with(ctx).Where("organization_id = ? AND accepted_at IS NULL AND expires_at > ?", orgID, now.UTC()).Order("id").Find(&list).Error
	return list, err
}

// CreateInvitation writes a new invitation; its OrganizationID says whose.
func (s *Store) CreateInvitation(ctx context.Context, inv *models.Invitation) error {
	return s.with(ctx).Create(inv).Error
}

// ClaimInvitation marks the invitation (found by its link's token) accepted
// at at, unless it already was: false then, so two concurrent acceptances
// cannot both pass.
func (s *Store) ClaimInvitation(ctx context.Context, id uint64, at time.Time) (bool, error) {
	return s.claimOnce(ctx, &models.Invitation{}, id, "accepted_at", at)
}

// ShredInvitationEmail destroys the data key of one of the organization's
// invitations, so every copy of the invitee's email under it (backups
// included) is unreadable, and blanks the email: the account made from
// the invitation has its own copy.
func (s *Store) ShredInvitationEmail(ctx context.Context, orgID, id uint64) error {
	var inv models.Invitation
	res := s.with(ctx).Select("id", "data_key_id").Where("id = ? AND organization_id = ?", id, orgID).Limit(1).Find(&inv)
	if err := found(res.RowsAffected, res.Error); err != nil {
		return err
	}
	if err := s.keys.Destroy(s.with(ctx), inv.DataKeyID); err != nil {
		return err
	}
	return s.with(ctx).Model(&models.Invitation{}).Where("id = ? AND organization_id = ?", id, orgID).Update("email", "").Error
}

// claimOnce sets column to at on the row id of model unless it is set
// already; the single conditional update makes single-use links
// single-use under races.
func (s *Store) claimOnce(ctx context.Context, model any, id uint64, column string, at time.Time) (bool, error) {
	res := s.with(ctx).Model(model).Where("id = ? AND "+column+" IS NULL", id).Update(column, at)
	if res.Error != nil {
		return false, res.Error
	}
	return res.RowsAffected == 1, nil
}
