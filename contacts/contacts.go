// Package contacts keeps the rules of who a visitor is: when an identity
// named in the widget joins an existing contact's history, and how two
// contacts are merged.
//
// With identity verification on, the Customer's server signs the identity
// (user_hash) and identify merges as it always did. Without it, anyone can
// type anyone's address, so naming another contact's address or external
// ID is only a claim: the visitor keeps a contact of their own, recorded as
// claiming the other (models.Contact.ClaimedContactID), and sees none of
// its history until they prove the address with a code mailed to it
// (SendClaimCode, ConfirmClaim) or an operator merges the two (Merge).
package contacts

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strconv"
	"time"

	"github.com/convot/convot/conversation"
	"github.com/convot/convot/internal/blob"
	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/internal/mail"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
)

// Bounds of a claim's code.
const (
	ClaimCodeLifetime = 15 * time.Minute
	ClaimMaxAttempts  = 5
	ClaimResendAfter  = time.Minute
	claimCodeDigits   = 6
)

// Errors of the claim flow, for the transports to translate.
var (
	ErrNoClaim        = errors.New("contacts: this contact claims no other")
	ErrNoAddress      = errors.New("contacts: the claimed contact has no address to send a code to")
	ErrCodeTooSoon    = errors.New("contacts: a code was sent less than a minute ago")
	ErrWrongCode      = errors.New("contacts: wrong code")
	ErrNoLiveCode     = errors.New("contacts: no live code (none sent, expired, or too many attempts)")
	ErrNotMergeable   = errors.New("contacts: these contacts cannot be merged")
	errCodeNotCreated = errors.New("contacts: no random code")
)

// Service merges contacts and runs the proof of claimed addresses.
type Service struct {
	Store *store.Store
	// Keys and Blobs re-seal and move attachments into the merged contact.
	Keys  *models.KeyStore
	Blobs blob.Store
	// Conversations shows operators the moved conversations.
	Conversations *conversation.Service
	// Mail sends the codes (the gated sender); From is their sender.
	Mail mail.Sender
	From string
	Now  func() time.Time
}

// ProofNeeded says whether an identity naming an existing contact must be
// proven before it joins that contact's history: when nobody signed it.
func ProofNeeded(org *models.Organization) bool { return !org.IdentityVerification }

// Claim records that claimant says it is holder, without proof.
func (s *Service) Claim(ctx context.Context, org *models.Organization, claimant, holder *models.Contact) error {
	if claimant.ID == holder.ID || claimant.OrganizationID != org.ID || holder.OrganizationID != org.ID {
		return ErrNotMergeable
	}
	claimant.ClaimedContactID = holder.ID
	return s.Store.RecordContactClaim(ctx, org.ID, claimant.ID, holder.ID)
}

// SendClaimCode mails a new code to the address of the contact claimant
// claims to be: at most one a minute, each good for ClaimCodeLifetime and
// ClaimMaxAttempts tries. The mail says nothing of the history.
func (s *Service) SendClaimCode(ctx context.Context, org *models.Organization, claimantID uint64) error {
	holderID, err := s.Store.ContactClaim(ctx, org.ID, claimantID)
	if errors.Is(err, store.ErrNotFound) {
		return ErrNoClaim
	}
	if err != nil {
		return err
	}
	holder, err := s.Store.Contact(ctx, org.ID, holderID)
	if errors.Is(err, store.ErrNotFound) {
		return ErrNoClaim // merged or erased since
	}
	if err != nil {
		return err
	}
	if holder.Email == "" {
		return ErrNoAddress
	}
	code, err := newClaimCode()
	if err != nil {
		return err
	}
	now := s.Now().UTC()
	sent, err := s.Store.SetContactClaimCode(ctx, org.ID, claimantID, crypto.HashToken(code), now, now.Add(ClaimCodeLifetime), now.Add(-ClaimResendAfter))
	if errors.Is(err, store.ErrNotFound) {
		return ErrNoClaim
	}
	if err != nil {
		return err
	}
	if !sent {
		return ErrCodeTooSoon
	}
	recipient, err := s.Store.SubjectContextForContact(ctx, org.ID, holder.ID)
	if err != nil {
		return err
	}
	msg := mail.Message{
		From: s.From, To: holder.Email, Stream: mail.Transactional, Tag: "identity_claim_code",
		Subject: fmt.Sprintf("Your code for the chat on %s", org.CompanyName),
		Text: fmt.Sprintf("Someone using the chat on %s's website said this is their email address and asked to see the earlier conversations of this address.\n\n"+
			"If that was you, enter this code in the chat: %s\n\nThe code works for %d minutes. If it was not you, ignore this mail: nothing is shown without the code.",
			org.CompanyName, code, int(ClaimCodeLifetime.Minutes())),
		Org: org.GateContext(), Recipient: recipient,
	}
	return s.Mail.Send(ctx, msg)
}

