package models

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"
	"gorm.io/gorm"
)

// Search over sealed data (issue 20, docs/search.md). Message bodies and
// contacts' names and emails are sealed per data subject, so no plaintext
// index may exist. Instead each normalised word is stored as a keyed hash
// (HMAC-SHA-256 under a key of the organization's own): the database can
// answer "which messages contain the word whose hash is H" without holding
// the word. Erasing a contact deletes its rows (they name the contact).

// SearchTerm is one word of a message, or of a contact's name or email, as
// its keyed hash under the organization's search key.
type SearchTerm struct {
	ID             uint64 `gorm:"primaryKey"`
	OrganizationID uint64
	Term           string `privacy:"category=user.content subject=end_user retention=account purpose=essential.service form=index"`
	ContactID      uint64 // whose conversation or contact record the word is from
	ConversationID uint64 // 0 for a contact's name or email
	MessageID      uint64 // 0 for a contact's name or email
	Field          string `privacy:"none"` // body, name or email
}

// Search term fields.
const (
	SearchFieldBody  = "body"
	SearchFieldName  = "name"
	SearchFieldEmail = "email"
)

func init() {
	addMigration(50, "search: keyed blind index of message words and contacts' names and emails", `
CREATE TABLE search_terms (
	id {{id}},
	organization_id BIGINT NOT NULL,
	term TEXT NOT NULL,
	contact_id BIGINT NOT NULL,
	conversation_id BIGINT NOT NULL DEFAULT 0,
	message_id BIGINT NOT NULL DEFAULT 0,
	field TEXT NOT NULL
);
CREATE INDEX idx_search_terms_lookup ON search_terms (organization_id, term, message_id);
CREATE INDEX idx_search_terms_contact ON search_terms (organization_id, contact_id);
CREATE INDEX idx_search_terms_message ON search_terms (message_id);
`)
}

// Limits of what is indexed: longer words are not words people search for
// (hashes, URLs), and a pasted log gets no more than maxTermsPerText.
const (
	maxTermRunes    = 64
	maxTermsPerText = 400
	minPrefixRunes  = 2
)

