package store

import (
	"context"
	"time"

	"github.com/convot/convot/models"
)

// Contact loads one of the organization's contacts, or ErrNotFound.
func (s *Store) Contact(ctx context.Context, orgID, id uint64) (*models.Contact, error) {
	return one[models.Contact](s.with(ctx).Where("id = ? AND organization_id = ?", id, orgID))
}

// CreateContact writes a new contact (its data key is made with it); its
// OrganizationID says whose it is.
func (s *Store) CreateContact(ctx context.Context, ct *models.Contact) error {
	return s.with(ctx).Create(ct).Error
}

// SaveContactFields writes the named columns of one of the organization's
// contacts from ct (the blind indexes follow the sealed fields they
// index).
func (s *Store) SaveContactFields(ctx context.Context, orgID uint64, ct *models.Contact, columns ...string) error {
	return s.with(ctx).Where("organization_id = ?", orgID).Select(columns).Save(ct).Error
}

// TouchContact records when one of the organization's contacts was last
// seen.
func (s *Store) TouchContact(ctx context.Context, orgID, id uint64, at time.Time) error {
	return s.with(ctx).Model(&models.Contact{}).Where("id = ? AND organization_id = ?", id, orgID).Update("last_seen_at", at).Error
}

// ContactByExternalID finds the organization's oldest contact other than
// except with the external user ID, or ErrNotFound.
func (s *Store) ContactByExternalID(ctx context.Context, orgID uint64, externalID string, except uint64) (*models.Contact, error) {
	return one[models.Contact](s.with(ctx).Where("organization_id = ? AND external_id_index = ? AND id <> ?", orgID, s.keys.BlindIndex(externalID), except).
		Order("id"))
}

// ContactByEmail finds the organization's oldest contact other than except
// with the email address (only among those without an external ID when
// withoutExternalID is set), or ErrNotFound.
func (s *Store) ContactByEmail(ctx context.Context, orgID uint64, email string, except uint64, withoutExternalID bool) (*models.Contact, error) {
	q := s.with(ctx).Where("organization_id = ? AND email_index = ? AND id <> ?", orgID, s.keys.BlindIndex(email), except)
	if withoutExternalID {
		q = q.Where("external_id_index = ?", "")
	}
	return one[models.Contact](q.Order("id"))
}

// ContactLabels loads what names the organization's contacts of ids in a
// list (name and email); unknown IDs are left out.
func (s *Store) ContactLabels(ctx context.Context, orgID uint64, ids []uint64) ([]models.Contact, error) {
	var cts []models.Contact
	err := s.with(ctx).Select("id", "data_key_id", "name", "email").
		Where("organization_id = ? AND id IN ?", orgID, ids).Find(&cts).Error
	return cts, err
}

// contactListColumns are what the contact list shows.
var contactListColumns = []string{"id", "data_key_id", "name", "email", "last_seen_at", "created_at"}

// ContactList loads a page of the organization's contacts, newest first.
func (s *Store) ContactList(ctx context.Context, orgID uint64, offset, limit int) ([]models.Contact, error) {
	var cts []models.Contact
	err := s.with(ctx).Select(contactListColumns).Where("organization_id = ?", orgID).Order("id DESC").
		Offset(offset).Limit(limit).Find(&cts).Error
	return cts, err
}

// ContactsWithEmail loads a page of the organization's contacts with the
// email address (through its blind index: exact, case ignored), newest
// first.
func (s *Store) ContactsWithEmail(ctx context.Context, orgID uint64, email string, offset, limit int) ([]models.Contact, error) {
	var cts []models.Contact
	err := s.with(ctx).Select(contactListColumns).Where("organization_id = ? AND email_index = ?", orgID, s.keys.BlindIndex(email)).
		Order("id DESC").Offset(offset).Limit(limit).Find(&cts).Error
	return cts, err
}

// ContactBatch loads up to limit of the organization's contacts older than
// beforeID (0: from the newest), newest first: a text search decrypts them
// batch by batch.
func (s *Store) ContactBatch(ctx context.Context, orgID, beforeID uint64, limit int) ([]models.Contact, error) {
	q := s.with(ctx).Select(contactListColumns).Where("organization_id = ?", orgID)
	if beforeID != 0 {
		q = q.Where("id < ?", beforeID)
	}
	var cts []models.Contact
	err := q.Order("id DESC").Limit(limit).Find(&cts).Error
	return cts, err
}

// MergeContacts moves the contact from into the contact into (same
// organization) in the Store's transaction: see models.MergeContacts.
func (s *Store) MergeContacts(ctx context.Context, from, into *models.Contact, moveBlob models.BlobMover) (*models.MergeResult, error) {
	return models.MergeContacts(ctx, s.db, s.keys, from, into, moveBlob)
}
