package models

import (
	"fmt"
	"sort"
	"time"

	"gorm.io/gorm"

	"github.com/convot/convot/internal/obligations"
	"github.com/convot/convot/policies"
)

// Data-subject requests (policy §9). A request is one right exercised by
// one data subject: an End User asking the Customer that deployed the
// widget (the Customer is the controller, §1), or a Customer's operator
// asking Convot (Convot is the controller). Each request runs as one
// workflow, dsr-<id> (workflows/privacy.go); this row is what the
// dashboard lists and what stays as evidence once the request is closed.

// Who a request is addressed to.
const (
	ControllerOrganization = "organization" // an End User's request: the Customer decides, Convot processes
	ControllerConvot       = "convot"       // a Customer's own request: Convot decides
)

// Where a request came from.
const (
	DsrSourceWeb       = "web"        // the public privacy-request page
	DsrSourceAPI       = "api"        // the JSON API
	DsrSourceOperator  = "operator"   // logged by an operator from the contact sidebar
	DsrSourceMail      = "mail"       // a mail to the privacy address
	DsrSourceChildFlag = "child_flag" // an operator flagged the contact as under 16
)

// How a requester's identity was verified.
const (
	VerifiedByCode     = "code"                 // a one-time code mailed to the address
	VerifiedByOperator = "operator_attestation" // an operator attests they verified the requester
)

// PrivacyRequest is one data-subject request.
type PrivacyRequest struct {
	ID             uint64 `gorm:"primaryKey"`
	OrganizationID uint64 `gorm:"index"` // the controller's organization, or the customer's own
	// DataKeyID is the request's own key: it seals what the requester sent
	// and is destroyed when an erasure request completes.
	DataKeyID   uint64
	Controller  string `privacy:"none"` // organization or convot
	SubjectKind string `privacy:"none"` // end_user or customer
	// SubjectID is the contact or account the request is about: the one an
	// operator logged it for, or the first found by email (0 when nothing
	// is held about the address).
	SubjectID uint64 `gorm:"index"`
	// SubjectIDs and SubjectKeyIDs are every contact (or the account) found
	// and their data keys, kept so that the erasure scanner can check what
	// is left after the subject's rows are gone; SubjectOwner: the account
	// owns its organization (its billing contact).
	SubjectIDs    []uint64 `gorm:"serializer:json" privacy:"none"`
	SubjectKeyIDs []uint64 `gorm:"serializer:json" privacy:"none"`
	SubjectOwner  bool
	Type          string `gorm:"index" privacy:"none"`
	// Ground is the objection's ground (legitimate_interests,
	// direct_marketing, automated_decisions) or the consent withdrawn
	// (marketing_email): enumerations, never free text.
	Ground   string `privacy:"none"`
	ForChild bool   // a parent or guardian asks for a child under 16 (policy §12)
	Source   string `privacy:"none"`
	// SourceRef makes a mail a request once: a hash of its Message-ID.
	SourceRef string `gorm:"index" privacy:"none"`
	// RequesterEmail is where codes, notices and download links go: the
	// address the requester gave (an End User's, or a Customer operator's
	// for Convot's own requests; a parent's for a child).
	RequesterEmail string `gorm:"serializer:sealed" privacy:"category=user.contact.email subject=end_user retention=security_log purpose=essential.legal_obligation,essential.service.notifications.email"`
	// EmailIndex is the blind index of the subject's email (the child's
	// for a parent's request): it locates the subject and finds a second
	// open request of the same type.
	EmailIndex string `gorm:"index" privacy:"category=user.contact.email subject=end_user retention=security_log purpose=essential.legal_obligation form=index"`
	// Changes are the corrected values of a rectification, by column of the
	// subject's row.
	Changes map[string]string `gorm:"serializer:sealed" privacy:"category=user.content subject=end_user retention=security_log purpose=essential.legal_obligation"`
	// ScanTerms are the subject's identifiers the erasure scanner searches
	// for, captured before erasure; destroyed with the request's key when
	// the erasure completes.
	ScanTerms []string `gorm:"serializer:sealed" privacy:"category=user.contact subject=end_user retention=session purpose=essential.legal_obligation"`
	// ScanBlobKeys are the random blob names the erasure deleted, which the
	// scanner checks are gone.
	ScanBlobKeys       []string `gorm:"serializer:json" privacy:"none"`
	Status             string   `gorm:"index" privacy:"none"`
	Step               string   `privacy:"none"` // the step running or last run, e.g. erase, scan
	ReceivedAt         time.Time
	Deadline           time.Time `gorm:"index"`
	Extended           bool
	ExtensionReason    string `privacy:"none"` // the officer's reason for the delay (no personal data)
	VerificationMethod string `privacy:"none"`
	VerifiedAt         *time.Time
	// The one-time code: a keyed hash, its expiry, wrong attempts and how
	// many codes were sent.
	CodeHash        string `privacy:"category=user.authorization.credentials subject=end_user retention=session purpose=essential.service.security form=hash"`
	CodeExpiresAt   *time.Time
	CodeAttempts    int
	CodesSent       int
	LoggedByID      uint64 // the operator who logged the request and attested the identity
	DecidedByID     uint64 // the officer who approved or rejected it; 0 from the Temporal UI
	RejectionReason string `privacy:"none"`
	CompletedAt     *time.Time
	// Result summarises the fulfilment (counts, never values); Evidence is
	// the erasure scanner's report, the completion evidence.
	Result    string `privacy:"none"`
	Evidence  string `privacy:"none"`
	CreatedAt time.Time
	UpdatedAt time.Time
}

