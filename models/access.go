package models

import "time"

// AccessEvent records that an operator opened personal data: viewed a
// contact, opened a conversation, downloaded an attachment or an export.
// It names the operator and the object by ID only, never by what they
// hold, and is kept as an access log (policy §8: access logs twelve months,
// swept by the access_log schedule).
type AccessEvent struct {
	ID             uint64 `gorm:"primaryKey"`
	OrganizationID uint64 `gorm:"index"`
	AccountID      uint64 `gorm:"index"` // the operator who opened it
	// Action is what the operator did (AccessContactViewed, ...): a record
	// of the operator's behaviour, hence classified.
	Action    string    `privacy:"category=user.behavior subject=customer retention=access_log purpose=essential.service.security form=clear"`
	Target    string    `privacy:"none"` // what was opened, as kind:id, never a name or email
	CreatedAt time.Time `gorm:"index"`
}

// Access actions: one event per opening, never one per message shown.
const (
	AccessContactViewed        = "access.contact_viewed"
	AccessConversationOpened   = "access.conversation_opened"
	AccessAttachmentDownloaded = "access.attachment_downloaded"
	AccessExportDownloaded     = "access.export_downloaded"
	AccessPrivacyExportOpened  = "access.privacy_export_downloaded"
)

// AccessActions lists the access actions, for the audit log's filter.
var AccessActions = []string{AccessContactViewed, AccessConversationOpened, AccessAttachmentDownloaded, AccessExportDownloaded, AccessPrivacyExportOpened}

// TestResult is the latest recorded outcome of one Go test, fed by
// `convot ledger record` from `go test -json` output, so the promise
// ledger can say when each cited test last passed. Nothing personal.
type TestResult struct {
	ID           uint64 `gorm:"primaryKey"`
	Name         string `gorm:"uniqueIndex" privacy:"none"` // "models.TestX", "cmd/convot.TestY", as the ledger cites it
	LastResult   string `privacy:"none"`                    // pass, fail or skip
	LastRunAt    time.Time
	LastPassedAt *time.Time
	Revision     string `privacy:"none"` // the revision the passing run tested, when given
}
