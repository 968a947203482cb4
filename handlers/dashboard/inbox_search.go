package dashboard

import (
	"errors"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/assist"
	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/models"
)

// Search in the inbox (issue 20): the organization's messages, contacts'
// names and emails, through the keyed blind index (store.Search; what it
// reveals is in docs/search.md), shown with decrypted snippets. When the
// organization turned semantic search (AI embeddings) on, its hits join
// the list, marked as semantic.

const (
	searchQueryMax   = 200
	searchLimit      = 20
	semanticLimit    = 10
	snippetRadius    = 60 // characters either side of the first match
	searchResultsFor = "Search"
)

// SearchSnippet is a message cut around its first matching word.
type SearchSnippet struct {
	Before, Match, After string
}

// SearchConversation is one conversation found: by a message's words
// (Snippet) or by meaning (Semantic).
type SearchConversation struct {
	ConversationID uint64
	Contact        string
	Status         string
	Snippet        SearchSnippet
	Semantic       bool
	Score          float64
}

// SearchContact is one contact found by name or email.
type SearchContact struct {
	ID    uint64
	Label string
	Email string
}

func (h *Handler) searchRoutes(pages *gin.RouterGroup) {
	pages.GET("/search", h.inboxSearchPage)
}

func (h *Handler) inboxSearchPage(c *gin.Context) {
	q := strings.TrimSpace(c.Query("q"))
	if utf8.RuneCountInString(q) > searchQueryMax {
		h.Fail(c, http.StatusBadRequest, searchResultsFor, "The search is longer than 200 characters.")
		return
	}
	data := gin.H{"Query": q}
	if q == "" {
		h.Render(c, http.StatusOK, "inbox_search", h.Page(c, searchResultsFor, "inbox", data))
		return
	}
	org := site.CurrentOrg(c)
	res, err := h.Store.Search(c, org.ID, q, searchLimit)
	if err != nil {
		h.Internal(c, err)
		return
	}
	var convs []SearchConversation
	seen := map[uint64]bool{}
	for _, m := range res.Messages {
		seen[m.Conversation.ID] = true
		convs = append(convs, SearchConversation{ConversationID: m.Conversation.ID, Contact: ContactLabel(&m.Contact),
			Status: m.Conversation.Status, Snippet: snippetOf(m.Message.Body, res.Words)})
	}
	if h.Assist != nil {
		hits, err := h.Assist.Search(c, org.ID, q, semanticLimit)
		switch {
		case errors.Is(err, assist.ErrOff):
		case err != nil:
			data["SemanticError"] = "Semantic search is unavailable right now; these are the exact matches."
		default:
			for _, hit := range hits {
				if seen[hit.ConversationID] {
					continue
				}
				conv, err := h.Store.Conversation(c, org.ID, hit.ConversationID)
				if err != nil {
					continue // erased or merged since it was indexed
				}
				seen[conv.ID] = true
				var label string
				if cts, err := h.Store.ContactLabels(c, org.ID, []uint64{conv.ContactID}); err == nil && len(cts) == 1 {
					label = ContactLabel(&cts[0])
				} else {
					label = ContactLabel(nil)
				}
				convs = append(convs, SearchConversation{ConversationID: conv.ID, Contact: label, Status: conv.Status,
					Snippet: SearchSnippet{Before: conv.Subject}, Semantic: true, Score: hit.Score})
			}
		}
	}
	contacts := make([]SearchContact, 0, len(res.Contacts))
	for i := range res.Contacts {
		ct := &res.Contacts[i]
		contacts = append(contacts, SearchContact{ID: ct.ID, Label: ContactLabel(ct), Email: ct.Email})
	}
	data["Conversations"], data["Contacts"] = convs, contacts
	h.Render(c, http.StatusOK, "inbox_search", h.Page(c, searchResultsFor, "inbox", data))
}

// snippetOf cuts body around the first place one of words occurs as a
// word (normalised as the index normalises them: case and accents do not
// matter).
func snippetOf(body string, words []string) SearchSnippet {
	runes := []rune(body)
	// folded[i] is rune i as the index sees it; a rune that folds to
	// nothing (a lone combining mark) stays itself.
	folded := make([]string, len(runes))
	for i, r := range runes {
		folded[i] = models.NormalizeSearchText(string(r))
	}
	isWord := func(i int) bool {
		return i >= 0 && i < len(runes) && len(models.SearchWords(string(runes[i]))) > 0
	}
	// The earliest place where any of the words starts a word of body.
	start, end := -1, -1
	for i := 0; i < len(runes) && start < 0; i++ {
		if isWord(i - 1) {
			continue // not the start of a word
		}
		for _, w := range words {
			wr := []rune(w)
			j, k := i, 0
			for j < len(runes) && k < len(wr) {
				f := []rune(folded[j])
				if len(f) == 0 || k+len(f) > len(wr) || string(wr[k:k+len(f)]) != string(f) {
					break
				}
				k += len(f)
				j++
			}
			if k == len(wr) && !isWord(j) {
				start, end = i, j
				break
			}
		}
	}
	if start < 0 {
		if len(runes) > 2*snippetRadius {
			return SearchSnippet{Before: string(runes[:2*snippetRadius]) + "…"}
		}
		return SearchSnippet{Before: body}
	}
	from, to := max(0, start-snippetRadius), min(len(runes), end+snippetRadius)
	s := SearchSnippet{Before: string(runes[from:start]), Match: string(runes[start:end]), After: string(runes[end:to])}
	if from > 0 {
		s.Before = "…" + s.Before
	}
	if to < len(runes) {
		s.After += "…"
	}
	return s
}
