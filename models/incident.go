package models

import (
	"time"

	"gorm.io/gorm"
)

// Incident is a personal data breach a privacy officer recorded (policy
// §11; GDPR Art. 33 and 34). Its workflow (breach-<id>) makes the notice to
// the supervisory authority due 72 hours after awareness, escalates before
// that, and notifies the affected users when the risk is high.
//
// The descriptive fields say what happened to which kinds of data, never
// who was affected; they are sealed under the recording organization's key
// all the same, since an officer writes them freely. The contact point is
// a person's name and address, classified as such.
//
// An incident Convot's staff record about Convot itself (a breach of data
// Convot holds as controller: its Customers' accounts) belongs to no
// organization (OrganizationID 0) and is sealed under a key of its own.
type Incident struct {
	ID             uint64 `gorm:"primaryKey"`
	OrganizationID uint64 `gorm:"index"` // the organization whose officer recorded it
	RecordedByID   uint64 // the officer's account
	DataKeyID      uint64 // the organization's
	// AffectedOrganizations are the organizations whose data the breach
	// touched: the recording organization, from the dashboard.
	AffectedOrganizations []uint64 `gorm:"serializer:json" privacy:"none"`
	AwareAt               time.Time
	OccurredAt            *time.Time
	Nature                string   `gorm:"serializer:sealed" privacy:"none"`
	Categories            []string `gorm:"serializer:json" privacy:"none"` // data categories (inventory names)
	SubjectKinds          []string `gorm:"serializer:json" privacy:"none"` // customer, end_user
	ApproxSubjects        int64
	ApproxRecords         int64
	Consequences          string `gorm:"serializer:sealed" privacy:"none"`
	Measures              string `gorm:"serializer:sealed" privacy:"none"`
	ContactName           string `gorm:"serializer:sealed" privacy:"category=user.name subject=customer retention=account purpose=essential.legal_obligation"`
	ContactEmail          string `gorm:"serializer:sealed" privacy:"category=user.contact.email subject=customer retention=account purpose=essential.legal_obligation"`
	Risk                  string `privacy:"none"` // "", none, low, high
	RiskReason            string `gorm:"serializer:sealed" privacy:"none"`
	Status                string `privacy:"none"` // see Incident statuses
	NoticeDueAt           time.Time
	AuthorityNotice       string `gorm:"serializer:sealed" privacy:"none"` // the drafted notice (Art. 33(3))
	NoticeDraftedAt       *time.Time
	NoticeSentAt          *time.Time
	NoticeLate            bool
	DelayReasons          string `gorm:"serializer:sealed" privacy:"none"` // Art. 33(1): why the notice came after 72 hours
	UsersNotifiedAt       *time.Time
	UsersNotified         int64
	ClosedAt              *time.Time
	CreatedAt             time.Time
	UpdatedAt             time.Time
}

// Incident statuses, as the workflow moves them.
const (
	IncidentOpen              = "open"               // recorded; assessment and notice pending
	IncidentAssessed          = "assessed"           // risk assessed; notice pending
	IncidentOverdue           = "overdue"            // 72 hours passed without a notice
	IncidentAuthorityNotified = "authority_notified" // notice sent; users' notice may follow
	IncidentClosed            = "closed"             // nothing further is due
)

// Risk levels an officer assesses (Art. 33(1), 34(1)).
const (
	RiskNone = "none" // unlikely to result in a risk: no notice due (documented)
	RiskLow  = "low"  // a risk: the authority is notified
	RiskHigh = "high" // a high risk: the affected users are notified too
)

// IncidentStep is one entry of an incident's audit trail: every step the
// workflow or an officer took. OnceKey, when set, makes the step happen once
// (escalation-24h, notice-drafted, ...) however often an activity retries.
type IncidentStep struct {
	ID             uint64 `gorm:"primaryKey"`
	IncidentID     uint64 `gorm:"index"`
	OrganizationID uint64 `gorm:"index"`
	OnceKey        string `privacy:"none"`
	Step           string `privacy:"none"` // recorded, escalated, assessed, notice_drafted, notice_sent, users_notified, overdue, closed
	Detail         string `privacy:"none"` // counts, levels, hours: never a name or an address
	ActorID        uint64 // the officer; 0 for the workflow
	At             time.Time
}

// IncidentNotice records that one affected person was told of a high-risk
// breach (Art. 34), so a retried activity never mails anyone twice.
type IncidentNotice struct {
	ID            uint64 `gorm:"primaryKey"`
	IncidentID    uint64 `gorm:"index"`
	RecipientKind string `privacy:"none"` // account or contact
	RecipientID   uint64
	SentAt        time.Time
}

// ConvotIsController reports whether the breach touched data Convot holds
// as controller: its Customers' operators' accounts (policy §1). Convot's
// staff then assess it and notify as controller (the staff console).
func (i Incident) ConvotIsController() bool {
	if i.OwnedByConvot() {
		return true
	}
	for _, k := range i.SubjectKinds {
		if k == SubjectCustomer {
			return true
		}
	}
	return false
}

// OwnedByConvot reports whether Convot's staff recorded the incident about
// Convot itself rather than an organization's officer.
func (i Incident) OwnedByConvot() bool { return i.OrganizationID == 0 }

// BeforeCreate gives an incident of Convot's own a data key of its own: no
// organization's key seals it, so no organization's closure shreds it.
func (i *Incident) BeforeCreate(tx *gorm.DB) error {
	if i.OrganizationID != 0 {
		return nil
	}
	return ensureDataKey(tx, &i.DataKeyID, "incident")
}
