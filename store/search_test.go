package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/internal/testdb"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
)

type searchFixture struct {
	ctx  context.Context
	db   *testdb.DB
	st   *store.Store
	org  *models.Organization
	ada  *models.Contact
	bob  *models.Contact
	conv *models.Conversation
	bobC *models.Conversation
}

func newSearchFixture(t *testing.T) *searchFixture {
	t.Helper()
	f := &searchFixture{ctx: context.Background(), db: testdb.New(t)}
	f.st = store.New(f.db.DB, f.db.Keys)
	f.org = &models.Organization{PublicKey: crypto.RandomToken(12), CompanyName: "Acme", Region: "eu", Status: models.OrgActive}
	mustCreate(t, f.db, f.org)
	f.ada = &models.Contact{OrganizationID: f.org.ID, Name: "Ada Lovelace", Email: "ada.lovelace@example.com"}
	f.bob = &models.Contact{OrganizationID: f.org.ID, Name: "Bob Müller", Email: "bob@example.org"}
	for _, c := range []*models.Contact{f.ada, f.bob} {
		if err := f.st.CreateContact(f.ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().UTC()
	f.conv = &models.Conversation{OrganizationID: f.org.ID, ContactID: f.ada.ID, DataKeyID: f.ada.DataKeyID, Channel: "widget", Status: "open", LastMessageAt: now}
	f.bobC = &models.Conversation{OrganizationID: f.org.ID, ContactID: f.bob.ID, DataKeyID: f.bob.DataKeyID, Channel: "widget", Status: "open", LastMessageAt: now}
	mustCreate(t, f.db, f.conv)
	mustCreate(t, f.db, f.bobC)
	return f
}

func (f *searchFixture) post(t *testing.T, conv *models.Conversation, body string) *models.Message {
	t.Helper()
	m := &models.Message{OrganizationID: f.org.ID, ConversationID: conv.ID, DataKeyID: conv.DataKeyID, AuthorType: "contact",
		Body: body, DeliveryStatus: "sent", CreatedAt: time.Now().UTC()}
	if err := f.st.InsertMessage(f.ctx, m, false); err != nil {
		t.Fatal(err)
	}
	return m
}

func messageIDs(r *store.SearchResults) []uint64 {
	var out []uint64
	for _, m := range r.Messages {
		out = append(out, m.Message.ID)
	}
	return out
}

func contactIDs(r *store.SearchResults) []uint64 {
	var out []uint64
	for _, c := range r.Contacts {
		out = append(out, c.ID)
	}
	return out
}

// Messages are found by their words whatever the case and accents, all
// words must match, the newest message of a conversation stands for it,
// and the message comes back decrypted.
func TestSearchFindsMessagesByWords(t *testing.T) {
	f := newSearchFixture(t)
	first := f.post(t, f.conv, "My order #4411 never arrived, I want a REFUND.")
	latest := f.post(t, f.conv, "Still waiting for the refund of order 4411")
	bobs := f.post(t, f.bobC, "Das Café hat keine Rückerstattung gemacht")
	cases := []struct {
		q    string
		want []uint64
	}{
		{"refund", []uint64{latest.ID}},
		{"Refund ORDER", []uint64{latest.ID}},
		{"arrived refund", []uint64{first.ID}},
		{"cafe", []uint64{bobs.ID}},
		{"rückerstattung", []uint64{bobs.ID}},
		{"ruckerstattung", []uint64{bobs.ID}},
		{"refund café", nil},
		{"refu", nil}, // message words match whole
		{"   ", nil},
	}
	for _, c := range cases {
		res, err := f.st.Search(f.ctx, f.org.ID, c.q, 20)
		if err != nil {
			t.Fatal(err)
		}
		got := messageIDs(res)
		if len(got) != len(c.want) || (len(got) > 0 && got[0] != c.want[0]) {
			t.Errorf("search %q: messages %v, want %v", c.q, got, c.want)
		}
	}
	res, err := f.st.Search(f.ctx, f.org.ID, "refund", 20)
	if err != nil {
		t.Fatal(err)
	}
	if m := res.Messages[0]; m.Message.Body != latest.Body || m.Contact.Name != "Ada Lovelace" || m.Conversation.ID != f.conv.ID {
		t.Fatalf("match not decrypted or not joined: %+v", m)
	}
}

// Contacts are found by their name and email, by the start of a word, and
// the index follows a change of name.
func TestSearchFindsContactsAndFollowsChanges(t *testing.T) {
	f := newSearchFixture(t)
	for q, want := range map[string]uint64{
		"lovelace": f.ada.ID, "Lov": f.ada.ID, "ada lovelace": f.ada.ID, "ada.lovelace@example.com": f.ada.ID,
		"muller": f.bob.ID, "MÜLL": f.bob.ID, "example.org": f.bob.ID,
	} {
		res, err := f.st.Search(f.ctx, f.org.ID, q, 20)
		if err != nil {
			t.Fatal(err)
		}
		if got := contactIDs(res); len(got) != 1 || got[0] != want {
			t.Errorf("search %q: contacts %v, want [%d]", q, got, want)
		}
	}
	f.ada.Name, f.ada.Email = "Augusta King", "augusta@example.net"
	if err := f.st.SaveContactFields(f.ctx, f.org.ID, f.ada, "name", "email", "email_index"); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]int{"lovelace": 0, "ada.lovelace@example.com": 0, "augusta": 1, "king": 1, "augusta@example.net": 1} {
		res, err := f.st.Search(f.ctx, f.org.ID, q, 20)
		if err != nil {
			t.Fatal(err)
		}
		if got := contactIDs(res); len(got) != want {
			t.Errorf("after the rename, search %q: contacts %v, want %d", q, got, want)
		}
	}
	// A write that bypasses the row (a map naming the name) is refused
	// rather than leaving the index behind.
	err := f.db.Model(&models.Contact{ID: f.ada.ID, OrganizationID: f.org.ID}).Updates(map[string]any{"name": "X"}).Error
	if err == nil {
		t.Fatal("a map update of the name was accepted")
	}
}

// A redacted message's words leave the index with its text.
func TestRedactedMessageLeavesTheIndex(t *testing.T) {
	f := newSearchFixture(t)
	m := f.post(t, f.conv, "my passport number is X1234567")
	if err := f.st.RedactRemnant(f.ctx, f.org.ID, "Message", "body", m.ID); err != nil {
		t.Fatal(err)
	}
	res, err := f.st.Search(f.ctx, f.org.ID, "x1234567", 20)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Messages) != 0 {
		t.Fatalf("the redacted word is still found: %v", messageIDs(res))
	}
	res, err = f.st.Search(f.ctx, f.org.ID, "redacted", 20)
	if err != nil || len(res.Messages) != 1 {
		t.Fatalf("the marker is not indexed: %v %v", err, messageIDs(res))
	}
}

