package models

import "time"

// Label is a name an organization's operators put on conversations
// ("billing", "bug") to sort and filter them. The conversations carry the
// labels themselves (Conversation.LabelIDs), so a conversation erased
// takes its labelling with it.
type Label struct {
	ID             uint64 `gorm:"primaryKey"`
	OrganizationID uint64 `gorm:"index"`
	Name           string `privacy:"none"` // chosen by operators for their workflow
	CreatedAt      time.Time
}

// Label names: at most this many characters.
const LabelNameMax = 40
