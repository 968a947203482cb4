package handlers

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/conversation"
	"github.com/convot/convot/internal/blob"
	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
)

// Identify: the Customer's site tells the widget who the visitor is (name,
// email, phone, external user ID, custom attributes; policy §2.2
// identifiers). With identity verification on, the site's server signs
// the user: user_hash = hex(HMAC-SHA256(identity secret, external_id, or
// email when there is none)), so that nobody can claim to be someone else
// from the browser console.
//
// Who the visitor becomes:
//   - an anonymous visitor (no external ID) naming a known contact (same
//     external ID, else same email) is merged into it: conversations,
//     messages, attachments and tokens move, re-sealed under the known
//     contact's data key; the anonymous contact's key is destroyed;
//   - a visitor already identified as someone else, naming a known
//     contact, switches to it (this browser's token moves; the previous
//     person's conversations stay theirs);
//   - naming nobody known, the visitor's contact is updated, or, if it was
//     identified as someone else, a new contact is made for this browser.

// Bounds of identify's fields.
const (
	maxContactName     = 200
	maxContactPhone    = 50
	maxExternalID      = 200
	maxCustomAttrs     = 50
	maxCustomAttrKey   = 100
	maxCustomAttrValue = 1000
)

type identifyRequest struct {
	Name             string         `json:"name"`
	Email            string         `json:"email"`
	Phone            string         `json:"phone"`
	ExternalID       string         `json:"external_id"`
	CustomAttributes map[string]any `json:"custom_attributes"`
	UserHash         string         `json:"user_hash"`
}

// identity is an identify request, checked. Empty fields are left as they
// are; an attribute set to nil is removed.
type identity struct {
	name, email, phone, externalID string
	signedSubject                  string // what user_hash signs
	attrs                          map[string]*string
}

func (s *Server) widgetIdentify(c *gin.Context) {
	org, vt := widgetOrgOf(c), visitorOf(c)
	var req identifyRequest
	if !s.readWidgetJSON(c, &req, false) {
		return
	}
	id, msg := checkIdentity(req)
	if msg != "" {
		widgetError(c, http.StatusUnprocessableEntity, msg)
		return
	}
	if org.IdentityVerification && !validUserHash(org.IdentitySecret, id.signedSubject, req.UserHash) {
		widgetError(c, http.StatusUnauthorized, "Identity verification failed: user_hash must be the hex HMAC-SHA256 of the user's external_id (or email, without one) under this widget's identity secret.")
		return
	}
	current, err := s.visitorContact(c, org, vt)
	if err != nil {
		widgetInternal(c, err)
		return
	}
	if current == nil {
		widgetError(c, http.StatusUnauthorized, badVisitorToken)
		return
	}
	result, merged, err := s.identify(c, org, vt, current, id)
	if err != nil {
		widgetInternal(c, err)
		return
	}
	view, err := s.sessionView(c, org, result)
	if err != nil {
		widgetInternal(c, err)
		return
	}
	view.Merged = merged
	c.JSON(http.StatusOK, view)
}

