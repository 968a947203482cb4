package store

import (
	"context"
	"errors"
	"time"

	"github.com/convot/convot/models"
	"gorm.io/gorm"
)

// ErrEmailTaken is returned when an account with the email already exists
// (the email's blind index is unique across organizations).
var ErrEmailTaken = errors.New("store: an account has this email")

// ActiveAccountByEmail finds the active account whose email is email, in
// whichever organization: sign-in and password reset start from it.
func (s *Store) ActiveAccountByEmail(ctx context.Context, email string) (*models.Account, error) {
	return one[models.Account](s.with(ctx).Where("email_index = ? AND status = ?", s.keys.BlindIndex(email), "active"))
}

// AccountEmailTaken reports whether any account, of any organization and
// status, has the email: an email signs in to one account only.
func (s *Store) AccountEmailTaken(ctx context.Context, email string) (bool, error) {
	var n int64
	err := s.with(ctx).Model(&models.Account{}).Where("email_index = ?", s.keys.BlindIndex(email)).Count(&n).Error
	return n > 0, err
}

// CreateAccount writes a new account; its OrganizationID says whose. An
// email already in use is ErrEmailTaken.
func (s *Store) CreateAccount(ctx context.Context, a *models.Account) error {
	err := s.with(ctx).Create(a).Error
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return ErrEmailTaken
	}
	return err
}

// LoginAttempt is what AdmitLoginAttempt decided: the attempt's number
// since the last successful sign-in, and the lockout, if any.
type LoginAttempt struct {
	Count       int
	LockedUntil *time.Time
	// Admitted says whether the password may be checked: false while the
	// account is locked.
	Admitted bool
}

// AdmitLoginAttempt counts a sign-in attempt on the account found by its
// email before its password is checked, and locks the account (until
// now+lockFor) when the count reaches limit. Counting and locking are one
// statement, so parallel guesses each count and at most limit of them
// are checked; a lockout that has run out starts the count again. The
// right password then clears the count (ClearFailedLogins).
func (s *Store) AdmitLoginAttempt(ctx context.Context, accountID uint64, now time.Time, limit int, lockFor time.Duration) (LoginAttempt, error) {
	now = now.UTC()
	var row struct {
		FailedLogins int
		LockedUntil  *time.Time
	}
	// Every SET expression reads the row as it was: "expired" and "count"
	// below are the same in both.
	res := s.with(ctx).Raw(`UPDATE accounts SET
		failed_logins = CASE WHEN locked_until IS NOT NULL AND locked_until <= @now THEN 1 ELSE failed_logins + 1 END,
		locked_until = CASE
			WHEN locked_until IS NOT NULL AND locked_until > @now THEN locked_until
			WHEN (CASE WHEN locked_until IS NOT NULL AND locked_until <= @now THEN 1 ELSE failed_logins + 1 END) >= @limit THEN @until
			ELSE NULL END
		WHERE id = @id
		RETURNING failed_logins, locked_until`,
		map[string]any{"now": now, "limit": limit, "until": now.Add(lockFor), "id": accountID}).Scan(&row)
	if res.Error != nil {
		return LoginAttempt{}, res.Error
	}
	if res.RowsAffected == 0 {
		return LoginAttempt{}, ErrNotFound
	}
	// The attempt that reaches the limit locks the account and is still
	// checked; those after it are not.
	return LoginAttempt{Count: row.FailedLogins, LockedUntil: row.LockedUntil, Admitted: row.FailedLogins <= limit}, nil
}

// ClearFailedLogins resets the failed sign-in count and lockout of the
// account found by its email, after a right password.
func (s *Store) ClearFailedLogins(ctx context.Context, accountID uint64) error {
	return s.with(ctx).Model(&models.Account{}).Where("id = ?", accountID).
		Updates(map[string]any{"failed_logins": 0, "locked_until": nil}).Error
}

// ClaimTOTPStep records step as the account's last accepted TOTP step
// unless a later or equal one was: false then. The single conditional
// update makes a code single-use under races. The account is the one the
// caller authenticated (sign-in session or dashboard).
func (s *Store) ClaimTOTPStep(ctx context.Context, accountID uint64, step int64) (bool, error) {
	res := s.with(ctx).Model(&models.Account{}).Where("id = ? AND totp_last_step < ?", accountID, step).Update("totp_last_step", step)
	return res.RowsAffected == 1, res.Error
}

