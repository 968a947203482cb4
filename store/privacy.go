package store

import (
	"context"
	"time"

	"github.com/convot/convot/internal/obligations"
	"github.com/convot/convot/models"
	"gorm.io/gorm"
)

// Data-subject requests. The requester's own steps (verifying the code,
// asking for another, downloading the answer) know the request by its ID
// and the mailed code, or the export by its link's token, and are not
// organization-scoped: the requester is no member of any organization. The
// privacy officer's pages are.

// closedDsrStatuses are the statuses of a request that is no longer handled.
var closedDsrStatuses = []string{obligations.DsrCompleted, obligations.DsrRejected, obligations.DsrExpired}

// LockPrivacyIntake serialises intakes of one subject and type (key) until
// the transaction ends, on PostgreSQL; SQLite runs one writing transaction
// at a time and needs no lock.
func (s *Store) LockPrivacyIntake(ctx context.Context, key int64) error {
	if !s.Postgres() {
		return nil
	}
	return s.with(ctx).Exec("SELECT pg_advisory_xact_lock(?)", key).Error
}

// OpenDuplicatePrivacyRequest finds an open request of the same type (and
// ground) as r for the same subject (r's subject ID or email index), or
// ErrNotFound. An End User's request is looked for in r's organization;
// a Customer's (Convot is the controller) among Convot's.
func (s *Store) OpenDuplicatePrivacyRequest(ctx context.Context, r *models.PrivacyRequest) (*models.PrivacyRequest, error) {
	q := s.with(ctx).Where("subject_kind = ? AND type = ? AND ground = ? AND status NOT IN ?", r.SubjectKind, r.Type, r.Ground,
		closedDsrStatuses)
	if r.SubjectKind == models.SubjectEndUser {
		q = q.Where("organization_id = ?", r.OrganizationID)
	}
	switch {
	case r.SubjectID != 0 && r.EmailIndex != "":
		q = q.Where("subject_id = ? OR email_index = ?", r.SubjectID, r.EmailIndex)
	case r.SubjectID != 0:
		q = q.Where("subject_id = ?", r.SubjectID)
	case r.EmailIndex != "":
		q = q.Where("email_index = ?", r.EmailIndex)
	default:
		return nil, ErrNotFound
	}
	return one[models.PrivacyRequest](q.Order("id"))
}

// CreatePrivacyRequest writes a new request; its OrganizationID and
// Controller say whose it is.
func (s *Store) CreatePrivacyRequest(ctx context.Context, r *models.PrivacyRequest) error {
	return s.with(ctx).Create(r).Error
}

// SetPrivacyRequestCodeHash writes r.CodeHash onto the request just created
// (the hash binds the code to the request's ID, known after the insert).
func (s *Store) SetPrivacyRequestCodeHash(ctx context.Context, r *models.PrivacyRequest) error {
	return s.with(ctx).Model(r).Update("code_hash", r.CodeHash).Error
}

// DeletePrivacyRequest deletes one of the organization's requests (one
// whose workflow could not be started).
func (s *Store) DeletePrivacyRequest(ctx context.Context, orgID, id uint64) error {
	return s.with(ctx).Where("organization_id = ?", orgID).Delete(&models.PrivacyRequest{}, id).Error
}

// PrivacyRequestByID loads a request for its requester's own steps, or
// ErrNotFound: the ID is what the verification page knows, the mailed code
// is the credential.
func (s *Store) PrivacyRequestByID(ctx context.Context, id uint64) (*models.PrivacyRequest, error) {
	return one[models.PrivacyRequest](s.with(ctx).Where("id = ?", id))
}

// CountWrongDsrCode counts a wrong code against the request's attempts.
func (s *Store) CountWrongDsrCode(ctx context.Context, id uint64) error {
	return s.with(ctx).Model(&models.PrivacyRequest{}).Where("id = ?", id).Update("code_attempts", gorm.Expr("code_attempts + 1")).Error
}

