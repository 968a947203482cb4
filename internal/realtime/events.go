package realtime

import (
	"strconv"
	"time"
)

// The events sockets receive, as JSON: one wire format for the web nodes
// that publish messages and the workers that publish status changes (an
// auto-resolve, a snooze ending). They hold what the reader may already
// see: private notes go to operators' topics only.

// Event types.
const (
	TypeMessage      = "message"
	TypeConversation = "conversation"
	TypeTyping       = "typing"
	TypeRead         = "read"
	// TypePoll is the only event of a socket the node cannot feed (its
	// Redis is down): the client polls the messages every PollMillis and
	// opens a socket again later.
	TypePoll = "poll"
)

// PollEvent tells a socket's client to poll instead; the socket then
// closes with 1013 (try again later).
type PollEvent struct {
	Type       string `json:"type"`
	PollMillis int    `json:"poll_ms"`
}

// LiveEvent is one event on a socket.
type LiveEvent struct {
	Type           string            `json:"type"`
	ConversationID uint64            `json:"conversation_id"`
	Message        *MessageView      `json:"message,omitempty"`
	Conversation   *ConversationView `json:"conversation,omitempty"`
	AuthorType     string            `json:"author_type,omitempty"` // typing and read: contact or operator
	MessageID      uint64            `json:"message_id,omitempty"`  // read: up to this message
	ContactID      uint64            `json:"contact_id,omitempty"`  // contact: whose details changed
	Online         bool              `json:"online,omitempty"`      // presence: an operator came online
}

// MessageView is a message as the widget and the inbox show it.
type MessageView struct {
	ID          uint64           `json:"id"`
	AuthorType  string           `json:"author_type"`
	AuthorID    uint64           `json:"author_id,omitempty"`
	AuthorName  string           `json:"author_name,omitempty"`
	Body        string           `json:"body"`
	Private     bool             `json:"private,omitempty"`
	Automated   bool             `json:"automated,omitempty"` // the automated answers wrote it
	CreatedAt   time.Time        `json:"created_at"`
	ReadAt      *time.Time       `json:"read_at,omitempty"`
	Attachments []AttachmentView `json:"attachments"`
}

// AttachmentView describes a file; its bytes are fetched by ID from the
// surface the reader is on (widget or inbox).
type AttachmentView struct {
	ID          uint64 `json:"id"`
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
}

// ConversationView is a conversation's state, without content.
type ConversationView struct {
	ID            uint64     `json:"id"`
	ContactID     uint64     `json:"contact_id"`
	Channel       string     `json:"channel"`
	Status        string     `json:"status"`
	AssigneeID    *uint64    `json:"assignee_id"`
	SnoozedUntil  *time.Time `json:"snoozed_until,omitempty"`
	LastMessageAt time.Time  `json:"last_message_at"`
	CreatedAt     time.Time  `json:"created_at"`
	// HandedOver: the automated answers handed it to the team.
	HandedOver bool `json:"handed_over,omitempty"`
}

// Topics hold IDs only: operators of an organization listen to its topic,
// a visitor to each of their conversations'.
func OrgTopic(orgID uint64) string { return "org." + strconv.FormatUint(orgID, 10) }

// ConversationTopic is the topic of one conversation's visitor.
func ConversationTopic(convID uint64) string { return "conversation." + strconv.FormatUint(convID, 10) }