// NormalizeSearchText is text as the index sees it: Unicode NFKD with
// combining marks removed (é is e), lower case.
func NormalizeSearchText(s string) string {
	var b strings.Builder
	for _, r := range norm.NFKD.String(s) {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// SearchWords splits text into the words the index holds: runs of letters
// and digits of normalised text, and whole email addresses, each once, in
// order of first appearance.
func SearchWords(text string) []string {
	text = NormalizeSearchText(text)
	seen := map[string]bool{}
	var out []string
	add := func(w string) {
		if w == "" || seen[w] || len([]rune(w)) > maxTermRunes || len(out) >= maxTermsPerText {
			return
		}
		seen[w] = true
		out = append(out, w)
	}
	for _, field := range strings.Fields(text) {
		if at := strings.IndexByte(field, '@'); at > 0 {
			email := strings.TrimFunc(field, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
			if strings.Contains(email, "@") && strings.Contains(email[strings.IndexByte(email, '@'):], ".") {
				add(email)
			}
		}
		for _, w := range strings.FieldsFunc(field, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
			add(w)
		}
	}
	return out
}

// contactWords are the words a contact is found by: each word of the name
// and email and its prefixes (so "ann" finds Anna), the whole name and the
// whole address.
func contactWords(value string, whole bool) []string {
	words := SearchWords(value)
	out := slices.Clone(words)
	for _, w := range words {
		r := []rune(w)
		for n := minPrefixRunes; n < len(r); n++ {
			out = append(out, string(r[:n]))
		}
	}
	if whole {
		if full := strings.Join(strings.Fields(NormalizeSearchText(value)), " "); full != "" {
			out = append(out, full)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

type searchKey struct {
	key     []byte
	expires time.Time
}

// searchKeyLabel separates the search key from every other use of the
// organization's data key.
const searchKeyLabel = "convot search index v1"

// SearchKey is the organization's search index key: HMAC-SHA-256 of a
// fixed label under the organization's data key, which is stored wrapped by
// the master key like every data key (rotated with it, never destroyed by
// a subject's erasure, destroyed with the organization).
func (ks *KeyStore) SearchKey(ctx context.Context, orgID uint64) ([]byte, error) {
	if v, ok := ks.searchKeys.Load(orgID); ok {
		if sk := v.(searchKey); time.Now().Before(sk.expires) {
			return sk.key, nil
		}
	}
	var org Organization
	// The root handle: see key.
	if err := ks.db.WithContext(context.WithoutCancel(ctx)).Select("id", "data_key_id").
		Where("id = ?", orgID).Limit(1).Find(&org).Error; err != nil {
		return nil, err
	}
	if org.ID == 0 || org.DataKeyID == 0 {
		// No such organization: nothing of it may be written.
		return nil, fmt.Errorf("search key: organization %d: %w", orgID, gorm.ErrRecordNotFound)
	}
	dk, err := ks.key(ctx, org.DataKeyID)
	if err != nil {
		return nil, fmt.Errorf("search key: %w", err)
	}
	mac := hmac.New(sha256.New, dk)
	mac.Write([]byte(searchKeyLabel))
	key := mac.Sum(nil)
	ks.searchKeys.Store(orgID, searchKey{key: key, expires: time.Now().Add(keyCacheTTL)})
	return key, nil
}

// SearchHashes are the index values of words (already normalised, as
// SearchWords returns them) in the organization.
func (ks *KeyStore) SearchHashes(ctx context.Context, orgID uint64, words []string) ([]string, error) {
	if len(words) == 0 {
		return nil, nil
	}
	key, err := ks.SearchKey(ctx, orgID)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(words))
	for i, w := range words {
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(w))
		// 128 bits: collisions within one organization's vocabulary are
		// out of reach, and the index stays small.
		out[i] = base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:16])
	}
	return out, nil
}

// MessageSearchHashes are the index values of a message body's words.
func (ks *KeyStore) MessageSearchHashes(ctx context.Context, orgID uint64, body string) ([]string, error) {
	return ks.SearchHashes(ctx, orgID, SearchWords(body))
}

// IndexMessage (re)writes the index rows of one message inside tx: the
// words of its body, under the conversation's contact.
func IndexMessage(ctx context.Context, tx *gorm.DB, ks *KeyStore, m *Message) error {
	if ks == nil {
		if ks = KeysFrom(tx.Statement.Context); ks == nil {
			return errors.New("search index: no key store")
		}
	}
	tx = tx.WithContext(ctx).Session(&gorm.Session{NewDB: true})
	if err := tx.Where("message_id = ? AND organization_id = ?", m.ID, m.OrganizationID).Delete(&SearchTerm{}).Error; err != nil {
		return err
	}
	hashes, err := ks.MessageSearchHashes(ctx, m.OrganizationID, m.Body)
	if err != nil || len(hashes) == 0 {
		return err
	}
	var contactIDs []uint64
	if err := tx.Model(&Conversation{}).Where("id = ? AND organization_id = ?", m.ConversationID, m.OrganizationID).
		Limit(1).Pluck("contact_id", &contactIDs).Error; err != nil {
		return err
	}
	if len(contactIDs) == 0 {
		return gorm.ErrRecordNotFound
	}
	rows := make([]SearchTerm, len(hashes))
	for i, h := range hashes {
		rows[i] = SearchTerm{OrganizationID: m.OrganizationID, Term: h, ContactID: contactIDs[0],
			ConversationID: m.ConversationID, MessageID: m.ID, Field: SearchFieldBody}
	}
	return tx.CreateInBatches(rows, 200).Error
}

// IndexContact rewrites a contact's name and email rows inside tx (the
// reindex of contacts written before the index existed).
func IndexContact(ctx context.Context, tx *gorm.DB, ks *KeyStore, c *Contact) error {
	return indexContact(ctx, tx, ks, c)
}

// indexContact rewrites a contact's name and email rows inside tx.
func indexContact(ctx context.Context, tx *gorm.DB, ks *KeyStore, c *Contact) error {
	tx = tx.WithContext(ctx).Session(&gorm.Session{NewDB: true})
	if err := tx.Where("organization_id = ? AND contact_id = ? AND message_id = 0", c.OrganizationID, c.ID).
		Delete(&SearchTerm{}).Error; err != nil {
		return err
	}
	var rows []SearchTerm
	for _, part := range []struct{ field, value string }{{SearchFieldName, c.Name}, {SearchFieldEmail, c.Email}} {
		hashes, err := ks.SearchHashes(ctx, c.OrganizationID, contactWords(part.value, true))
		if err != nil {
			return err
		}
		for _, h := range hashes {
			rows = append(rows, SearchTerm{OrganizationID: c.OrganizationID, Term: h, ContactID: c.ID, Field: part.field})
		}
	}
	if len(rows) == 0 {
		return nil
	}
	return tx.CreateInBatches(rows, 200).Error
}

// errContactIndexMap: a contact's name or email is written with Save or
// Create (the row at hand), never from a map, so the index can follow.
var errContactIndexMap = errors.New("contact name or email written from a map: use Save so the search index follows")

// AfterSave keeps the contact's search index rows in step with its name
// and email, in the same transaction as the write: on create, on Save of
// the whole row, and on Select(...).Save naming name or email.
func (c *Contact) AfterSave(tx *gorm.DB) error {
	ks := KeysFrom(tx.Statement.Context)
	if ks == nil || c.ID == 0 || c.OrganizationID == 0 {
		return nil
	}
	if m, ok := tx.Statement.Dest.(map[string]any); ok {
		for k := range m {
			if k == "name" || k == "email" || k == "Name" || k == "Email" {
				return errContactIndexMap
			}
		}
		return nil
	}
	if sel := tx.Statement.Selects; len(sel) > 0 && !slices.ContainsFunc(sel, func(s string) bool {
		return s == "*" || s == "name" || s == "email" || s == "Name" || s == "Email"
	}) {
		return nil
	}
	return indexContact(tx.Statement.Context, tx, ks, c)
}