// ClaimDsrCode marks the request verified by its code, whose hash is
// cleared; false when it was verified meanwhile or the code replaced. The
// one conditional update makes the code single-use under races.
func (s *Store) ClaimDsrCode(ctx context.Context, id uint64, codeHash string, at time.Time) (bool, error) {
	res := s.with(ctx).Model(&models.PrivacyRequest{}).Where("id = ? AND verified_at IS NULL AND code_hash = ?", id, codeHash).
		Updates(map[string]any{"verified_at": at, "verification_method": models.VerifiedByCode, "code_hash": ""})
	return res.RowsAffected == 1, res.Error
}

// UnclaimDsrCode undoes ClaimDsrCode, so that the same code confirms the
// request once its workflow can be told.
func (s *Store) UnclaimDsrCode(ctx context.Context, id uint64, codeHash string) error {
	return s.with(ctx).Model(&models.PrivacyRequest{}).Where("id = ?", id).
		Updates(map[string]any{"verified_at": nil, "verification_method": "", "code_hash": codeHash}).Error
}

// ReissueDsrCode replaces the request's code (hash and expiry, attempts
// reset) if it is still unverified and codesSent codes were sent so far;
// false when another resend came first.
func (s *Store) ReissueDsrCode(ctx context.Context, id uint64, codesSent int, codeHash string, expires time.Time) (bool, error) {
	res := s.with(ctx).Model(&models.PrivacyRequest{}).Where("id = ? AND verified_at IS NULL AND codes_sent = ?", id, codesSent).
		Updates(map[string]any{"code_hash": codeHash, "code_expires_at": expires, "code_attempts": 0, "codes_sent": codesSent + 1})
	return res.RowsAffected == 1, res.Error
}

// PrivacyRequestSubjectKind is the subject kind of the request an export
// answers, or ErrNotFound.
func (s *Store) PrivacyRequestSubjectKind(ctx context.Context, requestID uint64) (string, error) {
	r, err := one[models.PrivacyRequest](s.with(ctx).Select("id", "subject_kind", "organization_id").Where("id = ?", requestID))
	if err != nil {
		return "", err
	}
	return r.SubjectKind, nil
}

// PrivacyExportByTokenHash loads the export a download link names, or
// ErrNotFound.
func (s *Store) PrivacyExportByTokenHash(ctx context.Context, tokenHash string) (*models.PrivacyExport, error) {
	return one[models.PrivacyExport](s.with(ctx).Where("token_hash = ?", tokenHash))
}

// ClaimPrivacyExport marks an export downloaded unless it was already, or
// has expired by at; false then. The one conditional update makes a link
// work once under races.
func (s *Store) ClaimPrivacyExport(ctx context.Context, id uint64, at time.Time) (bool, error) {
	res := s.with(ctx).Model(&models.PrivacyExport{}).Where("id = ? AND used_at IS NULL AND expires_at > ?", id, at).Update("used_at", at)
	return res.RowsAffected == 1, res.Error
}

// PrivacyRequestFilter narrows the officer's list of requests.
type PrivacyRequestFilter struct {
	Open      bool      // not completed, rejected or expired
	Status    string    // this status only ("" any)
	Type      string    // this type only ("" any)
	DueBefore time.Time // open and due before this (zero: any deadline)
}

// PrivacyRequests lists the organization's requests as controller (its End
// Users'), by deadline, at most 500.
func (s *Store) PrivacyRequests(ctx context.Context, orgID uint64, f PrivacyRequestFilter) ([]models.PrivacyRequest, error) {
	q := s.with(ctx).Where("organization_id = ? AND controller = ?", orgID, models.ControllerOrganization)
	switch {
	case f.Open:
		q = q.Where("status NOT IN ?", closedDsrStatuses)
	case f.Status != "":
		q = q.Where("status = ?", f.Status)
	}
	if f.Type != "" {
		q = q.Where("type = ?", f.Type)
	}
	if !f.DueBefore.IsZero() {
		q = q.Where("deadline < ? AND status NOT IN ?", f.DueBefore, closedDsrStatuses)
	}
	var rs []models.PrivacyRequest
	err := q.Order("deadline, id").Limit(500).Find(&rs).Error
	return rs, err
}

