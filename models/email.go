package models

import (
	"context"
	"errors"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/internal/mail"
)

// The email channel (policy §2.3, §4): threads that tie a conversation to
// its reply address and Message-IDs, suppressions after bounces and spam
// complaints, and the tokens of one-click unsubscribe links. Marketing
// consent itself is a SubjectPreference (kind consent, value
// marketing_email), the one record the egress gate and the mailer read.

// EmailThread ties a conversation to its mail: the reply token of its
// Reply-To address (reply+TOKEN@ the inbound domain) and how far reply
// notifications have gone.
type EmailThread struct {
	ConversationID uint64 `gorm:"primaryKey;autoIncrement:false"`
	OrganizationID uint64 `gorm:"index"`
	DataKeyID      uint64 // the contact's: erasing the contact shreds the token
	// ReplyToken is a random 128-bit capability: whoever holds it can
	// answer in the conversation by mail.
	ReplyToken      string `gorm:"serializer:sealed" privacy:"category=user.authorization.credentials subject=end_user retention=account purpose=essential.service"`
	ReplyTokenIndex string `gorm:"uniqueIndex" privacy:"category=user.authorization.credentials subject=end_user retention=account purpose=essential.service form=index"`
	// NotifiedUpTo is the last operator message a reply notification
	// covered: the next one starts after it.
	NotifiedUpTo uint64
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Directions of an EmailMessage.
const (
	EmailInbound  = "in"
	EmailOutbound = "out"
)

// EmailMessage is one mail of a conversation, in or out, by its
// Message-ID: replies name it in In-Reply-To and References, which is how
// they find their conversation when the reply address is lost, and the
// next outbound mail names the earlier ones so that mail clients thread
// them.
type EmailMessage struct {
	ID             uint64 `gorm:"primaryKey"`
	OrganizationID uint64 `gorm:"index"`
	ConversationID uint64 `gorm:"index"`
	// MessageID is the conversation message an inbound mail became, or
	// the last operator message an outbound notification carried.
	MessageID uint64
	DataKeyID uint64 // the contact's
	Direction string `privacy:"none"` // in or out
	// HeaderID is the Message-ID header without angle brackets. A mail
	// client's Message-ID can name its host or user, so it is sealed and
	// looked up by its blind index.
	HeaderID      string `gorm:"serializer:sealed" privacy:"category=user.content.message subject=end_user retention=account purpose=essential.service"`
	HeaderIDIndex string `gorm:"index" privacy:"category=user.content.message subject=end_user retention=account purpose=essential.service form=index"`
	CreatedAt     time.Time
}

// Kinds of an EmailSuppression.
const (
	SuppressionBounce        = "bounce"
	SuppressionSpamComplaint = "spam_complaint"
)

// EmailSuppression records a bounce or spam complaint Postmark reported
// for an address, by the address's blind index only: no address in clear.
// A row that Suppresses (hard bounces, complaints, addresses Postmark
// deactivated) stops every further mail to the address, transactional or
// marketing, until it is lifted (Postmark reactivates the address).
type EmailSuppression struct {
	ID uint64 `gorm:"primaryKey"`
	// EmailIndex is the blind index of the address: any recipient, an
	// End User of a reply notification or a Customer's operator.
	EmailIndex string `gorm:"index" privacy:"category=user.contact.email subject=end_user retention=account purpose=essential.service.notifications.email form=index"`
	Kind       string `privacy:"none"` // bounce or spam_complaint
	BounceType string `privacy:"none"` // Postmark's Type: HardBounce, SoftBounce, SpamComplaint, ...
	Suppresses bool
	PostmarkID int64  `gorm:"index"`   // Postmark's record ID: a redelivered webhook is recorded once
	Stream     string `privacy:"none"` // Postmark message stream: outbound or broadcast
	OccurredAt time.Time
	LiftedAt   *time.Time
	CreatedAt  time.Time
}

// UnsubscribeToken is the token of a marketing mail's one-click
// unsubscribe link (RFC 8058) and of its mailto: address
// (unsubscribe+TOKEN@ the inbound domain): single-purpose (it can only
// withdraw the marketing consent of one account), unguessable (128 random
// bits, lowercase hex so that mail systems may fold its case), stored as a
// hash.
type UnsubscribeToken struct {
	ID             uint64 `gorm:"primaryKey"`
	OrganizationID uint64 `gorm:"index"`
	AccountID      uint64 `gorm:"index"`
	// ConsentID is the consent (SubjectPreference) in force when the mail
	// was sent.
	ConsentID uint64
	TokenHash string `gorm:"uniqueIndex" privacy:"category=user.authorization.credentials subject=customer retention=account purpose=marketing.communications.email form=hash"`
	CreatedAt time.Time
	UsedAt    *time.Time
}

// Suppressions answers the mailer's question for every send: may this
// address still receive mail?
type Suppressions struct {
	DB   *gorm.DB
	Keys *KeyStore
}

var _ mail.Suppressions = Suppressions{}

// Suppressed reports whether a suppressing bounce or complaint that was
// not lifted is recorded for address.
func (s Suppressions) Suppressed(ctx context.Context, address string) (bool, error) {
	index := s.Keys.BlindIndex(address)
	if index == "" {
		return false, nil
	}
	var n int64
	err := s.DB.WithContext(ctx).Model(&EmailSuppression{}).
		Where("email_index = ? AND suppresses = ? AND lifted_at IS NULL", index, true).Count(&n).Error
	return n > 0, err
}

// Record stores a bounce or complaint for address (by its blind index). A
// record Postmark redelivers (same PostmarkID and kind) is stored once; it
// reports whether this call stored it.
func (s Suppressions) Record(ctx context.Context, address string, e EmailSuppression) (bool, error) {
	e.EmailIndex = s.Keys.BlindIndex(address)
	if e.EmailIndex == "" {
		return false, errors.New("suppression: no address")
	}
	if e.CreatedAt.IsZero() {
		e.CreatedAt = time.Now().UTC()
	}
	stored := false
	err := s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if e.PostmarkID != 0 {
			var n int64
			if err := tx.Model(&EmailSuppression{}).Where("postmark_id = ? AND kind = ? AND email_index = ?", e.PostmarkID, e.Kind, e.EmailIndex).Count(&n).Error; err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
		}
		stored = true
		return tx.Create(&e).Error
	})
	return stored, err
}