// checkIdentity validates and normalizes identify's fields; msg says what
// is wrong.
func checkIdentity(req identifyRequest) (identity, string) {
	id := identity{
		name: strings.TrimSpace(req.Name), phone: strings.TrimSpace(req.Phone),
		externalID: strings.TrimSpace(req.ExternalID),
	}
	switch {
	case !printable(id.name) || utf8.RuneCountInString(id.name) > maxContactName:
		return id, fmt.Sprintf("name must be text of at most %d characters.", maxContactName)
	case !printable(id.phone) || utf8.RuneCountInString(id.phone) > maxContactPhone:
		return id, fmt.Sprintf("phone must be at most %d characters.", maxContactPhone)
	case !printable(id.externalID) || utf8.RuneCountInString(id.externalID) > maxExternalID:
		return id, fmt.Sprintf("external_id must be text of at most %d characters.", maxExternalID)
	case len(req.CustomAttributes) > maxCustomAttrs:
		return id, fmt.Sprintf("Send at most %d custom attributes.", maxCustomAttrs)
	}
	if e := strings.TrimSpace(req.Email); e != "" {
		email, err := validEmail(e)
		if err != nil {
			return id, err.Error()
		}
		id.email = email
	}
	id.signedSubject = id.externalID
	if id.signedSubject == "" {
		id.signedSubject = strings.TrimSpace(req.Email)
	}
	if len(req.CustomAttributes) > 0 {
		id.attrs = map[string]*string{}
	}
	for k, v := range req.CustomAttributes {
		key := strings.TrimSpace(k)
		if key == "" || !printable(key) || utf8.RuneCountInString(key) > maxCustomAttrKey {
			return id, fmt.Sprintf("Custom attribute names must be text of 1 to %d characters.", maxCustomAttrKey)
		}
		var text string
		switch val := v.(type) {
		case nil:
			id.attrs[key] = nil
			continue
		case string:
			text = strings.TrimSpace(val)
		case float64:
			text = strconv.FormatFloat(val, 'f', -1, 64)
		case bool:
			text = strconv.FormatBool(val)
		default:
			return id, fmt.Sprintf("Custom attribute %q must be a string, number, boolean or null.", key)
		}
		if !printable(text) || utf8.RuneCountInString(text) > maxCustomAttrValue {
			return id, fmt.Sprintf("Custom attribute %q must be text of at most %d characters.", key, maxCustomAttrValue)
		}
		id.attrs[key] = &text
	}
	if id.name == "" && id.email == "" && id.phone == "" && id.externalID == "" && len(id.attrs) == 0 {
		return id, "Send at least one of name, email, phone, external_id or custom_attributes."
	}
	return id, ""
}

// printable refuses control characters (incl. bidi overrides) in
// identifiers an operator will read.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return false
		}
	}
	return true
}

// identityHash is what a Customer's server computes for a user.
func identityHash(secret, subject string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(subject))
	return hex.EncodeToString(mac.Sum(nil))
}

