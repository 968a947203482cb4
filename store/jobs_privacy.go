package store

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/convot/convot/models"
)

// The data-subject request workflow's records. A request is named by its
// ID (the workflow's input); the subject it locates carries its
// organization, and the inventory's engine (models/privacy_subject.go)
// works within it.

// ErrDuplicateKey is a unique index refusing a row (gorm's
// ErrDuplicatedKey itself), for callers that do not import gorm.
var ErrDuplicateKey = gorm.ErrDuplicatedKey

// UpdatePrivacyRequestByID writes the workflow's columns of a request
// (status, step, deadline, subject, result, evidence, ...).
func (s *Store) UpdatePrivacyRequestByID(ctx context.Context, requestID uint64, updates map[string]any) error {
	return s.with(ctx).Model(&models.PrivacyRequest{}).Where("id = ?", requestID).Updates(updates).Error
}

// SavePrivacyScanTargets writes what the erasure scanner will look for
// (the request's ScanTerms and ScanBlobKeys, sealed under its own key).
func (s *Store) SavePrivacyScanTargets(ctx context.Context, r *models.PrivacyRequest) error {
	return s.with(ctx).Model(r).Select("scan_terms", "scan_blob_keys").Updates(r).Error
}

// ClearPrivacyRequest drops what a request no longer needs once answered:
// its code and the scanner's terms, and with shred the requester's address
// and the corrections asked for. Its other columns stay as the evidence.
func (s *Store) ClearPrivacyRequest(ctx context.Context, requestID uint64, shred bool) error {
	updates := map[string]any{"code_hash": "", "scan_terms": ""}
	if shred {
		updates["requester_email"] = ""
		updates["changes"] = ""
	}
	return s.with(ctx).Model(&models.PrivacyRequest{}).Where("id = ?", requestID).UpdateColumns(updates).Error
}

// DestroyDataKey erases a data key: everything sealed under it, in the
// database and in every backup, can no longer be read.
func (s *Store) DestroyDataKey(ctx context.Context, keyID uint64) error {
	return s.keys.Destroy(s.with(ctx), keyID)
}

// LocateEndUser finds the End User behind a request to the organization:
// the contact given and every contact of the organization with the same
// email (an email alone when no contact is given).
func (s *Store) LocateEndUser(ctx context.Context, orgID, contactID uint64, emailIndex string) (*models.Subject, error) {
	return models.LocateEndUser(ctx, s.db, orgID, contactID, emailIndex)
}

// LocateCustomer finds a Customer's operator by account or by the blind
// index of their email, in whichever organization they are.
func (s *Store) LocateCustomer(ctx context.Context, accountID uint64, emailIndex string) (*models.Subject, error) {
	return models.LocateCustomer(ctx, s.db, accountID, emailIndex)
}

// PreferenceRecorded reports whether the request already recorded the
// preference p (its kind and value) for p's contact, or its account when
// AccountID is set: a retried activity records each once.
func (s *Store) PreferenceRecorded(ctx context.Context, p models.SubjectPreference) (bool, error) {
	column, id := "contact_id", p.ContactID
	if p.AccountID != 0 {
		column, id = "account_id", p.AccountID
	}
	var n int64
	err := s.with(ctx).Model(&models.SubjectPreference{}).Where(column+" = ? AND request_id = ? AND kind = ? AND value = ?", id, p.RequestID, p.Kind, p.Value).
		Count(&n).Error
	return n > 0, err
}

// PlanErasure lists what erasing the subject will delete outside the
// database (files, Stripe customers), what the scanner must look for, and
// the conversations to announce.
func (s *Store) PlanErasure(ctx context.Context, subject *models.Subject) (*models.ErasurePlan, error) {
	return models.PlanErasure(ctx, s.db, subject)
}

// EraseSubject erases every row the inventory locates for the subject
// (billing records kept by law) and destroys their data keys.
func (s *Store) EraseSubject(ctx context.Context, subject *models.Subject) (*models.ErasureResult, error) {
	return models.EraseSubject(ctx, s.db, s.keys, subject)
}

// ScanErasure looks for anything of the subject left after an erasure.
func (s *Store) ScanErasure(ctx context.Context, subject *models.Subject, terms []string) (*models.ScanReport, error) {
	return models.ScanErasure(ctx, s.db, s.keys, subject, terms)
}

// Rectify applies corrected values to the subject's own rows and returns
// the columns changed; a correction a unique index refuses is
// ErrDuplicateKey.
func (s *Store) Rectify(ctx context.Context, subject *models.Subject, changes map[string]string) ([]string, error) {
	return models.Rectify(ctx, s.db, subject, changes)
}

// CollectSubjectData reads every row of the subject, decrypted, table by
// table into fn, and returns their files.
func (s *Store) CollectSubjectData(ctx context.Context, subject *models.Subject, fn func(*models.ExportTable) error) ([]models.SubjectBlob, error) {
	return models.CollectSubjectData(ctx, s.db, s.keys, subject, fn)
}

// CreatePrivacyExport records an export; its OrganizationID says whose it
// is.
func (s *Store) CreatePrivacyExport(ctx context.Context, e *models.PrivacyExport) error {
	return s.with(ctx).Create(e).Error
}

// PrivacyExportsOfRequest lists the request's exports but except (0: all).
func (s *Store) PrivacyExportsOfRequest(ctx context.Context, requestID, except uint64) ([]models.PrivacyExport, error) {
	var list []models.PrivacyExport
	err := s.with(ctx).Where("request_id = ? AND id <> ?", requestID, except).Find(&list).Error
	return list, err
}

// NewestPrivacyExport loads the request's latest export, or ErrNotFound.
func (s *Store) NewestPrivacyExport(ctx context.Context, requestID uint64) (*models.PrivacyExport, error) {
	return one[models.PrivacyExport](s.with(ctx).Where("request_id = ?", requestID).Order("id DESC"))
}

// ReissuePrivacyExportToken gives an unused export a new single-use token
// hash and expiry; an earlier token stops working.
func (s *Store) ReissuePrivacyExportToken(ctx context.Context, exportID uint64, tokenHash string, expiresAt time.Time) error {
	return s.with(ctx).Model(&models.PrivacyExport{}).Where("id = ? AND used_at IS NULL", exportID).
		Updates(map[string]any{"token_hash": tokenHash, "expires_at": expiresAt}).Error
}

// DeletePrivacyExport deletes an export's row (its file goes first).
func (s *Store) DeletePrivacyExport(ctx context.Context, exportID uint64) error {
	return s.with(ctx).Delete(&models.PrivacyExport{}, exportID).Error
}
