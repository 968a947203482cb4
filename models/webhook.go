package models

import "time"

// WebhookEndpoint is a Customer's own HTTPS endpoint that receives signed
// webhooks (policy §10). Its secrets are sealed under the organization's
// data key; the previous secret keeps signing until PreviousUntil after a
// rotation.
type WebhookEndpoint struct {
	ID             uint64 `gorm:"primaryKey"`
	OrganizationID uint64
	DataKeyID      uint64 // the organization's: seals the secrets
	URL            string `privacy:"none"` // the Customer's own server, not a person's
	Description    string `privacy:"none"`
	Events         string `privacy:"none"` // ",type,type," (outgoing.JoinEvents)
	// IncludeContent: personal fields go out where the event type carries
	// them (the Customer opted in); otherwise IDs only.
	IncludeContent bool
	Secret         string `gorm:"serializer:sealed" privacy:"none"` // whsec_..., Convot's credential, about no person
	PreviousSecret string `gorm:"serializer:sealed" privacy:"none"`
	PreviousUntil  *time.Time
	Enabled        bool
	// FailingSince is the first failed attempt since the last success; an
	// endpoint failing for five days is disabled (DisabledReason says why).
	FailingSince   *time.Time
	DisabledReason string `privacy:"none"`
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// WebhookEvent is one event of the catalogue, written in the transaction of
// the change it announces: IDs only, the payload is built when delivered.
type WebhookEvent struct {
	ID             uint64 `gorm:"primaryKey"`
	OrganizationID uint64
	Type           string `privacy:"none"` // outgoing.MessageCreated, ...
	ConversationID uint64
	MessageID      uint64
	ContactID      uint64
	RequestID      uint64 // a privacy request
	// DeletedContactID is the contact a contact.deleted event announces
	// (not ContactID: the erasure removes the rows that locate its subject).
	DeletedContactID uint64
	CreatedAt        time.Time
}

// WebhookDelivery is one event for one endpoint (unique): the outbox of the
// WebhookDelivery workflow until Started, then its record.
type WebhookDelivery struct {
	ID             uint64 `gorm:"primaryKey"`
	OrganizationID uint64
	EndpointID     uint64
	EventID        uint64
	Status         string `privacy:"none"` // pending, delivered, failed, denied
	Started        bool   // its workflow is started
	Attempts       int64
	LastAttemptAt  *time.Time
	DeliveredAt    *time.Time
	CreatedAt      time.Time
}

// Webhook delivery statuses.
const (
	WebhookPending   = "pending"
	WebhookDelivered = "delivered"
	WebhookFailed    = "failed"
	WebhookDenied    = "denied"
)

// WebhookAttempt is one attempt of a delivery, for the delivery log.
type WebhookAttempt struct {
	ID             uint64 `gorm:"primaryKey"`
	OrganizationID uint64
	DeliveryID     uint64
	AttemptedAt    time.Time
	StatusCode     int
	LatencyMillis  int64
	Error          string `privacy:"none"` // why no answer: refused address, timeout, gate
	// ResponseExcerpt is the start of the Customer's server's answer to
	// Convot (outgoing.ResponseExcerpt bytes).
	ResponseExcerpt string `privacy:"none"`
}

// Webhook event types the store writes with the changes they announce
// (outgoing's catalogue names them the same: outgoing.ContactCreated is
// WebhookContactCreated, ...).
const (
	WebhookConversationCreated     = "conversation.created"
	WebhookConversationAssigned    = "conversation.assigned"
	WebhookConversationResolved    = "conversation.resolved"
	WebhookConversationSnoozed     = "conversation.snoozed"
	WebhookConversationReopened    = "conversation.reopened"
	WebhookMessageCreated          = "message.created"
	WebhookNoteCreated             = "message.note_created"
	WebhookContactCreated          = "contact.created"
	WebhookContactIdentified       = "contact.identified"
	WebhookContactUpdated          = "contact.updated"
	WebhookContactDeleted          = "contact.deleted"
	WebhookPrivacyRequestReceived  = "privacy_request.received"
	WebhookPrivacyRequestCompleted = "privacy_request.completed"
)
