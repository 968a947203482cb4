package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/convot/convot/models"
)

// Search in the inbox: an operator finds the organization's conversations
// by the words of their messages (snippet decrypted, the word marked) and
// contacts by name and email, and never another organization's, though
// both hold the same words.
func TestInboxSearchIsTheOrganizationsOwn(t *testing.T) {
	ts, acme := acmeInbox(t)
	beta := newInboxWorld(t, ts, "bea@beta.test", "Beta")
	_, acmeConv := acme.conversation(t, models.Contact{Name: "Ada Lovelace", Email: "ada@acme-customer.test"}, "The parcel to Zürich never arrived, tracking 99812")
	acme.conversation(t, models.Contact{Name: "Carl Other", Email: "carl@acme-customer.test"}, "Thanks for the quick help")
	_, betaConv := beta.conversation(t, models.Contact{Name: "Ada Lovelace", Email: "ada@beta-customer.test"}, "My parcel to Zurich is late")

	search := func(w *inboxWorld, q string) response {
		t.Helper()
		r := w.owner.get("/inbox/search?" + url.Values{"q": {q}}.Encode())
		if r.status != http.StatusOK {
			t.Fatalf("search %q: %d %s", q, r.status, r.body)
		}
		return r
	}
	r := search(acme, "zurich PARCEL")
	if !strings.Contains(r.body, `data-conversation-id="`+itoa(acmeConv.ID)+`"`) || strings.Contains(r.body, `data-conversation-id="`+itoa(betaConv.ID)+`"`) {
		t.Fatalf("Acme's search: want Acme's conversation only:\n%s", r.body)
	}
	if !strings.Contains(r.body, "<mark>parcel</mark> to Zürich never arrived") || !strings.Contains(r.body, "Ada Lovelace") {
		t.Fatalf("Acme's search lacks the decrypted snippet:\n%s", r.body)
	}
	if strings.Contains(r.body, "Thanks for the quick help") {
		t.Fatal("a conversation without the words was listed")
	}
	r = search(beta, "zurich parcel")
	if !strings.Contains(r.body, `data-conversation-id="`+itoa(betaConv.ID)+`"`) || strings.Contains(r.body, `data-conversation-id="`+itoa(acmeConv.ID)+`"`) ||
		strings.Contains(r.body, "never arrived") {
		t.Fatalf("Beta's search: want Beta's conversation only:\n%s", r.body)
	}
	// Contacts by the start of a name and by email.
	r = search(acme, "lovel")
	if strings.Count(r.body, `data-testid="search-contact"`) != 1 || !strings.Contains(r.body, "ada@acme-customer.test") || strings.Contains(r.body, "beta-customer") {
		t.Fatalf("contact search:\n%s", r.body)
	}
	r = search(beta, "ada@beta-customer.test")
	if strings.Count(r.body, `data-testid="search-contact"`) != 1 || strings.Contains(r.body, "acme-customer") {
		t.Fatalf("contact search by email:\n%s", r.body)
	}
	// An empty search shows the form; a long one is refused with a message.
	if r := search(acme, ""); !strings.Contains(r.body, `data-testid="search-form"`) {
		t.Fatal("no search form")
	}
	if r := acme.owner.get("/inbox/search?" + url.Values{"q": {strings.Repeat("a", 201)}}.Encode()); r.status != http.StatusBadRequest ||
		!strings.Contains(r.body, "longer than 200 characters") {
		t.Fatalf("long search: %d", r.status)
	}
	// Signed out, no search.
	if r := ts.browser(t).get("/inbox/search?q=parcel"); r.status == http.StatusOK {
		t.Fatal("a signed-out visitor searched")
	}
}

// With AI embeddings turned on, conversations found by meaning join the
// exact matches, marked as semantic; with them off, only exact matches.
func TestInboxSearchJoinsSemanticResults(t *testing.T) {
	ts, w := acmeInbox(t)
	_, exact := w.conversation(t, models.Contact{Name: "Ada Lovelace"}, "My parcel never arrived, I want a refund")
	_, near := w.conversation(t, models.Contact{Name: "Grace Hopper"}, "The parcel came damaged")
	find := func(q string) string {
		t.Helper()
		r := w.owner.get("/inbox/search?" + url.Values{"q": {q}}.Encode())
		if r.status != http.StatusOK {
			t.Fatalf("search %q: %d", q, r.status)
		}
		return r.body
	}
	if body := find("parcel refund"); strings.Contains(body, `data-semantic="true"`) || strings.Contains(body, `data-conversation-id="`+itoa(near.ID)+`"`) {
		t.Fatal("semantic results with AI search off")
	}
	if err := ts.db.Model(&models.Organization{}).Where("id = ?", w.org.ID).Update("ai_settings", "embeddings=local").Error; err != nil {
		t.Fatal(err)
	}
	for _, c := range []*models.Conversation{exact, near} {
		if err := ts.srv.Assist.Index(context.Background(), w.org.ID, c.ID); err != nil {
			t.Fatal(err)
		}
	}
	body := find("parcel refund")
	exactAt := strings.Index(body, `data-conversation-id="`+itoa(exact.ID)+`"`)
	nearAt := strings.Index(body, `data-conversation-id="`+itoa(near.ID)+`" data-semantic="true"`)
	if exactAt < 0 || nearAt < 0 || nearAt < exactAt {
		t.Fatalf("want the exact match, then the semantic one:\n%s", body)
	}
	if strings.Count(body, `data-testid="search-conversation"`) != 2 || strings.Count(body, `data-testid="search-semantic"`) != 1 {
		t.Fatalf("an exact match listed twice or unmarked:\n%s", body)
	}
}
