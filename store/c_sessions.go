package store

import (
	"context"

	"github.com/convot/convot/models"
)

// SessionAccount loads the active account a session belongs to, or
// ErrNotFound.
func (s *Store) SessionAccount(ctx context.Context, sess *models.Session) (*models.Account, error) {
	return one[models.Account](s.with(ctx).Where("id = ? AND status = ?", sess.AccountID, "active"))
}
