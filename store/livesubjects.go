package store

import (
	"context"

	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
)

// SubjectContextForContact is what the egress gate is told of a contact
// (restricted, objections, consents): see models.SubjectContextForContact.
// The contact ID comes from a conversation already loaded in its
// organization.
func (s *Store) SubjectContextForContact(ctx context.Context, contactID uint64) (policies.SubjectContext, error) {
	return models.SubjectContextForContact(ctx, s.db, contactID)
}
