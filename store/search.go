package store

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/convot/convot/models"
)

// Search limits: the words of a query that count, and the rows looked up.
const (
	maxSearchWords    = 8
	maxSearchMessages = 60
)

// MessageMatch is a message whose body holds every word searched for,
// decrypted, with its conversation and contact.
type MessageMatch struct {
	Message      models.Message
	Conversation models.Conversation
	Contact      models.Contact
}

// SearchResults is what a search of an organization found: messages
// (newest first, at most one per conversation) and contacts whose name or
// email holds every word (a word may be the start of one of theirs).
type SearchResults struct {
	Words    []string
	Messages []MessageMatch
	Contacts []models.Contact
}

// Search looks up the words of query in the organization's blind index
// (models.SearchTerm) and loads what matched, decrypted. Only the
// organization's rows are read; its key differs from every other
// organization's, so its hashes match nothing elsewhere either.
func (s *Store) Search(ctx context.Context, orgID uint64, query string, limit int) (*SearchResults, error) {
	res := &SearchResults{Words: models.SearchWords(query)}
	if len(res.Words) > maxSearchWords {
		res.Words = res.Words[:maxSearchWords]
	}
	if len(res.Words) == 0 || limit <= 0 {
		return res, nil
	}
	hashes, err := s.keys.SearchHashes(ctx, orgID, res.Words)
	if err != nil {
		return nil, err
	}
	hits, err := s.searchMessages(ctx, orgID, hashes)
	if err != nil {
		return nil, err
	}
	// One message per conversation, the newest.
	seen := map[uint64]bool{}
	var msgIDs, convIDs []uint64
	for _, h := range hits {
		if seen[h.ConversationID] || len(convIDs) >= limit {
			continue
		}
		seen[h.ConversationID] = true
		msgIDs, convIDs = append(msgIDs, h.MessageID), append(convIDs, h.ConversationID)
	}
	contactIDs, err := s.searchContacts(ctx, orgID, hashes, limit)
	if err != nil {
		return nil, err
	}
	var msgs []models.Message
	var convs []models.Conversation
	if len(msgIDs) > 0 {
		if err := s.with(ctx).Where("organization_id = ? AND id IN ?", orgID, msgIDs).Find(&msgs).Error; err != nil {
			return nil, err
		}
		if err := s.with(ctx).Where("organization_id = ? AND id IN ?", orgID, convIDs).Find(&convs).Error; err != nil {
			return nil, err
		}
	}
	wanted := append([]uint64{}, contactIDs...)
	for _, c := range convs {
		wanted = append(wanted, c.ContactID)
	}
	var contacts []models.Contact
	if len(wanted) > 0 {
		if err := s.with(ctx).Where("organization_id = ? AND id IN ?", orgID, wanted).Find(&contacts).Error; err != nil {
			return nil, err
		}
	}
	msgByID := map[uint64]models.Message{}
	for _, m := range msgs {
		msgByID[m.ID] = m
	}
	convByID := map[uint64]models.Conversation{}
	for _, c := range convs {
		convByID[c.ID] = c
	}
	contactByID := map[uint64]models.Contact{}
	for _, c := range contacts {
		contactByID[c.ID] = c
	}
	for _, id := range msgIDs {
		m, ok := msgByID[id]
		if !ok {
			continue
		}
		c, ok := convByID[m.ConversationID]
		if !ok {
			continue
		}
		res.Messages = append(res.Messages, MessageMatch{Message: m, Conversation: c, Contact: contactByID[c.ContactID]})
	}
	for _, id := range contactIDs {
		if c, ok := contactByID[id]; ok {
			res.Contacts = append(res.Contacts, c)
		}
	}
	return res, nil
}

type searchHit struct {
	MessageID      uint64
	ConversationID uint64
}

// The search statements carry their values as literals, not parameters:
// their plan then always fits the words at hand (a prepared statement's
// generic plan, chosen after a few runs, cannot know that one word is rare
// and another common). The literals are safe by construction: numbers,
// and hashes of the base64url alphabet (checked).

func hashLiteral(h string) (string, error) {
	base64url := func(r rune) bool {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_'
	}
	if h == "" || strings.ContainsFunc(h, func(r rune) bool { return !base64url(r) }) {
		return "", fmt.Errorf("search: not an index value")
	}
	return "'" + h + "'", nil
}

func hashList(hashes []string) (string, error) {
	parts := make([]string, len(hashes))
	for i, h := range hashes {
		var err error
		if parts[i], err = hashLiteral(h); err != nil {
			return "", err
		}
	}
	return strings.Join(parts, ", "), nil
}

func idList(ids []uint64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatUint(id, 10)
	}
	return strings.Join(parts, ", ")
}