// Lift ends every suppression of address (Postmark reactivated it).
func (s Suppressions) Lift(ctx context.Context, address string, at time.Time) (int64, error) {
	index := s.Keys.BlindIndex(address)
	if index == "" {
		return 0, nil
	}
	res := s.DB.WithContext(ctx).Model(&EmailSuppression{}).
		Where("email_index = ? AND lifted_at IS NULL", index).Update("lifted_at", at.UTC())
	return res.RowsAffected, res.Error
}

// EnsureEmailThread returns the conversation's thread, creating it with a
// fresh reply token on first use.
func EnsureEmailThread(ctx context.Context, db *gorm.DB, keys *KeyStore, conv *Conversation) (*EmailThread, error) {
	var t EmailThread
	if err := db.WithContext(ctx).Where("conversation_id = ? AND organization_id = ?", conv.ID, conv.OrganizationID).Limit(1).Find(&t).Error; err != nil {
		return nil, err
	}
	if t.ConversationID != 0 {
		return &t, nil
	}
	token := mail.NewReplyToken()
	now := time.Now().UTC()
	t = EmailThread{ConversationID: conv.ID, OrganizationID: conv.OrganizationID, DataKeyID: conv.DataKeyID,
		ReplyToken: token, ReplyTokenIndex: keys.BlindIndex(token), CreatedAt: now, UpdatedAt: now}
	// Two first uses at once: one row wins, both read it.
	if err := db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&t).Error; err != nil {
		return nil, err
	}
	var stored EmailThread
	if err := db.WithContext(ctx).Where("conversation_id = ? AND organization_id = ?", conv.ID, conv.OrganizationID).First(&stored).Error; err != nil {
		return nil, err
	}
	return &stored, nil
}

