package store

import (
	"context"

	"github.com/convot/convot/models"
)

// ContactEmailIndex is the email blind index of one of the organization's
// contacts ("" when it has no address), or ErrNotFound; nothing sealed is
// read.
func (s *Store) ContactEmailIndex(ctx context.Context, orgID, id uint64) (string, error) {
	ct, err := one[models.Contact](s.with(ctx).Select("id", "email_index").Where("id = ? AND organization_id = ?", id, orgID))
	if err != nil {
		return "", err
	}
	return ct.EmailIndex, nil
}

// ContactByEmailIndex loads the organization's first contact with this
// email blind index, or ErrNotFound.
func (s *Store) ContactByEmailIndex(ctx context.Context, orgID uint64, emailIndex string) (*models.Contact, error) {
	return one[models.Contact](s.with(ctx).Where("organization_id = ? AND email_index = ?", orgID, emailIndex).Order("id"))
}
