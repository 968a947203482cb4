package models

import (
	"context"
	"strings"
	"time"

	"gorm.io/gorm"
)

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
	LabelIDs       string `gorm:"default:,"  privacy:"none"` // ",3,7," (Label IDs between commas; "," for none)
	SnoozedUntil   *time.Time
	ResolvedAt     *time.Time
	LastMessageAt  time.Time
	// HandedOverAt is when the automated answers handed the conversation
	// to the team (nil: not handed over); the bot no longer answers it.
	// HandoverReason says why (HandoverAsked, …).
	HandedOverAt   *time.Time
	HandoverReason string `privacy:"none"`
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Why automated answers handed a conversation to the team
// (Conversation.HandoverReason).
const (
	HandoverAsked        = "asked"         // the visitor asked for a person
	HandoverNotConfident = "not_confident" // no confident answer in the organization's knowledge
	HandoverUnavailable  = "unavailable"   // the AI provider failed or timed out
	HandoverRefused      = "refused"       // the contact objected to automated processing or restricted it
)

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
	AuthorType     string `privacy:"none"` // contact, operator, system, bot
	AuthorID       uint64
	Body           string `gorm:"serializer:sealed" privacy:"category=user.content.message subject=end_user retention=account purpose=essential.service"`
	Private        bool   // an operator's note, never shown to the contact
	// Automated: written by the automated answers (AuthorType "bot"), and
	// shown to the visitor as such.
	Automated      bool
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

// InsertMessage writes a message and moves its conversation's last activity
// to the message's time, reopening the conversation when reopen is set, as
// one unit. On PostgreSQL that is one statement, a single round trip and
// commit: posting messages is what a busy deployment does most. Elsewhere
// it is a transaction. The conversation must exist in the message's
// organization, else gorm.ErrRecordNotFound and nothing is written.
func InsertMessage(ctx context.Context, db *gorm.DB, keys *KeyStore, m *Message, reopen bool) error {
	if !IsPostgres(db) {
		return db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			res := tx.Model(&Conversation{}).Where("id = ? AND organization_id = ?", m.ConversationID, m.OrganizationID).
				Updates(conversationTouch(m.CreatedAt, reopen))
			if res.Error != nil {
				return res.Error
			}
			if res.RowsAffected == 0 {
				return gorm.ErrRecordNotFound
			}
			if err := tx.Create(m).Error; err != nil {
				return err
			}
			return IndexMessage(ctx, tx, keys, m)
		})
	}
	// The words of the body, as search index values (search_index.go),
	// written by the same statement.
	terms, err := keys.MessageSearchHashes(ctx, m.OrganizationID, m.Body)
	if err != nil {
		return err
	}
	// Sealed as the "sealed" serializer would seal the column.
	body := ""
	if m.Body != "" {
		if body, err = keys.Seal(ctx, m.DataKeyID, "body", []byte(m.Body)); err != nil {
			return err
		}
	}
	set := "last_message_at = @at, updated_at = @at"
	if reopen {
		set += ", status = @open, resolved_at = NULL, snoozed_until = NULL"
	}
	var ids []uint64
	err = db.WithContext(ctx).Raw(`WITH c AS (
	UPDATE conversations SET `+set+` WHERE id = @conv AND organization_id = @org RETURNING id, contact_id
), m AS (
	INSERT INTO messages (organization_id, conversation_id, data_key_id, author_type, author_id, body, private, automated, delivery_status, created_at)
	SELECT @org, c.id, @key, @author_type, @author_id, @body, @private, @automated, @delivery, @at FROM c
	RETURNING id, conversation_id
), t AS (
	INSERT INTO search_terms (organization_id, term, contact_id, conversation_id, message_id, field)
	SELECT @org, w.term, c.contact_id, m.conversation_id, m.id, @field
	FROM m, c, unnest(string_to_array(CAST(@terms AS text), ' ')) AS w(term)
)
SELECT id FROM m`, map[string]any{
		"at": m.CreatedAt, "open": ConversationOpen, "conv": m.ConversationID, "org": m.OrganizationID, "key": m.DataKeyID,
		"author_type": m.AuthorType, "author_id": m.AuthorID, "body": body, "private": m.Private, "automated": m.Automated, "delivery": m.DeliveryStatus,
		"terms": strings.Join(terms, " "), "field": SearchFieldBody,
	}).Scan(&ids).Error
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return gorm.ErrRecordNotFound
	}
	m.ID = ids[0]
	return nil
}

// conversationTouch is the update a new message makes to its conversation:
// its last activity, and when reopen is set its reopening.
func conversationTouch(at time.Time, reopen bool) map[string]any {
	updates := map[string]any{"last_message_at": at, "updated_at": at}
	if reopen {
		updates["status"] = ConversationOpen
		updates["resolved_at"] = nil
		updates["snoozed_until"] = nil
	}
	return updates
}