// EmailThreadByToken finds the thread of a reply token, or nil.
func EmailThreadByToken(ctx context.Context, db *gorm.DB, keys *KeyStore, token string) (*EmailThread, error) {
	if !mail.ValidReplyToken(token) {
		return nil, nil
	}
	var t EmailThread
	if err := db.WithContext(ctx).Where("reply_token_index = ?", keys.BlindIndex(token)).Limit(1).Find(&t).Error; err != nil {
		return nil, err
	}
	if t.ConversationID == 0 {
		return nil, nil
	}
	return &t, nil
}

// RecordEmailMessage stores the Message-ID of a conversation's mail. An
// inbound Message-ID already recorded for the organization is refused with
// ErrDuplicateEmail: Postmark redelivered it.
func RecordEmailMessage(ctx context.Context, db *gorm.DB, keys *KeyStore, m *EmailMessage) error {
	m.HeaderIDIndex = keys.BlindIndex(m.HeaderID)
	if m.HeaderIDIndex == "" {
		return errors.New("email message: no Message-ID")
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = time.Now().UTC()
	}
	return db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if m.Direction == EmailInbound {
			var n int64
			if err := tx.Model(&EmailMessage{}).Where("organization_id = ? AND header_id_index = ? AND direction = ?", m.OrganizationID, m.HeaderIDIndex, EmailInbound).Count(&n).Error; err != nil {
				return err
			}
			if n > 0 {
				return ErrDuplicateEmail
			}
		}
		return tx.Create(m).Error
	})
}

// ClaimInboundMail records an inbound mail's Message-ID for
// m.OrganizationID unless it is recorded already (a unique index):
// claimed is false for a mail taken in before. Called first in the
// transaction that takes the mail in, its row holds the mail's place until
// that transaction ends: a delivery of the same mail at the same time
// waits for it, then finds the mail claimed (or, after a rollback, claims
// it itself).
func ClaimInboundMail(ctx context.Context, db *gorm.DB, keys *KeyStore, m *EmailMessage) (bool, error) {
	m.Direction = EmailInbound
	m.HeaderIDIndex = keys.BlindIndex(m.HeaderID)
	if m.HeaderIDIndex == "" {
		return false, errors.New("email message: no Message-ID")
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = time.Now().UTC()
	}
	res := db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns: []clause.Column{{Name: "organization_id"}, {Name: "header_id_index"}},
		// The partial index's predicate, written out: PostgreSQL infers
		// the index from it (a parameter would not do).
		TargetWhere: clause.Where{Exprs: []clause.Expression{clause.Expr{SQL: "direction = 'in'"}}},
		DoNothing:   true,
	}).Create(m)
	return res.RowsAffected == 1, res.Error
}

// ErrDuplicateEmail: this inbound mail was already taken in.
var ErrDuplicateEmail = errors.New("email already received")

// EmailThreadMessageIDs returns the Message-IDs of a conversation's mail,
// oldest first, at most the last n.
func EmailThreadMessageIDs(ctx context.Context, db *gorm.DB, orgID, convID uint64, n int) ([]string, error) {
	var rows []EmailMessage
	if err := db.WithContext(ctx).Where("organization_id = ? AND conversation_id = ?", orgID, convID).
		Order("id DESC").Limit(n).Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]string, 0, len(rows))
	for i := len(rows) - 1; i >= 0; i-- {
		if rows[i].HeaderID != "" {
			out = append(out, rows[i].HeaderID)
		}
	}
	return out, nil
}

// EmailMessagesByHeaderIDs returns the recorded mail whose Message-IDs are
// among ids, newest first, in any organization: the caller decides which
// organization may claim a match.
func EmailMessagesByHeaderIDs(ctx context.Context, db *gorm.DB, keys *KeyStore, ids []string) ([]EmailMessage, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	indexes := make([]string, 0, len(ids))
	for _, id := range ids {
		if ix := keys.BlindIndex(id); ix != "" {
			indexes = append(indexes, ix)
		}
	}
	var rows []EmailMessage
	err := db.WithContext(ctx).Where("header_id_index IN ?", indexes).Order("id DESC").Find(&rows).Error
	return rows, err
}

