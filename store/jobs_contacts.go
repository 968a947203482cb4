package store

import (
	"context"

	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
)

// ContactsWithEmailPage lists up to limit of the organization's contacts
// that gave an email address, with an ID above after, by ID.
func (s *Store) ContactsWithEmailPage(ctx context.Context, orgID, after uint64, limit int) ([]models.Contact, error) {
	var out []models.Contact
	err := s.with(ctx).Where("organization_id = ? AND email_index <> '' AND id > ?", orgID, after).
		Order("id").Limit(limit).Find(&out).Error
	return out, err
}

// SubjectContextForContact is what the egress gate must know of one of the
// organization's contacts (restriction, objections, consents); ErrNotFound
// when the contact is not the organization's. The preferences are kept by
// contact, so the contact's organization is checked first.
func (s *Store) SubjectContextForContact(ctx context.Context, orgID, contactID uint64) (policies.SubjectContext, error) {
	if err := s.contactOf(ctx, orgID, contactID); err != nil {
		return policies.SubjectContext{}, err
	}
	return models.SubjectContextForContact(ctx, s.db, contactID)
}

// FlaggedUnder16 reports whether one of the organization's contacts is
// flagged as a child under 16; ErrNotFound when the contact is not the
// organization's.
func (s *Store) FlaggedUnder16(ctx context.Context, orgID, contactID uint64) (bool, error) {
	if err := s.contactOf(ctx, orgID, contactID); err != nil {
		return false, err
	}
	return models.FlaggedUnder16(ctx, s.db, contactID)
}

// RecordSubjectPreference adds a preference row (a restriction, objection,
// consent or the under-16 flag); its OrganizationID says whose it is.
func (s *Store) RecordSubjectPreference(ctx context.Context, p models.SubjectPreference) error {
	return models.RecordPreference(s.with(ctx), p)
}

// contactOf is ErrNotFound unless the contact is the organization's.
func (s *Store) contactOf(ctx context.Context, orgID, contactID uint64) error {
	var n int64
	if err := s.with(ctx).Model(&models.Contact{}).Where("id = ? AND organization_id = ?", contactID, orgID).Count(&n).Error; err != nil {
		return err
	}
	return found(n, nil)
}