// BeforeCreate gives the request its own data key.
func (r *PrivacyRequest) BeforeCreate(tx *gorm.DB) error {
	return ensureDataKey(tx, &r.DataKeyID, "privacy_request")
}

// SubjectCondition locates requests a subject made earlier, by the subject
// found for them or by the email they gave; erasure anonymizes them.
func (PrivacyRequest) SubjectCondition(s *Subject) (string, []any) {
	where := "subject_kind = ? AND (subject_id IN ?"
	args := []any{s.Kind, s.InIDs()}
	if len(s.EmailIndexes) > 0 {
		where += " OR email_index IN ?"
		args = append(args, s.EmailIndexes)
	}
	return where + ")", args
}

// AnonymizeOnErasure: a closed request is the controller's evidence that a
// right was answered (GDPR Art. 5(2)); erasure keeps the row without its
// personal fields.
func (PrivacyRequest) AnonymizeOnErasure() {}

// WorkflowID is the request's workflow ID (workflows.PrivacyRequestWorkflowID).
func (r PrivacyRequest) WorkflowID() string { return fmt.Sprintf("dsr-%d", r.ID) }

// Open reports whether the request is still being handled.
func (r PrivacyRequest) Open() bool { return !obligations.DsrClosed(r.Status) }

// PrivacyExport is a file prepared for a request (the access report or the
// portability archive), sealed under the subject's data key in the blob
// store and fetched once through a link that expires.
type PrivacyExport struct {
	ID             uint64 `gorm:"primaryKey"`
	OrganizationID uint64 `gorm:"index"`
	RequestID      uint64 `gorm:"index"`
	// DataKeyID is the subject's (the request's when nothing was found):
	// erasing the subject deletes and shreds its exports.
	DataKeyID   uint64
	Format      string `privacy:"none"` // access_report or portability_archive
	FileName    string `privacy:"none"` // convot-<format>-dsr-<id>.<ext>: no personal data
	ContentType string `privacy:"none"`
	BlobKey     string `privacy:"none"`
	Size        int64
	TokenHash   string `gorm:"uniqueIndex" privacy:"category=user.authorization.credentials subject=end_user retention=session purpose=essential.service.security form=hash"`
	ExpiresAt   time.Time
	UsedAt      *time.Time
	CreatedAt   time.Time
}

// CopyOfSubjectData: an export is a copy of what is held, not more data;
// a later export does not include it (erasure deletes it all the same).
func (PrivacyExport) CopyOfSubjectData() {}

// Export formats.
const (
	ExportAccessReport       = "access_report"
	ExportPortabilityArchive = "portability_archive"
)

// SubjectPreference records what a data subject asked for that the egress
// gate and the mailer must honour: a restriction (storage only), an
// objection (by ground), a consent given or withdrawn, and the under-16
// flag (policy §12). Rows are history: the newest row of a kind and value
// is in force. Its strings are enumerations (kinds, grounds, consent
// names, sources); the personal fact is the link to the contact or
// account, whose erasure deletes the rows.
type SubjectPreference struct {
	ID             uint64 `gorm:"primaryKey"`
	OrganizationID uint64 `gorm:"index"`
	ContactID      uint64 `gorm:"index"` // an End User's preference, or 0
	AccountID      uint64 `gorm:"index"` // a Customer operator's, or 0
	Kind           string `privacy:"none"`
	Value          string `privacy:"none"` // objection ground or consent name; empty for restriction and under_16
	Active         bool   // in force (consent given), or lifted (consent withdrawn)
	Source         string `privacy:"none"` // dsr-<id>, operator, widget, mail, unsubscribe, ...
	WordingVersion string `privacy:"none"` // the consent text's version, when a consent is given
	RequestID      uint64
	CreatedAt      time.Time
}

// Preference kinds.
const (
	PreferenceRestriction = "restriction"
	PreferenceObjection   = "objection"
	PreferenceConsent     = "consent"
	PreferenceUnder16     = "under_16"
)

// ObjectionGrounds are the grounds of an objection the gate knows (policy
// §9; the registry's objections).
func ObjectionGrounds() []string {
	reg, err := policies.LoadRegistry()
	if err != nil {
		return nil
	}
	var out []string
	for g := range reg.Objections {
		out = append(out, g)
	}
	sort.Strings(out)
	return out
}

// ConsentNames are the consents a purpose may require (the registry's
// purposes with a consent, e.g. marketing_email).
func ConsentNames() []string {
	reg, err := policies.LoadRegistry()
	if err != nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, p := range reg.Purposes {
		if p.Consent != "" && !seen[p.Consent] {
			seen[p.Consent] = true
			out = append(out, p.Consent)
		}
	}
	sort.Strings(out)
	return out
}

// Subject is the data subject the request was located to, as erasure and
// the scanner see them, even after the subject's rows are gone.
func (r *PrivacyRequest) Subject() *Subject {
	s := &Subject{Kind: r.SubjectKind, OrganizationID: r.OrganizationID, IDs: r.SubjectIDs, KeyIDs: r.SubjectKeyIDs,
		Owner: r.SubjectOwner, KeepKeys: []uint64{r.DataKeyID}}
	if r.EmailIndex != "" {
		s.EmailIndexes = []string{r.EmailIndex}
	}
	return s
}