// IssueUnsubscribeToken creates the token of one marketing mail's
// unsubscribe link for an account whose consent consentID is in force.
func IssueUnsubscribeToken(ctx context.Context, db *gorm.DB, orgID, accountID, consentID uint64) (string, error) {
	token := mail.NewReplyToken()
	row := UnsubscribeToken{OrganizationID: orgID, AccountID: accountID, ConsentID: consentID,
		TokenHash: crypto.HashToken(token), CreatedAt: time.Now().UTC()}
	if err := db.WithContext(ctx).Create(&row).Error; err != nil {
		return "", err
	}
	return token, nil
}

// FindUnsubscribeToken returns the row of a token, or nil.
func FindUnsubscribeToken(ctx context.Context, db *gorm.DB, token string) (*UnsubscribeToken, error) {
	token = strings.ToLower(token)
	if !mail.ValidReplyToken(token) {
		return nil, nil
	}
	var row UnsubscribeToken
	if err := db.WithContext(ctx).Where("token_hash = ?", crypto.HashToken(token)).Limit(1).Find(&row).Error; err != nil {
		return nil, err
	}
	if row.ID == 0 {
		return nil, nil
	}
	return &row, nil
}

// Marketing consent (policy §3, §4): a SubjectPreference of kind consent
// and value marketing_email, with the version of the wording the account
// holder agreed to and where they gave it; withdrawing adds an inactive
// row. The newest row is in force.
const (
	ConsentMarketingEmail = mail.ConsentMarketingEmail
	// MarketingWordingVersion names MarketingWording; a new wording gets
	// a new version, and consent given to an older one stays recorded
	// with the version it was given to.
	MarketingWordingVersion = "2026-03-marketing-v1"
	MarketingWording        = "Send me Convot's newsletter and announcements of new features by email, at most twice a month. I can unsubscribe at any time, from any of these emails or from my profile."
)

// MarketingConsent returns the account's marketing consent in force (the
// newest consent row, when it is active), or nil.
func MarketingConsent(ctx context.Context, db *gorm.DB, accountID uint64) (*SubjectPreference, error) {
	var p SubjectPreference
	err := db.WithContext(ctx).Where("account_id = ? AND kind = ? AND value = ?", accountID, PreferenceConsent, ConsentMarketingEmail).
		Order("id DESC").Limit(1).Find(&p).Error
	if err != nil || p.ID == 0 || !p.Active {
		return nil, err
	}
	return &p, nil
}

// MarketingConsentHistory returns every marketing consent row of the
// account, newest first.
func MarketingConsentHistory(ctx context.Context, db *gorm.DB, accountID uint64) ([]SubjectPreference, error) {
	var rows []SubjectPreference
	err := db.WithContext(ctx).Where("account_id = ? AND kind = ? AND value = ?", accountID, PreferenceConsent, ConsentMarketingEmail).
		Order("id DESC").Find(&rows).Error
	return rows, err
}

// GiveMarketingConsent records consent to the current wording, unless
// consent is already in force; it returns the consent in force.
func GiveMarketingConsent(ctx context.Context, db *gorm.DB, orgID, accountID uint64, source string, at time.Time) (*SubjectPreference, error) {
	var out *SubjectPreference
	err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		current, err := MarketingConsent(ctx, tx, accountID)
		if err != nil {
			return err
		}
		if current != nil {
			out = current
			return nil
		}
		p := SubjectPreference{OrganizationID: orgID, AccountID: accountID, Kind: PreferenceConsent, Value: ConsentMarketingEmail,
			Active: true, Source: source, WordingVersion: MarketingWordingVersion, CreatedAt: at.UTC()}
		if err := tx.Create(&p).Error; err != nil {
			return err
		}
		out = &p
		return nil
	})
	return out, err
}

// WithdrawMarketingConsent records the withdrawal of the account's
// marketing consent, at once; it reports whether a consent was in force.
func WithdrawMarketingConsent(ctx context.Context, db *gorm.DB, orgID, accountID uint64, source string, at time.Time) (bool, error) {
	withdrawn := false
	err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		current, err := MarketingConsent(ctx, tx, accountID)
		if err != nil || current == nil {
			return err
		}
		withdrawn = true
		return tx.Create(&SubjectPreference{OrganizationID: orgID, AccountID: accountID, Kind: PreferenceConsent,
			Value: ConsentMarketingEmail, Active: false, Source: source, CreatedAt: at.UTC()}).Error
	})
	return withdrawn, err
}
