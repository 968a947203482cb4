package store

import (
	"context"

	"github.com/convot/convot/models"
)

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
