package obligations

import "time"

// Request types, one per right of §9.
const (
	DsrAccess            = "access"
	DsrRectification     = "rectification"
	DsrErasure           = "erasure"
	DsrRestriction       = "restriction"
	DsrPortability       = "portability"
	DsrObjection         = "objection"
	DsrConsentWithdrawal = "consent_withdrawal"
)

// DsrTypes lists every request type, with what the requester asks for.
var DsrTypes = []struct{ Type, Label string }{
	{DsrAccess, "A copy of the personal data held about me (right of access)"},
	{DsrPortability, "My data in a machine-readable archive (right to data portability)"},
	{DsrRectification, "Correct inaccurate or incomplete data (right to rectification)"},
	{DsrErasure, "Delete my data (right to erasure)"},
	{DsrRestriction, "Limit processing to storage (right to restriction)"},
	{DsrObjection, "Object to processing (legitimate interests, direct marketing, automated decisions)"},
	{DsrConsentWithdrawal, "Withdraw a consent I gave"},
}

// ValidDsrType reports whether t is a request type.
func ValidDsrType(t string) bool {
	for _, d := range DsrTypes {
		if d.Type == t {
			return true
		}
	}
	return false
}

// Request statuses, as the workflow moves them.
const (
	DsrReceived             = "received"
	DsrAwaitingVerification = "awaiting_verification"
	DsrInProgress           = "in_progress"
	DsrAwaitingApproval     = "awaiting_approval"
	DsrCompleted            = "completed"
	DsrRejected             = "rejected"
	DsrExpired              = "expired"
)

// DsrStatuses lists every status in the order a request moves through them.
var DsrStatuses = []string{DsrReceived, DsrAwaitingVerification, DsrInProgress, DsrAwaitingApproval, DsrCompleted, DsrRejected, DsrExpired}

// DsrClosed reports whether a status is final.
func DsrClosed(status string) bool {
	return status == DsrCompleted || status == DsrRejected || status == DsrExpired
}

// Timing of a request.
const (
	// DsrVerificationWindow is how long a requester has to verify before an
	// unverified request expires.
	DsrVerificationWindow = 7 * 24 * time.Hour
	// MaxDsrExtensionMonths bounds the one extension (GDPR Art. 12(3)).
	MaxDsrExtensionMonths = 2
	// DsrExportLifetime is how long the link to an access report or a
	// portability archive works; the workflow deletes the file after it.
	DsrExportLifetime = 7 * 24 * time.Hour
)

// DsrDueDate is when a request received at t must be answered: one month
// after receipt (GDPR Art. 12(3)), and never later than the thirty days
// the policy promises (§9), whichever comes first.
func DsrDueDate(received time.Time) time.Time {
	month := received.AddDate(0, 1, 0)
	if days := received.Add(30 * 24 * time.Hour); days.Before(month) {
		return days
	}
	return month
}
