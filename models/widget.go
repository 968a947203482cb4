package models

import "time"

// Widget settings of an organization live on Organization (see
// migrations_conversations.go); these are the rows the conversations
// surfaces add beside it.

// VisitorToken binds a browser to a contact across page loads and visits
// (policy §5). The widget keeps the token in localStorage; only its hash is
// stored here. A contact may have several (one per browser).
type VisitorToken struct {
	ID             uint64 `gorm:"primaryKey"`
	OrganizationID uint64 `gorm:"index"`
	ContactID      uint64 `gorm:"index"`
	TokenHash      string `gorm:"uniqueIndex" privacy:"category=user.device.cookie_id subject=end_user retention=account purpose=essential.service form=hash"`
	CreatedAt      time.Time
	LastSeenAt     time.Time
}

// CannedResponse is a reply an organization's operators reuse. Its text is
// the organization's own wording, not personal data.
type CannedResponse struct {
	ID             uint64 `gorm:"primaryKey"`
	OrganizationID uint64 `gorm:"index"`
	Shortcut       string `privacy:"none"` // typed after "/" in the composer
	Body           string `privacy:"none"`
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Default widget settings.
const (
	DefaultInactivityHours = 24
	DefaultWidgetColor     = "#2f6f4f"
)
