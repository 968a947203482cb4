package store

import (
	"context"
	"errors"
	"time"

	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
)

// The email channel: inbound mail and its threads, Postmark's bounces and
// complaints (by address, in no organization), the organization's support
// address, and its operators' marketing consent with the unsubscribe
// tokens of marketing mail.

// EmailThreadByReplyToken finds the thread a reply token (of a reply
// address) belongs to, or ErrNotFound.
func (s *Store) EmailThreadByReplyToken(ctx context.Context, token string) (*models.EmailThread, error) {
	t, err := models.EmailThreadByToken(ctx, s.db, s.keys, token)
	if err == nil && t == nil {
		return nil, ErrNotFound
	}
	return t, err
}

// EmailMessagesByHeaderIDs lists the recorded mail whose Message-IDs are
// among ids, newest first, in any organization: the caller decides which
// organization may claim a match.
func (s *Store) EmailMessagesByHeaderIDs(ctx context.Context, ids []string) ([]models.EmailMessage, error) {
	return models.EmailMessagesByHeaderIDs(ctx, s.db, s.keys, ids)
}

// InboundMailSeen reports whether an inbound mail with this Message-ID was
// taken in for the organization already (Postmark delivers again when it
// missed the answer).
func (s *Store) InboundMailSeen(ctx context.Context, orgID uint64, messageID string) (bool, error) {
	var seen int64
	err := s.with(ctx).Model(&models.EmailMessage{}).Where("organization_id = ? AND header_id_index = ? AND direction = ?",
		orgID, s.keys.BlindIndex(messageID), models.EmailInbound).Count(&seen).Error
	return seen > 0, err
}

// RecordEmailMessage records the Message-ID of a conversation's mail; its
// OrganizationID says whose. An inbound Message-ID recorded already is
// models.ErrDuplicateEmail.
func (s *Store) RecordEmailMessage(ctx context.Context, m *models.EmailMessage) error {
	return models.RecordEmailMessage(ctx, s.db, s.keys, m)
}

func (s *Store) suppressions() models.Suppressions {
	return models.Suppressions{DB: s.db, Keys: s.keys}
}

// RecordSuppression stores a bounce or complaint Postmark reported for
// address, once per Postmark record; it reports whether this call stored
// it.
func (s *Store) RecordSuppression(ctx context.Context, address string, e models.EmailSuppression) (bool, error) {
	return s.suppressions().Record(ctx, address, e)
}

// LiftSuppressions ends every suppression of address (Postmark reactivated
// it).
func (s *Store) LiftSuppressions(ctx context.Context, address string, at time.Time) (int64, error) {
	return s.suppressions().Lift(ctx, address, at)
}

// OrganizationBySupportAddressIndex finds the organization whose support
// address has this blind index (a recipient of an inbound mail), or
// ErrNotFound.
func (s *Store) OrganizationBySupportAddressIndex(ctx context.Context, index string) (*models.Organization, error) {
	return one[models.Organization](s.with(ctx).Where("support_address_index = ?", index))
}

// SupportAddressTaken reports whether an organization other than except
// has the support address of this blind index: the address must name one
// organization.
func (s *Store) SupportAddressTaken(ctx context.Context, index string, except uint64) (bool, error) {
	var n int64
	err := s.with(ctx).Model(&models.Organization{}).Where("support_address_index = ? AND id <> ?", index, except).Count(&n).Error
	return n > 0, err
}

// SetSupportAddress changes the organization's support address (sealed
// under its data key dataKeyID) and its blind index; IsDuplicate when
// another organization took the address meanwhile.
func (s *Store) SetSupportAddress(ctx context.Context, orgID, dataKeyID uint64, address, index string) error {
	updated := models.Organization{ID: orgID, DataKeyID: dataKeyID, SupportAddress: address, SupportAddressIndex: index}
	return s.with(ctx).Model(&updated).Select("support_address", "support_address_index").Updates(&updated).Error
}

// MarketingConsent returns the marketing consent in force of one of the
// organization's accounts, or ErrNotFound when none is.
func (s *Store) MarketingConsent(ctx context.Context, orgID, accountID uint64) (*models.SubjectPreference, error) {
	if err := s.accountIn(ctx, orgID, accountID); err != nil {
		return nil, err
	}
	p, err := models.MarketingConsent(ctx, s.db, accountID)
	if err == nil && p == nil {
		return nil, ErrNotFound
	}
	return p, err
}

// MarketingConsentHistory lists every marketing consent row of one of the
// organization's accounts, newest first.
func (s *Store) MarketingConsentHistory(ctx context.Context, orgID, accountID uint64) ([]models.SubjectPreference, error) {
	if err := s.accountIn(ctx, orgID, accountID); err != nil {
		return nil, ignoreNotFound(err)
	}
	return models.MarketingConsentHistory(ctx, s.db, accountID)
}

// GiveMarketingConsent records the consent of one of the organization's
// accounts to the current wording, unless consent is in force already; it
// returns the consent in force.
func (s *Store) GiveMarketingConsent(ctx context.Context, orgID, accountID uint64, source string, at time.Time) (*models.SubjectPreference, error) {
	if err := s.accountIn(ctx, orgID, accountID); err != nil {
		return nil, err
	}
	return models.GiveMarketingConsent(ctx, s.db, orgID, accountID, source, at)
}

// WithdrawMarketingConsent records the withdrawal of the marketing consent
// of one of the organization's accounts; it reports whether a consent was
// in force (false too for an account the organization does not have).
func (s *Store) WithdrawMarketingConsent(ctx context.Context, orgID, accountID uint64, source string, at time.Time) (bool, error) {
	if err := s.accountIn(ctx, orgID, accountID); err != nil {
		return false, ignoreNotFound(err)
	}
	return models.WithdrawMarketingConsent(ctx, s.db, orgID, accountID, source, at)
}

