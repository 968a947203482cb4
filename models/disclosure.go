package models

import (
	"strconv"
	"time"

	"gorm.io/gorm"
)

// DisclosureRequest is one entry of the register of disclosures (policy
// §6): a demand or request to disclose personal data outside the
// service's own processing — a legal demand (subpoena, court order), an
// enforcement request of an authority, a merger or acquisition, or a
// disclosure a person explicitly consented to. Staff record it in the
// staff console; its workflow (disclosure-<id>) keeps the response
// deadline, waits for a privacy officer's approval (another staff member
// than the one who recorded it), discloses only the categories requested
// through the egress gate to the recorded recipient, and notifies the
// affected people unless the request lawfully forbids it, which is
// recorded with its reason.
//
// What the requesting party, the recipient and the legal basis say is
// about authorities and companies, not about the data subjects; it is
// sealed under the request's own key all the same, since staff write it
// freely. The affected subject is named by ID only.
type DisclosureRequest struct {
	ID uint64 `gorm:"primaryKey"`
	// OrganizationID is the organization whose data is asked for (its
	// contacts' as their processor, its accounts' as Convot's own).
	OrganizationID uint64 `gorm:"index"`
	DataKeyID      uint64 // the request's own
	Kind           string `privacy:"none"`                          // legal_demand, enforcement, merger, consent
	RequestedBy    string `gorm:"serializer:sealed" privacy:"none"` // the authority or party that asked
	LegalBasis     string `gorm:"serializer:sealed" privacy:"none"` // e.g. court order no., statute, consent record
	Recipient      string `gorm:"serializer:sealed" privacy:"none"` // the recipient as recorded (body and department)
	// RecipientAddress is where the disclosure is mailed: an authority's or
	// a company's address, recorded with the request.
	RecipientAddress string `gorm:"serializer:sealed" privacy:"none"`
	// SubjectKind and SubjectID name the person concerned (a contact of
	// the organization, or one of its accounts); SubjectID 0 with a merger
	// concerns every account of the organization.
	SubjectKind string `privacy:"none"`
	SubjectID   uint64
	// Categories are the data categories asked for: the only ones
	// disclosed (data minimisation).
	Categories []string `gorm:"serializer:json" privacy:"none"`
	// NoticeForbidden: the request lawfully forbids telling the people
	// concerned (a gag order); NoticeForbiddenReason records why.
	NoticeForbidden       bool
	NoticeForbiddenReason string `gorm:"serializer:sealed" privacy:"none"`
	Status                string `privacy:"none"` // see the disclosure statuses
	DueAt                 time.Time
	CreatedByID           uint64 // the staff member who recorded it
	ApprovedByID          uint64 // the officer (another staff member) who approved or refused it
	DecidedAt             *time.Time
	RefusalReason         string `gorm:"serializer:sealed" privacy:"none"`
	DisclosedAt           *time.Time
	DisclosedDigest       string `privacy:"none"` // SHA-256 of what was sent
	DisclosedFields       int
	GateReason            string `privacy:"none"` // the egress gate's reasons, when it refused
	NotifiedAt            *time.Time
	Notified              int64
	ClosedAt              *time.Time
	CreatedAt             time.Time
	UpdatedAt             time.Time
}

// Disclosure kinds (policy §6).
var DisclosureKinds = []string{"legal_demand", "enforcement", "merger", "consent"}

// Disclosure statuses, as the workflow moves them.
const (
	DisclosureReceived  = "received"  // recorded; waiting for an officer
	DisclosureApproved  = "approved"  // approved; disclosing
	DisclosureRefused   = "refused"   // the officer refused it, or the gate did
	DisclosureDisclosed = "disclosed" // sent to the recipient
	DisclosureOverdue   = "overdue"   // the response deadline passed without a decision
	DisclosureClosed    = "closed"    // disclosed and the people concerned told (or the notice forbidden)
)

// BeforeCreate gives the request its own data key.
func (d *DisclosureRequest) BeforeCreate(tx *gorm.DB) error {
	return ensureDataKey(tx, &d.DataKeyID, "disclosure_request")
}

// WorkflowID is the request's workflow ID (workflows.DisclosureWorkflowID).
func (d DisclosureRequest) WorkflowID() string { return "disclosure-" + strconv.FormatUint(d.ID, 10) }
