package store

import (
	"context"
	"time"

	"github.com/convot/convot/models"
)

// SessionByTokenHash finds the session whose cookie hashes to hash, or
// ErrNotFound; expiry is the caller's to judge.
func (s *Store) SessionByTokenHash(ctx context.Context, hash string) (*models.Session, error) {
	return one[models.Session](s.with(ctx).Where("token_hash = ?", hash))
}

// CreateSession writes a new session; its OrganizationID says whose.
func (s *Store) CreateSession(ctx context.Context, sess *models.Session) error {
	return s.with(ctx).Create(sess).Error
}

// DeleteSession ends one of the organization's sessions.
func (s *Store) DeleteSession(ctx context.Context, orgID, id uint64) error {
	return s.with(ctx).Where("id = ? AND organization_id = ?", id, orgID).Delete(&models.Session{}).Error
}

// DeleteSessions ends every session of one of the organization's accounts.
func (s *Store) DeleteSessions(ctx context.Context, orgID, accountID uint64) error {
	return s.with(ctx).Where("account_id = ? AND organization_id = ?", accountID, orgID).Delete(&models.Session{}).Error
}

// DeleteOtherSessions ends every session of the account but keep: the
// browser that changed the password stays signed in.
func (s *Store) DeleteOtherSessions(ctx context.Context, orgID, accountID, keep uint64) error {
	return s.with(ctx).Where("account_id = ? AND id <> ? AND organization_id = ?", accountID, keep, orgID).Delete(&models.Session{}).Error
}

// TouchSession records that the session was used at at (idle expiry).
func (s *Store) TouchSession(ctx context.Context, orgID, id uint64, at time.Time) error {
	return s.with(ctx).Model(&models.Session{}).Where("id = ? AND organization_id = ?", id, orgID).Update("last_seen_at", at).Error
}

// CompleteSessionMFA marks the session signed in fully once its second
// factor is accepted.
func (s *Store) CompleteSessionMFA(ctx context.Context, orgID, id uint64) error {
	return s.with(ctx).Model(&models.Session{}).Where("id = ? AND organization_id = ?", id, orgID).Update("mfa_pending", false).Error
}

// SessionAccount loads the active account a session belongs to, or
// ErrNotFound.
func (s *Store) SessionAccount(ctx context.Context, sess *models.Session) (*models.Account, error) {
	return one[models.Account](s.with(ctx).Where("id = ? AND status = ?", sess.AccountID, "active"))
}