// ConfirmClaim checks a code against the claim of claimant (each call uses
// one of ClaimMaxAttempts) and, when it matches, merges claimant into the
// contact it claimed, which it returns. prepare (if not nil) changes the
// claimed contact before it is saved with columns, in the merge's
// transaction (the visitor's browser details, say).
func (s *Service) ConfirmClaim(ctx context.Context, org *models.Organization, claimant *models.Contact, code string, prepare func(into *models.Contact), columns ...string) (*models.Contact, error) {
	hash, holderID, ok, err := s.Store.TakeContactClaimAttempt(ctx, org.ID, claimant.ID, s.Now().UTC(), ClaimMaxAttempts)
	if err != nil {
		return nil, err
	}
	if !ok {
		if _, err := s.Store.ContactClaim(ctx, org.ID, claimant.ID); errors.Is(err, store.ErrNotFound) {
			return nil, ErrNoClaim
		}
		return nil, ErrNoLiveCode
	}
	if subtle.ConstantTimeCompare([]byte(crypto.HashToken(code)), []byte(hash)) != 1 {
		return nil, ErrWrongCode
	}
	holder, err := s.Store.Contact(ctx, org.ID, holderID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoClaim
	}
	if err != nil {
		return nil, err
	}
	if prepare != nil {
		prepare(holder)
	}
	if err := s.Merge(ctx, org, claimant, holder, nil, columns...); err != nil {
		return nil, err
	}
	return holder, nil
}

func newClaimCode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", errors.Join(errCodeNotCreated, err)
	}
	return fmt.Sprintf("%0*d", claimCodeDigits, n.Int64()), nil
}

// Merge moves the contact from into the contact into (same organization)
// in one transaction: conversations, messages, attachments and visitor
// tokens move, re-sealed under into's data key; from's key is destroyed.
// The named columns of into are saved in the same transaction, and also
// (when not nil) runs in it: the audit event of an operator's merge
// commits with the merge. The blobs the merge replaced are removed after
// it.
func (s *Service) Merge(ctx context.Context, org *models.Organization, from, into *models.Contact, also func(tx *store.Store) error, columns ...string) error {
	if from.ID == into.ID || from.OrganizationID != org.ID || into.OrganizationID != org.ID {
		return ErrNotMergeable
	}
	// Both data keys are read inside the transaction: load them first.
	for _, keyID := range []uint64{from.DataKeyID, into.DataKeyID} {
		if _, err := s.Keys.Seal(ctx, keyID, "merge", nil); err != nil {
			return err
		}
	}
	into.UpdatedAt = s.Now().UTC()
	columns = append(columns, "updated_at")
	var res *models.MergeResult
	err := s.Store.Tx(ctx, func(tx *store.Store) error {
		var err error
		if res, err = tx.MergeContacts(ctx, from, into, s.attachmentBlobMover(org)); err != nil {
			return err
		}
		if err := tx.SaveContactFields(ctx, org.ID, into, columns...); err != nil {
			return err
		}
		if also != nil {
			return also(tx)
		}
		return nil
	})
	cleanup := context.WithoutCancel(ctx)
	if err != nil {
		if res != nil {
			s.deleteBlobs(cleanup, org, res.NewBlobKeys)
		}
		return err
	}
	s.deleteBlobs(cleanup, org, res.OldBlobKeys)
	// Operators see the conversations under their new contact.
	for _, convID := range res.Conversations {
		if conv, err := s.Store.Conversation(cleanup, org.ID, convID); err == nil {
			s.Conversations.PublishConversation(cleanup, org, conv)
		}
	}
	return nil
}

// attachmentBlobMover re-seals an attachment's bytes under another data
// key, in a new blob.
func (s *Service) attachmentBlobMover(org *models.Organization) models.BlobMover {
	return func(ctx context.Context, att *models.Attachment, toKeyID uint64) (string, error) {
		sealed, err := s.Blobs.Get(ctx, conversation.AttachmentStorage(org), att.BlobKey)
		if errors.Is(err, blob.ErrNotFound) {
			return att.BlobKey, nil // already gone: nothing to move
		}
		if err != nil {
			return "", err
		}
		data, err := s.Keys.Open(ctx, conversation.AttachmentColumn, string(sealed))
		if err != nil {
			return "", err
		}
		resealed, err := s.Keys.Seal(ctx, toKeyID, conversation.AttachmentColumn, data)
		if err != nil {
			return "", err
		}
		key := "attachments/" + strconv.FormatUint(org.ID, 10) + "/" + crypto.RandomToken(24)
		if err := s.Blobs.Put(ctx, conversation.AttachmentStorage(org), key, []byte(resealed)); err != nil {
			return "", err
		}
		return key, nil
	}
}

func (s *Service) deleteBlobs(ctx context.Context, org *models.Organization, keys []string) {
	for _, k := range keys {
		if err := s.Blobs.Delete(ctx, conversation.AttachmentStorage(org), k); err != nil && !errors.Is(err, blob.ErrNotFound) {
			slog.Warn("blob not removed after merge", "err", err)
		}
	}
}
