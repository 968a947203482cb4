package store

import "testing"

// Reindexing B's rows never writes index rows of A's contacts or messages.
func init() {
	termsOf := func(t *testing.T, f *fixture, orgID uint64) int64 {
		t.Helper()
		var n int64
		must(t, f.store.with(f.ctx).Raw("SELECT COUNT(*) FROM search_terms WHERE organization_id = ?", orgID).Scan(&n).Error)
		return n
	}
	isolationCases = append(isolationCases,
		isolationCase{"ReindexContactsPage", func(t *testing.T, f *fixture) {
			must(t, f.store.with(f.ctx).Exec("DELETE FROM search_terms").Error)
			_, err := f.store.ReindexContactsPage(f.ctx, f.B.Org.ID, 0, 100)
			must(t, err)
			if n := termsOf(t, f, f.A.Org.ID); n != 0 {
				t.Fatalf("B's reindex wrote %d of A's rows", n)
			}
		}},
		isolationCase{"ReindexMessagesPage", func(t *testing.T, f *fixture) {
			must(t, f.store.with(f.ctx).Exec("DELETE FROM search_terms").Error)
			_, err := f.store.ReindexMessagesPage(f.ctx, f.B.Org.ID, 0, 100)
			must(t, err)
			if n := termsOf(t, f, f.A.Org.ID); n != 0 {
				t.Fatalf("B's reindex wrote %d of A's rows", n)
			}
		}},
	)
}