// validUserHash compares in constant time; no secret or no subject never
// verifies.
func validUserHash(secret, subject, given string) bool {
	if secret == "" || subject == "" {
		return false
	}
	want := identityHash(secret, subject)
	got := strings.ToLower(strings.TrimSpace(given))
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// identify applies an identity to the visitor (see the top of this file)
// and returns the contact the visitor now is.
func (s *Server) identify(ctx context.Context, org *models.Organization, vt *models.VisitorToken, current *models.Contact, id identity) (*models.Contact, bool, error) {
	target, err := s.knownContact(ctx, org, current, id)
	if err != nil {
		return nil, false, err
	}
	compatible := (current.ExternalID == "" || id.externalID == "" || current.ExternalID == id.externalID) &&
		(current.Email == "" || id.email == "" || strings.EqualFold(current.Email, id.email))
	now := s.now().UTC()
	switch {
	case target != nil && current.ExternalID == "" && compatible:
		if err := s.mergeVisitor(ctx, org, current, target, id); err != nil {
			return nil, false, err
		}
		return target, true, nil
	case target != nil:
		copyTechnical(current, target)
		applyIdentity(target, id, now)
		err := s.Store.Tx(ctx, func(tx *store.Store) error {
			if err := saveIdentity(ctx, tx, org, target); err != nil {
				return err
			}
			return tx.MoveVisitorToken(ctx, org.ID, vt.ID, target.ID)
		})
		return target, false, err
	case compatible:
		applyIdentity(current, id, now)
		return current, false, saveIdentity(ctx, s.Store, org, current)
	default:
		fresh := &models.Contact{OrganizationID: org.ID}
		copyTechnical(current, fresh)
		applyIdentity(fresh, id, now)
		err := s.Store.Tx(ctx, func(tx *store.Store) error {
			if err := tx.CreateContact(ctx, fresh); err != nil {
				return err
			}
			return tx.MoveVisitorToken(ctx, org.ID, vt.ID, fresh.ID)
		})
		return fresh, false, err
	}
}

// knownContact finds another contact of the organization with the same
// external ID or, failing that, the same email (and no other external ID).
func (s *Server) knownContact(ctx context.Context, org *models.Organization, current *models.Contact, id identity) (*models.Contact, error) {
	if id.externalID != "" {
		ct, err := s.Store.ContactByExternalID(ctx, org.ID, id.externalID, current.ID)
		if !errors.Is(err, store.ErrNotFound) {
			return ct, err
		}
	}
	if id.email != "" {
		ct, err := s.Store.ContactByEmail(ctx, org.ID, id.email, current.ID, id.externalID != "")
		if !errors.Is(err, store.ErrNotFound) {
			return ct, err
		}
	}
	return nil, nil
}

// copyTechnical gives a contact the technical information of the browser
// the visitor is using now.
func copyTechnical(from, to *models.Contact) {
	to.IP, to.UserAgent, to.BrowserLanguage, to.DeviceType, to.Country = from.IP, from.UserAgent, from.BrowserLanguage, from.DeviceType, from.Country
	if from.PageURL != "" {
		to.PageURL = from.PageURL
	}
	if from.LastSeenAt != nil {
		to.LastSeenAt = from.LastSeenAt
	}
}

func applyIdentity(ct *models.Contact, id identity, now time.Time) {
	if id.name != "" {
		ct.Name = id.name
	}
	if id.email != "" {
		ct.Email = id.email
	}
	if id.phone != "" {
		ct.Phone = id.phone
	}
	if id.externalID != "" && ct.ExternalID == "" {
		ct.ExternalID = id.externalID
	}
	if len(id.attrs) > 0 {
		attrs := map[string]string{}
		for k, v := range ct.CustomAttributes {
			attrs[k] = v
		}
		for k, v := range id.attrs {
			if v == nil {
				delete(attrs, k)
			} else {
				attrs[k] = *v
			}
		}
		// The bound holds for the merged set too: drop what does not fit,
		// keeping the attributes just sent.
		for k := range attrs {
			if len(attrs) <= maxCustomAttrs {
				break
			}
			if _, sent := id.attrs[k]; !sent {
				delete(attrs, k)
			}
		}
		ct.CustomAttributes = attrs
	}
	ct.UpdatedAt = now
}

var identityColumns = append([]string{"name", "email", "email_index", "phone", "external_id", "external_id_index", "custom_attributes"}, technicalColumns...)

// saveIdentity writes what identify changes of the organization's contact,
// on st (the Store or a transaction).
func saveIdentity(ctx context.Context, st *store.Store, org *models.Organization, ct *models.Contact) error {
	return st.SaveContactFields(ctx, org.ID, ct, identityColumns...)
}

// mergeVisitor merges the anonymous visitor's contact into the known one
// in one transaction, then removes the blobs the merge replaced.
func (s *Server) mergeVisitor(ctx context.Context, org *models.Organization, from, into *models.Contact, id identity) error {
	// Both data keys are read inside the transaction: load them first.
	for _, keyID := range []uint64{from.DataKeyID, into.DataKeyID} {
		if _, err := s.Keys.Seal(ctx, keyID, "merge", nil); err != nil {
			return err
		}
	}
	copyTechnical(from, into)
	applyIdentity(into, id, s.now().UTC())
	var res *models.MergeResult
	err := s.Store.Tx(ctx, func(tx *store.Store) error {
		var err error
		if res, err = tx.MergeContacts(ctx, from, into, s.attachmentBlobMover(org)); err != nil {
			return err
		}
		return saveIdentity(ctx, tx, org, into)
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
func (s *Server) attachmentBlobMover(org *models.Organization) models.BlobMover {
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

func (s *Server) deleteBlobs(ctx context.Context, org *models.Organization, keys []string) {
	for _, k := range keys {
		if err := s.Blobs.Delete(ctx, conversation.AttachmentStorage(org), k); err != nil && !errors.Is(err, blob.ErrNotFound) {
			slog.Warn("blob not removed after merge", "err", err)
		}
	}
}
