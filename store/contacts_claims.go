package store

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/convot/convot/models"
)

// ErrContactEmailHeld is returned when a contact without an external ID
// would hold an address another such contact of the organization holds
// (the unique index of migration 9): the caller looks the holder up again.
var ErrContactEmailHeld = errors.New("store: another contact holds this email address")

func contactWriteError(err error) error {
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return ErrContactEmailHeld
	}
	return err
}

// RecordContactClaim records that one of the organization's contacts says
// it is another (holder) without proof yet; a code sent for an earlier
// claim of another holder is void, one for the same holder stands (the
// site identifies the visitor again at each page).
func (s *Store) RecordContactClaim(ctx context.Context, orgID, claimantID, holderID uint64) error {
	return s.with(ctx).Model(&models.Contact{}).Where("id = ? AND organization_id = ? AND claimed_contact_id <> ?", claimantID, orgID, holderID).
		Updates(map[string]any{"claimed_contact_id": holderID, "claim_code_hash": "", "claim_code_sent_at": nil,
			"claim_code_expires_at": nil, "claim_code_attempts": 0}).Error
}

// SetContactClaimCode stores the hash of a new code for the claim of one of
// the organization's contacts, good until expires, unless one was sent
// after resendAfter (false then, nothing changed) or there is no claim
// (ErrNotFound). The condition and the write are one statement, so
// parallel requests send one code.
func (s *Store) SetContactClaimCode(ctx context.Context, orgID, claimantID uint64, codeHash string, now, expires, resendAfter time.Time) (bool, error) {
	res := s.with(ctx).Model(&models.Contact{}).
		Where("id = ? AND organization_id = ? AND claimed_contact_id <> 0", claimantID, orgID).
		Where("claim_code_sent_at IS NULL OR claim_code_sent_at <= ?", resendAfter.UTC()).
		Updates(map[string]any{"claim_code_hash": codeHash, "claim_code_sent_at": now.UTC(),
			"claim_code_expires_at": expires.UTC(), "claim_code_attempts": 0})
	if res.Error != nil || res.RowsAffected == 1 {
		return res.RowsAffected == 1, res.Error
	}
	if _, err := s.ContactClaim(ctx, orgID, claimantID); err != nil {
		return false, err
	}
	return false, nil
}

// ContactClaim is the ID of the contact one of the organization's contacts
// claims to be, or ErrNotFound when it claims none.
func (s *Store) ContactClaim(ctx context.Context, orgID, claimantID uint64) (uint64, error) {
	ct, err := one[models.Contact](s.with(ctx).Select("id", "claimed_contact_id").
		Where("id = ? AND organization_id = ? AND claimed_contact_id <> 0", claimantID, orgID))
	if err != nil {
		return 0, err
	}
	return ct.ClaimedContactID, nil
}

// TakeContactClaimAttempt uses one of the attempts at the code of the claim
// of one of the organization's contacts and returns the code's hash and
// the claimed contact; ok is false when there is no live code (none sent,
// expired, or maxAttempts used). One statement, so parallel guesses each
// use an attempt.
func (s *Store) TakeContactClaimAttempt(ctx context.Context, orgID, claimantID uint64, now time.Time, maxAttempts int) (codeHash string, holderID uint64, ok bool, err error) {
	var rows []struct {
		ClaimCodeHash    string
		ClaimedContactID uint64
	}
	err = s.with(ctx).Raw(`UPDATE contacts SET claim_code_attempts = claim_code_attempts + 1
		WHERE id = ? AND organization_id = ? AND claimed_contact_id <> 0 AND claim_code_hash <> ''
			AND claim_code_expires_at > ? AND claim_code_attempts < ?
		RETURNING claim_code_hash, claimed_contact_id`, claimantID, orgID, now.UTC(), maxAttempts).Scan(&rows).Error
	if err != nil || len(rows) == 0 {
		return "", 0, false, err
	}
	return rows[0].ClaimCodeHash, rows[0].ClaimedContactID, true, nil
}

// ContactClaimants lists the organization's contacts that claim to be the
// contact holderID without proof, oldest first.
func (s *Store) ContactClaimants(ctx context.Context, orgID, holderID uint64) ([]models.Contact, error) {
	var cts []models.Contact
	err := s.with(ctx).Select(contactListColumns).Where("organization_id = ? AND claimed_contact_id = ?", orgID, holderID).
		Order("id").Find(&cts).Error
	return cts, err
}