// The scanner finds a search index entry of the erased subject left
// behind: an entry naming another contact that holds the hash of the
// subject's address.
func TestScannerFindsSearchIndexRemnants(t *testing.T) {
	ctx := context.Background()
	db := testdb.New(t)
	f := newPrivacyFixture(t, db)
	st := store.New(db.DB, db.Keys)
	s, err := st.LocateEndUser(ctx, f.org.ID, f.contact.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := st.PlanErasure(ctx, f.org.ID, s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.EraseSubject(ctx, f.org.ID, s); err != nil {
		t.Fatal(err)
	}
	hashes, err := db.Keys.SearchHashes(ctx, f.org.ID, []string{"ada@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	stray := &models.SearchTerm{OrganizationID: f.org.ID, Term: hashes[0], ContactID: f.bystander.ID, Field: models.SearchFieldBody, MessageID: 1, ConversationID: 1}
	mustCreate(t, db, stray)
	report, err := st.ScanErasure(ctx, f.org.ID, s, plan.Terms)
	if err != nil {
		t.Fatal(err)
	}
	if report.Clean || report.FindingsTotal != 1 || report.Findings[0].Kind != "index_found" ||
		report.Findings[0].Model != "SearchTerm" || report.Findings[0].RowID != stray.ID {
		t.Fatalf("scan with a stray index entry: %+v", report)
	}
}

// With only common words (each in more rows than the count cap), the
// search walks the first word's rows newest first and joins the others:
// the messages holding every word come back, newest first.
func TestSearchWithCommonWordsJoins(t *testing.T) {
	f := newSearchFixture(t)
	t.Cleanup(store.SetTermCountCap(2000))
	const n = 2100 // more than the cap of rarestFirst
	now := time.Now().UTC()
	msgs := make([]models.Message, n)
	for i := range msgs {
		msgs[i] = models.Message{OrganizationID: f.org.ID, ConversationID: f.conv.ID, DataKeyID: f.conv.DataKeyID, AuthorType: "contact",
			Body: "common words", DeliveryStatus: "sent", CreatedAt: now}
		if i%2 == 0 {
			msgs[i].Body = "common words and more"
		}
	}
	if err := f.db.CreateInBatches(msgs, 500).Error; err != nil {
		t.Fatal(err)
	}
	var terms []models.SearchTerm
	for _, m := range msgs {
		hashes, err := f.db.Keys.MessageSearchHashes(f.ctx, f.org.ID, m.Body)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hashes {
			terms = append(terms, models.SearchTerm{OrganizationID: f.org.ID, Term: h, ContactID: f.ada.ID, ConversationID: m.ConversationID, MessageID: m.ID, Field: models.SearchFieldBody})
		}
	}
	if err := f.db.CreateInBatches(terms, 1000).Error; err != nil {
		t.Fatal(err)
	}
	res, err := f.st.Search(f.ctx, f.org.ID, "common words", 20)
	if err != nil {
		t.Fatal(err)
	}
	// One conversation: its newest message stands for it.
	if got := messageIDs(res); len(got) != 1 || got[0] != msgs[n-1].ID {
		t.Fatalf("common words: %v, want [%d]", got, msgs[n-1].ID)
	}
	res, err = f.st.Search(f.ctx, f.org.ID, "words common and", 20)
	if err != nil {
		t.Fatal(err)
	}
	if got := messageIDs(res); len(got) != 1 || got[0] != msgs[n-2].ID || res.Messages[0].Message.Body != "common words and more" {
		t.Fatalf("three common words: %v, want [%d]", got, msgs[n-2].ID)
	}
}

// Rows written before the index existed are found once reindexed, and a
// second reindex changes nothing (it rewrites, never duplicates).
func TestReindexFindsRowsWrittenBeforeTheIndex(t *testing.T) {
	f := newSearchFixture(t)
	f.post(t, f.conv, "Where is my parcel to Zürich?")
	f.post(t, f.bobC, "Invoice question")
	if err := f.db.Exec("DELETE FROM search_terms").Error; err != nil {
		t.Fatal(err)
	}
	if r, err := f.st.Search(f.ctx, f.org.ID, "parcel", 10); err != nil || len(r.Messages) != 0 {
		t.Fatalf("before the reindex: %+v %v", r, err)
	}
	reindex := func() int64 {
		t.Helper()
		for after := uint64(0); ; {
			last, err := f.st.ReindexContactsPage(f.ctx, f.org.ID, after, 1)
			if err != nil {
				t.Fatal(err)
			}
			if last == 0 {
				break
			}
			after = last
		}
		for after := uint64(0); ; {
			last, err := f.st.ReindexMessagesPage(f.ctx, f.org.ID, after, 1)
			if err != nil {
				t.Fatal(err)
			}
			if last == 0 {
				break
			}
			after = last
		}
		var n int64
		if err := f.db.Raw("SELECT COUNT(*) FROM search_terms").Scan(&n).Error; err != nil {
			t.Fatal(err)
		}
		return n
	}
	first := reindex()
	r, err := f.st.Search(f.ctx, f.org.ID, "zurich parcel", 10)
	if err != nil || len(r.Messages) != 1 || r.Messages[0].Message.ConversationID != f.conv.ID {
		t.Fatalf("after the reindex: %+v %v", r, err)
	}
	if r, err := f.st.Search(f.ctx, f.org.ID, "lovel", 10); err != nil || len(contactIDs(r)) != 1 || contactIDs(r)[0] != f.ada.ID {
		t.Fatalf("contact after the reindex: %+v %v", r, err)
	}
	if again := reindex(); again != first || first == 0 {
		t.Fatalf("index rows: %d after the first reindex, %d after the second", first, again)
	}
}
