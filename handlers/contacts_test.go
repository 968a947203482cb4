package handlers

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/convot/convot/handlers/dashboard"
	"github.com/convot/convot/models"
)

func TestContactSearch(t *testing.T) {
	_, w := acmeInbox(t)
	ada, _ := w.conversation(t, models.Contact{Name: "Ada Lovelace", Email: "ada@example.test"}, "")
	grace, _ := w.conversation(t, models.Contact{Name: "Grace Hopper", Email: "grace@navy.test"}, "")
	anon, _ := w.conversation(t, models.Contact{}, "")
	for i := range 30 {
		w.conversation(t, models.Contact{Name: fmt.Sprintf("Customer %02d", i), Email: fmt.Sprintf("c%02d@shop.test", i)}, "")
	}
	row := func(ct *models.Contact) string {
		return `data-testid="contact-row" data-contact-id="` + itoa(ct.ID) + `"`
	}

	// The list, newest first, in pages of 25.
	first := w.owner.get("/inbox/contacts")
	if first.status != http.StatusOK || strings.Count(first.body, `data-testid="contact-row"`) != dashboard.ContactPageSize || !strings.Contains(first.body, `data-testid="contact-list-next"`) {
		t.Fatalf("first page: %d, %d rows", first.status, strings.Count(first.body, `data-testid="contact-row"`))
	}
	second := w.owner.get("/inbox/contacts?page=1")
	if n := strings.Count(second.body, `data-testid="contact-row"`); n != 33-dashboard.ContactPageSize || !strings.Contains(second.body, row(ada)) {
		t.Fatalf("second page: %d rows", n)
	}
	if !strings.Contains(second.body, "Visitor #"+itoa(anon.ID)) {
		t.Error("an anonymous contact is not listed as a visitor")
	}

	// An email address: exact match through the blind index, whatever its case.
	r := w.owner.get("/inbox/contacts?q=" + "%20ADA%40Example.TEST%20")
	if !strings.Contains(r.body, row(ada)) || strings.Count(r.body, `data-testid="contact-row"`) != 1 {
		t.Fatalf("search by email: %s", excerpt(r.body))
	}
	if r := w.owner.get("/inbox/contacts?q=ada%40example"); strings.Contains(r.body, `data-testid="contact-row"`) {
		t.Error("a partial address matched through the index")
	}
	// Text: names and addresses, decrypted.
	for q, want := range map[string]*models.Contact{"hopper": grace, "LOVELACE": ada, "navy": grace} {
		r := w.owner.get("/inbox/contacts?q=" + q)
		if !strings.Contains(r.body, row(want)) || strings.Count(r.body, `data-testid="contact-row"`) != 1 {
			t.Errorf("search %q: %d rows", q, strings.Count(r.body, `data-testid="contact-row"`))
		}
	}
	// Text search pages too.
	r = w.owner.get("/inbox/contacts?q=customer")
	if strings.Count(r.body, `data-testid="contact-row"`) != dashboard.ContactPageSize || !strings.Contains(r.body, `page=1`) {
		t.Fatalf("text search, first page: %d rows", strings.Count(r.body, `data-testid="contact-row"`))
	}
	if r := w.owner.get("/inbox/contacts?q=customer&page=1"); strings.Count(r.body, `data-testid="contact-row"`) != 5 {
		t.Fatalf("text search, second page: %d rows", strings.Count(r.body, `data-testid="contact-row"`))
	}
	// The scan limit is said, not hidden.
	saved := dashboard.ContactScanLimit
	dashboard.ContactScanLimit = 10
	defer func() { dashboard.ContactScanLimit = saved }()
	r = w.owner.get("/inbox/contacts?q=hopper")
	if !strings.Contains(r.body, `data-testid="contact-search-truncated"`) || strings.Contains(r.body, row(grace)) {
		t.Fatal("a search cut short by the limit does not say so")
	}
	if r := w.owner.get("/inbox/contacts?q=grace%40navy.test"); !strings.Contains(r.body, row(grace)) {
		t.Fatal("search by email is bounded by the text-search limit")
	}

	// Bad input.
	wantGet(t, w.owner, "/inbox/contacts?q="+strings.Repeat("a", 201), http.StatusBadRequest, "long search")
	wantGet(t, w.owner, "/inbox/contacts?page=-1", http.StatusBadRequest, "negative page")
	wantGet(t, w.owner, "/inbox/contacts/abc", http.StatusNotFound, "malformed contact ID")
}

func TestContactPage(t *testing.T) {
	ts, w := acmeInbox(t)
	ada, first := w.conversation(t, models.Contact{Name: "Ada Lovelace", Email: "ada@example.test", Phone: "+44 1",
		ExternalID: "u-1", CustomAttributes: map[string]string{"plan": "pro"}, IP: "198.51.100.4", BrowserLanguage: "fr-FR",
		PageURL: "https://example.test/help", DeviceType: "mobile", Country: "FR"}, "Hi")
	second, err := ts.srv.Conversations.Start(t.Context(), ts.srv.Store, w.org, ada, "email")
	if err != nil {
		t.Fatal(err)
	}
	r := w.owner.get("/inbox/contacts/" + itoa(ada.ID))
	if r.status != http.StatusOK {
		t.Fatalf("contact page: %d", r.status)
	}
	for _, want := range []string{"Ada Lovelace", "ada@example.test", "&#43;44 1", "u-1", "plan", "pro", "198.51.100.4", "fr-FR",
		"https://example.test/help", "mobile", "FR", `href="/inbox/conversations/` + itoa(first.ID) + `"`,
		`href="/inbox/conversations/` + itoa(second.ID) + `"`, `href="/inbox/contacts/` + itoa(ada.ID) + `/privacy-requests"`,
		`data-testid="star-toggle"`, `data-testid="nav-contacts" class="on"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("contact page lacks %q", want)
		}
	}
	// The conversation's sidebar lists the contact's other conversations.
	page := w.owner.get(convPath(first, ""))
	if !strings.Contains(page.body, `href="/inbox/conversations/`+itoa(second.ID)+`?`) {
		t.Error("the sidebar does not list the contact's other conversation")
	}
	wantGet(t, w.owner, "/inbox/contacts/999999", http.StatusNotFound, "unknown contact")
}