// Account loads one of the organization's accounts, of any status, or
// ErrNotFound.
func (s *Store) Account(ctx context.Context, orgID, id uint64) (*models.Account, error) {
	return one[models.Account](s.with(ctx).Where("id = ? AND organization_id = ?", id, orgID))
}

// ActiveAccount loads one of the organization's active accounts, or
// ErrNotFound (a disabled member is gone).
func (s *Store) ActiveAccount(ctx context.Context, orgID, id uint64) (*models.Account, error) {
	return one[models.Account](s.with(ctx).Where("id = ? AND organization_id = ? AND status = ?", id, orgID, "active"))
}

// ActiveMembers lists the organization's active accounts, oldest first.
func (s *Store) ActiveMembers(ctx context.Context, orgID uint64) ([]models.Account, error) {
	var list []models.Account
	err := s.with(ctx).Where("organization_id = ? AND status = ?", orgID, "active").Order("id").Find(&list).Error
	return list, err
}

// ActiveMemberCount counts the organization's active accounts.
func (s *Store) ActiveMemberCount(ctx context.Context, orgID uint64) (int64, error) {
	var n int64
	err := s.with(ctx).Model(&models.Account{}).Where("organization_id = ? AND status = ?", orgID, "active").Count(&n).Error
	return n, err
}

// SetLastLogin records when the account last signed in fully.
func (s *Store) SetLastLogin(ctx context.Context, orgID, accountID uint64, at time.Time) error {
	return s.with(ctx).Model(&models.Account{}).Where("id = ? AND organization_id = ?", accountID, orgID).Update("last_login_at", at).Error
}

// SaveProfile writes the profile fields of a (name, display name, avatar,
// time zone, language) if it is one of the organization's accounts.
func (s *Store) SaveProfile(ctx context.Context, orgID uint64, a *models.Account) error {
	return s.with(ctx).Where("organization_id = ?", orgID).
		Select("full_name", "display_name", "avatar_url", "time_zone", "language", "updated_at").Save(a).Error
}

// SaveTOTPSecret writes a's pending TOTP secret (sealed under a's key) if a
// is one of the organization's accounts.
func (s *Store) SaveTOTPSecret(ctx context.Context, orgID uint64, a *models.Account) error {
	return s.with(ctx).Where("organization_id = ?", orgID).Select("totp_secret").Save(a).Error
}

// EnableTOTP turns two-factor authentication on for the account, with the
// step of the code that proved enrolment as the last one used.
func (s *Store) EnableTOTP(ctx context.Context, orgID, accountID uint64, step int64) error {
	return s.with(ctx).Model(&models.Account{}).Where("id = ? AND organization_id = ?", accountID, orgID).
		Updates(map[string]any{"totp_enabled": true, "totp_last_step": step}).Error
}

// DisableTOTP turns two-factor authentication off for the account and
// forgets its secret.
func (s *Store) DisableTOTP(ctx context.Context, orgID, accountID uint64) error {
	return s.with(ctx).Model(&models.Account{}).Where("id = ? AND organization_id = ?", accountID, orgID).
		Updates(map[string]any{"totp_enabled": false, "totp_secret": ""}).Error
}

// SetPasswordHash changes the account's password hash.
func (s *Store) SetPasswordHash(ctx context.Context, orgID, accountID uint64, hash string) error {
	return s.with(ctx).Model(&models.Account{}).Where("id = ? AND organization_id = ?", accountID, orgID).Update("password_hash", hash).Error
}

// ResetPassword changes the account's password hash and lifts any lockout,
// as a password reset link does.
func (s *Store) ResetPassword(ctx context.Context, orgID, accountID uint64, hash string) error {
	return s.with(ctx).Model(&models.Account{}).Where("id = ? AND organization_id = ?", accountID, orgID).
		Updates(map[string]any{"password_hash": hash, "failed_logins": 0, "locked_until": nil}).Error
}

// SetRole changes the role of one of the organization's accounts.
func (s *Store) SetRole(ctx context.Context, orgID, accountID uint64, role string) error {
	return s.with(ctx).Model(&models.Account{}).Where("id = ? AND organization_id = ?", accountID, orgID).Update("role", role).Error
}

// DisableAccount removes a member from the organization: the account stays
// (its audit trail names it) but can no longer sign in.
func (s *Store) DisableAccount(ctx context.Context, orgID, accountID uint64) error {
	return s.with(ctx).Model(&models.Account{}).Where("id = ? AND organization_id = ?", accountID, orgID).Update("status", "disabled").Error
}

