package store

import (
	"context"
	"time"

	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
)

// Contact loads one of the organization's contacts, or ErrNotFound.
func (s *Store) Contact(ctx context.Context, orgID, id uint64) (*models.Contact, error) {
	return one[models.Contact](s.with(ctx).Where("id = ? AND organization_id = ?", id, orgID))
}

// CreateContact writes a new contact (its data key is made with it); its
// OrganizationID says whose it is.
//
// A contact.created webhook event is written with it (and
// contact.identified when it arrives with an external ID).
func (s *Store) CreateContact(ctx context.Context, ct *models.Contact) error {
	return s.Tx(ctx, func(tx *Store) error {
		if err := contactWriteError(tx.with(ctx).Create(ct).Error); err != nil {
			return err
		}
		if err := tx.emitWebhookEvent(ctx, ct.OrganizationID, models.WebhookEvent{Type: models.WebhookContactCreated, ContactID: ct.ID}); err != nil {
			return err
		}
		if ct.ExternalID == "" {
			return nil
		}
		return tx.emitWebhookEvent(ctx, ct.OrganizationID, models.WebhookEvent{Type: models.WebhookContactIdentified, ContactID: ct.ID})
	})
}

// SaveContactFields writes the named columns of one of the organization's
// contacts from ct (the blind indexes follow the sealed fields they
// index).
//
// Writing its name, email, phone or external ID writes a contact.updated
// (contact.identified) webhook event with it.
func (s *Store) SaveContactFields(ctx context.Context, orgID uint64, ct *models.Contact, columns ...string) error {
	typ := contactChangeEvent(columns)
	if typ == "" {
		return contactWriteError(s.with(ctx).Where("organization_id = ?", orgID).Select(columns).Save(ct).Error)
	}
	return s.Tx(ctx, func(tx *Store) error {
		if err := contactWriteError(tx.with(ctx).Where("organization_id = ?", orgID).Select(columns).Save(ct).Error); err != nil {
			return err
		}
		return tx.emitWebhookEvent(ctx, orgID, models.WebhookEvent{Type: typ, ContactID: ct.ID})
	})
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
// organization) in the Store's transaction: see models.MergeContacts. The
// organization's webhooks hear that from is gone (IDs only), in the same
// transaction.
func (s *Store) MergeContacts(ctx context.Context, from, into *models.Contact, moveBlob models.BlobMover) (*models.MergeResult, error) {
	res, err := models.MergeContacts(ctx, s.db, s.keys, from, into, moveBlob)
	if err != nil {
		return res, err
	}
	return res, s.emitWebhookEvent(ctx, from.OrganizationID, models.WebhookEvent{Type: models.WebhookContactDeleted, DeletedContactID: from.ID})
}

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
	sc, err := subjectContext(ctx, s.db, models.SubjectEndUser, "contact_id", contactID)
	if err != nil {
		return sc, err
	}
	// Where the contact is, when known (GeoIP), is the origin of a transfer
	// (policy §7).
	var ct models.Contact
	if err := s.with(ctx).Select("id", "data_key_id", "country").Where("id = ? AND organization_id = ?", contactID, orgID).Take(&ct).Error; err != nil {
		return sc, err
	}
	sc.Country = ct.Country
	return sc, nil
}

// FlaggedUnder16 reports whether one of the organization's contacts is
// flagged as a child under 16; ErrNotFound when the contact is not the
// organization's.
func (s *Store) FlaggedUnder16(ctx context.Context, orgID, contactID uint64) (bool, error) {
	if err := s.contactOf(ctx, orgID, contactID); err != nil {
		return false, err
	}
	return flaggedUnder16(ctx, s.db, contactID)
}

// RecordSubjectPreference adds a preference row (a restriction, objection,
// consent or the under-16 flag); its OrganizationID says whose it is.
func (s *Store) RecordSubjectPreference(ctx context.Context, p models.SubjectPreference) error {
	return recordPreference(s.with(ctx), p)
}

// contactOf is ErrNotFound unless the contact is the organization's.
func (s *Store) contactOf(ctx context.Context, orgID, contactID uint64) error {
	var n int64
	if err := s.with(ctx).Model(&models.Contact{}).Where("id = ? AND organization_id = ?", contactID, orgID).Count(&n).Error; err != nil {
		return err
	}
	return found(n, nil)
}