// searchMessages lists the organization's messages holding every hash,
// newest first. With a rare word, its rows narrowed by the others
// (intersectMessages); with only common words, the first word's rows
// walked newest first, each joined to the others' by message on the
// (organization, term, message) index.
func (s *Store) searchMessages(ctx context.Context, orgID uint64, hashes []string) ([]searchHit, error) {
	if len(hashes) > 1 {
		ordered, counts, err := s.rarestFirst(ctx, orgID, hashes)
		if err != nil {
			return nil, err
		}
		hashes = ordered
		if counts[0] < termCountCap {
			return s.intersectMessages(ctx, orgID, hashes, counts)
		}
	}
	org := strconv.FormatUint(orgID, 10)
	var b strings.Builder
	b.WriteString("SELECT t0.message_id, t0.conversation_id FROM search_terms t0")
	for i, h := range hashes[1:] {
		lit, err := hashLiteral(h)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, " JOIN search_terms t%[1]d ON t%[1]d.organization_id = %[2]s AND t%[1]d.term = %[3]s AND t%[1]d.message_id = t0.message_id", i+1, org, lit)
	}
	first, err := hashLiteral(hashes[0])
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(&b, " WHERE t0.organization_id = %s AND t0.term = %s AND t0.message_id > 0 ORDER BY t0.message_id DESC LIMIT %d", org, first, maxSearchMessages)
	var hits []searchHit
	err = s.with(ctx).Raw(b.String()).Scan(&hits).Error
	return hits, err
}

// searchContacts lists the organization's contacts whose name or email
// rows hold every hash, newest first.
func (s *Store) searchContacts(ctx context.Context, orgID uint64, hashes []string, limit int) ([]uint64, error) {
	list, err := hashList(hashes)
	if err != nil {
		return nil, err
	}
	var ids []uint64
	err = s.with(ctx).Raw(fmt.Sprintf(`SELECT contact_id FROM search_terms
WHERE organization_id = %d AND message_id = 0 AND term IN (%s)
GROUP BY contact_id HAVING COUNT(DISTINCT term) = %d ORDER BY contact_id DESC LIMIT %d`, orgID, list, len(hashes), limit)).Scan(&ids).Error
	return ids, err
}

// termCountCap bounds the counting of a word's rows: a word in fewer rows
// is read whole; past it a word is common, found in the rows of rarer
// words by index lookups, or walked newest first when every word is
// common (matches are then dense).
var termCountCap int64 = 2000

// rarestFirst orders hashes by how many rows hold each (counted up to
// termCountCap, in one statement), rarest first, with their counts.
func (s *Store) rarestFirst(ctx context.Context, orgID uint64, hashes []string) ([]string, []int64, error) {
	var parts []string
	for i, h := range hashes {
		lit, err := hashLiteral(h)
		if err != nil {
			return nil, nil, err
		}
		parts = append(parts, fmt.Sprintf("SELECT %d AS pos, (SELECT COUNT(*) FROM (SELECT 1 FROM search_terms WHERE organization_id = %d AND term = %s AND message_id > 0 LIMIT %d) x) AS n", i, orgID, lit, termCountCap))
	}
	var rows []struct {
		Pos int
		N   int64
	}
	if err := s.with(ctx).Raw(strings.Join(parts, " UNION ALL ") + " ORDER BY n, pos").Scan(&rows).Error; err != nil {
		return nil, nil, err
	}
	if len(rows) != len(hashes) {
		return nil, nil, fmt.Errorf("search: counted %d of %d words", len(rows), len(hashes))
	}
	out := make([]string, len(hashes))
	counts := make([]int64, len(hashes))
	for i, r := range rows {
		out[i], counts[i] = hashes[r.Pos], r.N
	}
	return out, counts, nil
}

// intersectMessages finds the messages holding every hash when the first
// (the rarest) is rare: its rows, narrowed by each other hash in turn
// (a rare one read whole and intersected, a common one looked up for the
// messages left), so the work follows the rare words.
func (s *Store) intersectMessages(ctx context.Context, orgID uint64, hashes []string, counts []int64) ([]searchHit, error) {
	first, err := hashLiteral(hashes[0])
	if err != nil {
		return nil, err
	}
	var hits []searchHit
	if err := s.with(ctx).Raw(fmt.Sprintf(`SELECT message_id, conversation_id FROM search_terms
WHERE organization_id = %d AND term = %s AND message_id > 0 ORDER BY message_id DESC`, orgID, first)).Scan(&hits).Error; err != nil {
		return nil, err
	}
	for i, h := range hashes[1:] {
		if len(hits) == 0 {
			return nil, nil
		}
		lit, err := hashLiteral(h)
		if err != nil {
			return nil, err
		}
		q := fmt.Sprintf("SELECT message_id FROM search_terms WHERE organization_id = %d AND term = %s AND message_id > 0", orgID, lit)
		if counts[i+1] >= termCountCap {
			ids := make([]uint64, len(hits))
			for j, hit := range hits {
				ids[j] = hit.MessageID
			}
			q += " AND message_id IN (" + idList(ids) + ")"
		}
		var keep []uint64
		if err := s.with(ctx).Raw(q).Scan(&keep).Error; err != nil {
			return nil, err
		}
		kept := make(map[uint64]bool, len(keep))
		for _, id := range keep {
			kept[id] = true
		}
		hits = slices.DeleteFunc(hits, func(hit searchHit) bool { return !kept[hit.MessageID] })
	}
	if len(hits) > maxSearchMessages {
		hits = hits[:maxSearchMessages]
	}
	return hits, nil
}