// MarketingConsentRecords lists every account's marketing consent rows, in
// the order they were written (a campaign's sweep over all
// organizations).
func (s *Store) MarketingConsentRecords(ctx context.Context) ([]models.SubjectPreference, error) {
	var rows []models.SubjectPreference
	err := s.with(ctx).Where("account_id <> 0 AND kind = ? AND value = ?", models.PreferenceConsent, models.ConsentMarketingEmail).
		Order("id").Find(&rows).Error
	return rows, err
}

// MarketingRecipient loads an account a campaign may mail and its
// organization, both active, or ErrNotFound.
func (s *Store) MarketingRecipient(ctx context.Context, accountID uint64) (*models.Account, *models.Organization, error) {
	var a models.Account
	var org models.Organization
	res := s.with(ctx).Where("id = ? AND status = ?", accountID, "active").Limit(1).Find(&a)
	if err := found(res.RowsAffected, res.Error); err != nil {
		return nil, nil, err
	}
	res = s.with(ctx).Where("id = ? AND status = ?", a.OrganizationID, models.OrgActive).Limit(1).Find(&org)
	if err := found(res.RowsAffected, res.Error); err != nil {
		return nil, nil, err
	}
	return &a, &org, nil
}

// SubjectContextForAccount is what the egress gate must know of one of the
// organization's accounts (consents, objections) before mail to it.
func (s *Store) SubjectContextForAccount(ctx context.Context, orgID, accountID uint64) (policies.SubjectContext, error) {
	if err := s.accountIn(ctx, orgID, accountID); err != nil {
		return policies.SubjectContext{}, err
	}
	return subjectContext(ctx, s.db, models.SubjectCustomer, "account_id", accountID)
}

// IssueUnsubscribeToken creates the unsubscribe token of one marketing
// mail to one of the organization's accounts, whose consent consentID is
// in force; it returns the token.
func (s *Store) IssueUnsubscribeToken(ctx context.Context, orgID, accountID, consentID uint64) (string, error) {
	if err := s.accountIn(ctx, orgID, accountID); err != nil {
		return "", err
	}
	return models.IssueUnsubscribeToken(ctx, s.db, orgID, accountID, consentID)
}

// UnsubscribeTokenByToken finds the row of an unsubscribe link's token, or
// ErrNotFound.
func (s *Store) UnsubscribeTokenByToken(ctx context.Context, token string) (*models.UnsubscribeToken, error) {
	t, err := models.FindUnsubscribeToken(ctx, s.db, token)
	if err == nil && t == nil {
		return nil, ErrNotFound
	}
	return t, err
}

// MarkUnsubscribeTokenUsed records the first use of an unsubscribe token.
func (s *Store) MarkUnsubscribeTokenUsed(ctx context.Context, tokenID uint64, at time.Time) error {
	return s.with(ctx).Model(&models.UnsubscribeToken{}).Where("id = ? AND used_at IS NULL", tokenID).Update("used_at", at).Error
}

// ignoreNotFound is nil for ErrNotFound, else err.
func ignoreNotFound(err error) error {
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// EmailThreadNotifiedUpTo is the last operator message a reply
// notification of the conversation covered; 0 when it has no thread yet.
func (s *Store) EmailThreadNotifiedUpTo(ctx context.Context, orgID, convID uint64) (uint64, error) {
	var t models.EmailThread
	err := s.with(ctx).Where("conversation_id = ? AND organization_id = ?", convID, orgID).Limit(1).Find(&t).Error
	return t.NotifiedUpTo, err
}

// EnsureEmailThread returns the conversation's thread, creating it with a
// fresh reply token on first use; the conversation's OrganizationID scopes
// it.
func (s *Store) EnsureEmailThread(ctx context.Context, conv *models.Conversation) (*models.EmailThread, error) {
	return models.EnsureEmailThread(ctx, s.db, s.keys, conv)
}

// EmailThreadMessageIDs returns the Message-IDs of the conversation's
// mail, oldest first, at most the last n.
func (s *Store) EmailThreadMessageIDs(ctx context.Context, orgID, convID uint64, n int) ([]string, error) {
	return models.EmailThreadMessageIDs(ctx, s.db, orgID, convID, n)
}

// AdvanceEmailThreadNotified records that the conversation's replies up to
// message upTo are notified; a notification that covered less (a late
// retry) does not move it back.
func (s *Store) AdvanceEmailThreadNotified(ctx context.Context, orgID, convID, upTo uint64, at time.Time) error {
	return s.with(ctx).Model(&models.EmailThread{}).Where("conversation_id = ? AND organization_id = ? AND notified_up_to < ?", convID, orgID, upTo).
		Updates(map[string]any{"notified_up_to": upTo, "updated_at": at}).Error
}

// ClaimInboundMail records an inbound mail's Message-ID (m.HeaderID) for
// m.OrganizationID, in the transaction that takes the mail in; claimed is
// false when the organization has the mail already (a redelivery, or one
// running at the same time, which this call waits for).
func (s *Store) ClaimInboundMail(ctx context.Context, m *models.EmailMessage) (bool, error) {
	return models.ClaimInboundMail(ctx, s.db, s.keys, m)
}

// SetInboundMailMessage records the conversation and message a claimed
// inbound mail (ClaimInboundMail) became.
func (s *Store) SetInboundMailMessage(ctx context.Context, orgID, rowID, convID, msgID uint64) error {
	return s.with(ctx).Model(&models.EmailMessage{}).Where("id = ? AND organization_id = ?", rowID, orgID).
		Updates(map[string]any{"conversation_id": convID, "message_id": msgID}).Error
}