// OrganizationPrivacyRequest loads one of the organization's requests as
// controller, or ErrNotFound (another organization's, or Convot's own).
func (s *Store) OrganizationPrivacyRequest(ctx context.Context, orgID, id uint64) (*models.PrivacyRequest, error) {
	var r models.PrivacyRequest
	res := s.with(ctx).Where("id = ? AND organization_id = ? AND controller = ?", id, orgID, models.ControllerOrganization).
		Limit(1).Find(&r)
	if err := found(res.RowsAffected, res.Error); err != nil {
		return nil, err
	}
	return &r, nil
}

// PrivacyExports lists the exports of one of the organization's requests,
// oldest first.
func (s *Store) PrivacyExports(ctx context.Context, orgID, requestID uint64) ([]models.PrivacyExport, error) {
	var list []models.PrivacyExport
	err := s.with(ctx).Where("request_id = ? AND organization_id = ?", requestID, orgID).Order("id").Find(&list).Error
	return list, err
}

// LatestPrivacyExport loads the newest export of one of the organization's
// requests, or ErrNotFound.
func (s *Store) LatestPrivacyExport(ctx context.Context, orgID, requestID uint64) (*models.PrivacyExport, error) {
	return one[models.PrivacyExport](s.with(ctx).Where("request_id = ? AND organization_id = ?", requestID, orgID).Order("id DESC"))
}

// PrivacyRequestsOfContact lists the latest 20 requests about one of the
// organization's contacts, newest first.
func (s *Store) PrivacyRequestsOfContact(ctx context.Context, orgID, contactID uint64) ([]models.PrivacyRequest, error) {
	var list []models.PrivacyRequest
	err := s.with(ctx).Where("organization_id = ? AND subject_id = ? AND subject_kind = ?", orgID, contactID, models.SubjectEndUser).
		Order("id DESC").Limit(20).Find(&list).Error
	return list, err
}

// PrivacyMailTaken reports whether a mail to the privacy address (its
// sourceRef) already became a request to the organization.
func (s *Store) PrivacyMailTaken(ctx context.Context, orgID uint64, sourceRef string) (bool, error) {
	var n int64
	err := s.with(ctx).Model(&models.PrivacyRequest{}).Where("source_ref = ?", sourceRef).
		Where("organization_id = ? AND controller = ?", orgID, models.ControllerOrganization).Count(&n).Error
	return n > 0, err
}

// ConvotPrivacyMailTaken reports whether a mail to the privacy address
// already became a request to Convot (the controller of its Customers'
// data).
func (s *Store) ConvotPrivacyMailTaken(ctx context.Context, sourceRef string) (bool, error) {
	var n int64
	err := s.with(ctx).Model(&models.PrivacyRequest{}).Where("source_ref = ?", sourceRef).
		Where("controller = ?", models.ControllerConvot).Count(&n).Error
	return n > 0, err
}

// OrganizationsWithContactEmail lists the organizations that have a contact
// with this email blind index (where a mail to the privacy address is an
// End User's request).
func (s *Store) OrganizationsWithContactEmail(ctx context.Context, emailIndex string) ([]uint64, error) {
	var orgIDs []uint64
	err := s.with(ctx).Model(&models.Contact{}).Where("email_index = ?", emailIndex).Distinct().Pluck("organization_id", &orgIDs).Error
	return orgIDs, err
}

// RecordPreference adds a subject preference row (a restriction,
// objection, consent or the under-16 flag); its OrganizationID and
// ContactID or AccountID say whose.
func (s *Store) RecordPreference(ctx context.Context, p models.SubjectPreference) error {
	return recordPreference(s.with(ctx), p)
}

// The data-subject request workflow's records. A request is named by its
// ID (the workflow's input); the subject it locates carries its
// organization, and the subject engine (subject*.go) works within it.

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

// OpenPrivacyRequest is an open request's status and deadline, for the
// metrics (counts by status and days left; no organization, no person).
type OpenPrivacyRequest struct {
	Status   string
	Deadline time.Time
}

// OpenPrivacyRequests lists the status and deadline of every open
// request of every organization: an operational count for Convot's own
// metrics, never shown to a tenant.
func (s *Store) OpenPrivacyRequests(ctx context.Context) ([]OpenPrivacyRequest, error) {
	var list []OpenPrivacyRequest
	err := s.with(ctx).Model(&models.PrivacyRequest{}).Select("status", "deadline").
		Where("status NOT IN ?", closedDsrStatuses).Find(&list).Error
	return list, err
}
