package store

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/convot/convot/models"
)

// Convot's own staff (models.StaffMember). No method here is an
// organization's: staff act for the deployment.

// ErrAlreadyStaff is returned when the account is a staff member already.
var ErrAlreadyStaff = errors.New("store: the account is a staff member already")

// AddStaffMember makes the account a staff member. The unique index on
// account_id decides a race between two adds: one wins, the other is
// ErrAlreadyStaff.
func (s *Store) AddStaffMember(ctx context.Context, accountID uint64, at time.Time) (*models.StaffMember, error) {
	m := &models.StaffMember{AccountID: accountID, CreatedAt: at}
	err := s.with(ctx).Create(m).Error
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return nil, ErrAlreadyStaff
	}
	return m, err
}

// RemoveStaffMember ends the account's staff membership; false when it had
// none.
func (s *Store) RemoveStaffMember(ctx context.Context, accountID uint64) (bool, error) {
	res := s.with(ctx).Where("account_id = ?", accountID).Delete(&models.StaffMember{})
	return res.RowsAffected > 0, res.Error
}

// ActiveStaffMember loads the staff membership of an active account, or
// ErrNotFound: a disabled account is no longer staff.
func (s *Store) ActiveStaffMember(ctx context.Context, accountID uint64) (*models.StaffMember, error) {
	return one[models.StaffMember](s.with(ctx).Where("account_id = ? AND account_id IN (SELECT id FROM accounts WHERE status = ?)", accountID, "active"))
}

// StaffAccount is a staff member with the account it is.
type StaffAccount struct {
	Member  models.StaffMember
	Account models.Account
}

// StaffAccounts lists the staff members with their accounts, oldest first.
func (s *Store) StaffAccounts(ctx context.Context) ([]StaffAccount, error) {
	var members []models.StaffMember
	if err := s.with(ctx).Order("id").Find(&members).Error; err != nil {
		return nil, err
	}
	ids := make([]uint64, 0, len(members))
	for _, m := range members {
		ids = append(ids, m.AccountID)
	}
	var accounts []models.Account
	if len(ids) > 0 {
		if err := s.with(ctx).Where("id IN ?", ids).Find(&accounts).Error; err != nil {
			return nil, err
		}
	}
	byID := make(map[uint64]models.Account, len(accounts))
	for _, a := range accounts {
		byID[a.ID] = a
	}
	list := make([]StaffAccount, 0, len(members))
	for _, m := range members {
		list = append(list, StaffAccount{Member: m, Account: byID[m.AccountID]})
	}
	return list, nil
}
