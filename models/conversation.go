package models

import "time"

// Conversation is a thread between a contact and the operators of an
// organization. Its content is sealed under the contact's data key.
type Conversation struct {
	ID             uint64 `gorm:"primaryKey"`
	OrganizationID uint64 `gorm:"index"`
	ContactID      uint64 `gorm:"index"`
	DataKeyID      uint64 // the contact's
	Subject        string `gorm:"serializer:sealed" privacy:"category=user.content.message subject=end_user retention=account purpose=essential.service"`
	Channel        string `privacy:"none"` // widget or email
	Status         string `privacy:"none"` // open, pending, snoozed, resolved
	AssigneeID     *uint64
	SnoozedUntil   *time.Time
	ResolvedAt     *time.Time
	LastMessageAt  time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Conversation statuses.
const (
	ConversationOpen     = "open"
	ConversationPending  = "pending"
	ConversationSnoozed  = "snoozed"
	ConversationResolved = "resolved"
)

// Message is one message in a conversation, or an operator's private note.
type Message struct {
	ID             uint64 `gorm:"primaryKey"`
	OrganizationID uint64 `gorm:"index"`
	ConversationID uint64 `gorm:"index"`
	DataKeyID      uint64 // the contact's
	AuthorType     string `privacy:"none"` // contact, operator, system
	AuthorID       uint64
	Body           string `gorm:"serializer:sealed" privacy:"category=user.content.message subject=end_user retention=account purpose=essential.service"`
	Private        bool   // an operator's note, never shown to the contact
	DeliveryStatus string `privacy:"none"` // sent, delivered, read
	CreatedAt      time.Time
	ReadAt         *time.Time
}

// Attachment is the metadata of a file sent in a conversation; its bytes
// are sealed in the blob store under the same data key.
type Attachment struct {
	ID             uint64 `gorm:"primaryKey"`
	OrganizationID uint64 `gorm:"index"`
	ConversationID uint64 `gorm:"index"`
	MessageID      uint64 `gorm:"index"`
	DataKeyID      uint64 // the contact's
	FileName       string `gorm:"serializer:sealed" privacy:"category=user.content.attachment subject=end_user retention=account purpose=essential.service"`
	ContentType    string `privacy:"none"`
	Size           int64
	BlobKey        string `privacy:"none"` // random name in the blob store
	CreatedAt      time.Time
}
