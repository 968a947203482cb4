package store

import (
	"context"
	"testing"

	"github.com/convot/convot/internal/testdb"
	"github.com/convot/convot/internal/testenv"
	"github.com/convot/convot/models"
)

// The message path's statements run on connections that plan once; every
// other statement, and any inside a transaction, on the store's own pool
// with PostgreSQL's default.
func TestMessagePathPlansOnce(t *testing.T) {
	testenv.Require(t, "DATABASE_URL")
	ctx := context.Background()
	db := testdb.New(t)
	if !models.IsPostgres(db.DB) {
		t.Fatal("want PostgreSQL")
	}
	st := New(db.DB, db.Keys)
	if got := st.withGenericPlans(ctx); got.Statement.ConnPool != st.with(ctx).Statement.ConnPool {
		t.Error("the message path has a pool of its own before OpenGenericPlans")
	}
	own, err := st.db.DB()
	if err != nil {
		t.Fatal(err)
	}
	ownConfig := *st.db.Config
	if err := st.OpenGenericPlans(); err != nil {
		t.Fatal(err)
	}
	setting := func(s *Store, messagePath bool, name string) string {
		t.Helper()
		d := s.with(ctx)
		if messagePath {
			d = s.withGenericPlans(ctx)
		}
		var v string
		if err := d.Raw("SELECT current_setting(?)", name).Scan(&v).Error; err != nil {
			t.Fatal(err)
		}
		return v
	}
	if got := setting(st, true, "plan_cache_mode"); got != "force_generic_plan" {
		t.Errorf("message path plan_cache_mode %q, want force_generic_plan", got)
	}
	if got := setting(st, false, "plan_cache_mode"); got != "auto" {
		t.Errorf("store plan_cache_mode %q, want auto", got)
	}
	// the pool reads the test's schema, as the store does
	if got, want := setting(st, true, "search_path"), setting(st, false, "search_path"); got != want {
		t.Errorf("message path search_path %q, store's %q", got, want)
	}
	err = st.Tx(ctx, func(tx *Store) error {
		if got := setting(tx, true, "plan_cache_mode"); got != "auto" {
			t.Errorf("in a transaction, the message path ran on plan_cache_mode %q: outside the transaction", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// the store's own pool is untouched (its size, its closing)
	if after, err := st.db.DB(); err != nil || after != own {
		t.Fatalf("the store's pool is another after OpenGenericPlans (%v)", err)
	}
	if st.db.Dialector != ownConfig.Dialector || st.db.ConnPool != ownConfig.ConnPool {
		t.Fatal("OpenGenericPlans changed the store's configuration")
	}
	if err := st.closeGenericPlans(); err != nil {
		t.Fatal(err)
	}
}
