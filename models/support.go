package models

import "time"

// SupportTicket is a Customer's conversation with Convot's own support team
// (policy §2.1 support correspondence). Convot is the controller. The
// correspondence is kept for two years after the ticket is closed (§8),
// then the retention sweep deletes the ticket and its messages.
type SupportTicket struct {
	ID             uint64 `gorm:"primaryKey"`
	OrganizationID uint64 `gorm:"index"`
	AccountID      uint64 `gorm:"index"` // the operator who opened it
	DataKeyID      uint64 // the opening account's: erasing them shreds the ticket
	Subject        string `gorm:"serializer:sealed" privacy:"category=user.content.support_request subject=customer retention=support purpose=essential.service.operations.support"`
	Status         string `privacy:"none"` // open, answered, closed
	// MailIndex is the blind index of the Message-ID of the mail to
	// Convot's support address that opened the ticket (nil for one opened
	// in the dashboard): unique, so a mail delivered twice opens one.
	MailIndex *string `gorm:"uniqueIndex" privacy:"category=user.content.support_request subject=customer retention=support purpose=essential.service.operations.support form=index"`
	ClosedAt  *time.Time
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Support ticket statuses.
const (
	TicketOpen     = "open"     // waiting on Convot
	TicketAnswered = "answered" // Convot replied; waiting on the customer
	TicketClosed   = "closed"
)

// SupportMessage is one message of a support ticket, from the customer or
// from Convot's support team. It is sealed under the ticket's key.
type SupportMessage struct {
	ID             uint64 `gorm:"primaryKey"`
	TicketID       uint64 `gorm:"index"`
	OrganizationID uint64 `gorm:"index"`
	DataKeyID      uint64 // the ticket's
	AuthorType     string `privacy:"none"` // customer or support
	AuthorID       uint64 // the customer's account; 0 for Convot support
	Body           string `gorm:"serializer:sealed" privacy:"category=user.content.support_request subject=customer retention=support purpose=essential.service.operations.support"`
	CreatedAt      time.Time
}

// Support message authors.
const (
	SupportAuthorCustomer = "customer"
	SupportAuthorSupport  = "support"
)

// RetentionClock: support correspondence is kept two years after its
// ticket closed; an open ticket never expires.
func (SupportTicket) RetentionClock() RetentionClock {
	return RetentionClock{Column: "closed_at"}
}

// RetentionClock: a message expires with its ticket.
func (SupportMessage) RetentionClock() RetentionClock {
	return RetentionClock{Column: "closed_at", ParentTable: "support_tickets", ForeignKey: "ticket_id"}
}