// Accounts as the conversations surfaces (widget, inbox, plan limits)
// read them.

// OperatorAccount loads one of the organization's accounts (the author of
// a message), or ErrNotFound.
func (s *Store) OperatorAccount(ctx context.Context, orgID, id uint64) (*models.Account, error) {
	return one[models.Account](s.with(ctx).Where("id = ? AND organization_id = ?", id, orgID))
}

// ActiveAccountNames lists the organization's active accounts with their
// names and roles only, in order (who a conversation may be assigned to).
func (s *Store) ActiveAccountNames(ctx context.Context, orgID uint64) ([]models.Account, error) {
	var accounts []models.Account
	err := s.with(ctx).Select("id", "data_key_id", "full_name", "display_name", "role").
		Where("organization_id = ? AND status = ?", orgID, "active").Order("id").Find(&accounts).Error
	return accounts, err
}

// ActiveOwners lists the organization's active owners.
func (s *Store) ActiveOwners(ctx context.Context, orgID uint64) ([]models.Account, error) {
	var owners []models.Account
	err := s.with(ctx).Where("organization_id = ? AND role = ? AND status = ?", orgID, models.RoleOwner, "active").Find(&owners).Error
	return owners, err
}

// OrganizationOfAccountEmail is the organization of the account with this
// email blind index (a Customer asking Convot about their own data), or
// ErrNotFound.
func (s *Store) OrganizationOfAccountEmail(ctx context.Context, emailIndex string) (uint64, error) {
	a, err := one[models.Account](s.with(ctx).Select("id", "organization_id").Where("email_index = ?", emailIndex))
	if err != nil {
		return 0, err
	}
	return a.OrganizationID, nil
}

// CountAccountsWithEmailIndex counts the accounts, in any organization,
// with this email blind index.
func (s *Store) CountAccountsWithEmailIndex(ctx context.Context, emailIndex string) (int64, error) {
	var n int64
	err := s.with(ctx).Model(&models.Account{}).Where("email_index = ?", emailIndex).Count(&n).Error
	return n, err
}

// accountIn is ErrNotFound unless the account is the organization's: the
// models functions it guards look an account up by its ID alone.
func (s *Store) accountIn(ctx context.Context, orgID, accountID uint64) error {
	var n int64
	if err := s.with(ctx).Model(&models.Account{}).Where("id = ? AND organization_id = ?", accountID, orgID).Count(&n).Error; err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// ActiveAccountsInRoles lists the organization's active accounts with one
// of the roles, by ID: who is told of a cancellation, a breach or a
// privacy request.
func (s *Store) ActiveAccountsInRoles(ctx context.Context, orgID uint64, roles ...string) ([]models.Account, error) {
	var out []models.Account
	err := s.with(ctx).Where("organization_id = ? AND role IN ? AND status = ?", orgID, roles, "active").
		Order("id").Find(&out).Error
	return out, err
}

// ActiveAccountsPage lists up to limit of the organization's active
// accounts with an ID above after, by ID.
func (s *Store) ActiveAccountsPage(ctx context.Context, orgID, after uint64, limit int) ([]models.Account, error) {
	var out []models.Account
	err := s.with(ctx).Where("organization_id = ? AND status = ? AND id > ?", orgID, "active", after).
		Order("id").Limit(limit).Find(&out).Error
	return out, err
}

// EveryActiveAccountPage lists up to limit active accounts of every
// organization with an ID above after, by ID: a deployment-wide notice
// walks them all.
func (s *Store) EveryActiveAccountPage(ctx context.Context, after uint64, limit int) ([]models.Account, error) {
	var out []models.Account
	err := s.with(ctx).Where("status = ? AND id > ?", "active", after).Order("id").Limit(limit).Find(&out).Error
	return out, err
}

// AccountsByID loads those of the accounts that belong to the
// organization.
func (s *Store) AccountsByID(ctx context.Context, orgID uint64, ids []uint64) ([]models.Account, error) {
	var out []models.Account
	err := s.with(ctx).Where("organization_id = ? AND id IN ?", orgID, ids).Find(&out).Error
	return out, err
}

// AnyAccount reports whether the database has an account at all (a fresh
// development database gets a first owner).
func (s *Store) AnyAccount(ctx context.Context) (bool, error) {
	var n int64
	err := s.with(ctx).Model(&models.Account{}).Count(&n).Error
	return n > 0, err
}
