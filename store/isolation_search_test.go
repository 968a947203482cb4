package store

import (
	"slices"
	"testing"

	"github.com/convot/convot/models"
)

func init() {
	isolationCases = append(isolationCases,
		isolationCase{"Search", func(t *testing.T, f *fixture) {
			db := f.store.with(f.ctx)
			for _, m := range []*models.Message{&f.A.Message, &f.B.Message} {
				must(t, models.IndexMessage(f.ctx, db, f.store.keys, m))
			}
			// B searches for words of both organizations' messages and
			// contacts ("hello from a", "Contact a", contact-a@example.com).
			for _, q := range []string{"hello", "hello from a", "contact", "contact-a@example.com", "a"} {
				res, err := f.store.Search(f.ctx, f.B.Org.ID, q, 20)
				must(t, err)
				for _, m := range res.Messages {
					if m.Message.OrganizationID != f.B.Org.ID || m.Conversation.OrganizationID != f.B.Org.ID || m.Contact.ID == f.A.Contact.ID {
						t.Fatalf("B's search %q returned A's message %d", q, m.Message.ID)
					}
				}
				for _, c := range res.Contacts {
					if c.OrganizationID != f.B.Org.ID {
						t.Fatalf("B's search %q returned A's contact %d", q, c.ID)
					}
				}
			}
			res, err := f.store.Search(f.ctx, f.B.Org.ID, "hello", 20)
			must(t, err)
			if len(res.Messages) != 1 || res.Messages[0].Message.ID != f.B.Message.ID {
				t.Fatalf("B's search for hello: %+v, want B's message alone", res.Messages)
			}
			// The same word has different index values in each
			// organization: A's rows cannot match B's hashes.
			ha, err := f.store.keys.SearchHashes(f.ctx, f.A.Org.ID, []string{"hello"})
			must(t, err)
			hb, err := f.store.keys.SearchHashes(f.ctx, f.B.Org.ID, []string{"hello"})
			must(t, err)
			if slices.Equal(ha, hb) {
				t.Fatal("two organizations share a search key")
			}
		}},
	)
}
