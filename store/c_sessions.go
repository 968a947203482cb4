package store

import (
	"context"

	"github.com/convot/convot/models"
)

// SessionByTokenHash finds the session of a cookie's token hash, or
// ErrNotFound.
func (s *Store) SessionByTokenHash(ctx context.Context, tokenHash string) (*models.Session, error) {
	var sess models.Session
	res := s.with(ctx).Where("token_hash = ?", tokenHash).Limit(1).Find(&sess)
	if err := found(res.RowsAffected, res.Error); err != nil {
		return nil, err
	}
	return &sess, nil
}

// SessionAccount loads the active account a session belongs to, or
// ErrNotFound.
func (s *Store) SessionAccount(ctx context.Context, sess *models.Session) (*models.Account, error) {
	var a models.Account
	res := s.with(ctx).Where("id = ? AND status = ?", sess.AccountID, "active").Limit(1).Find(&a)
	if err := found(res.RowsAffected, res.Error); err != nil {
		return nil, err
	}
	return &a, nil
}
