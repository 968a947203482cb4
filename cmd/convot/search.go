package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/convot/convot/store"
)

// reindexPage is how many contacts or messages one transaction reindexes.
const reindexPage = 500

func reindexFlags(org *uint64) func(*flag.FlagSet) {
	return func(fs *flag.FlagSet) {
		fs.Uint64Var(org, "org", 0, "reindex this organization only (0: every organization)")
	}
}

// runSearch rebuilds the encrypted search index (docs/search.md) of rows
// written before it existed: after upgrading a deployment, or restoring an
// older backup.
func runSearch(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 || args[0] != "reindex" {
		return errors.New("say `convot search reindex [-org ID]`")
	}
	var org uint64
	if err := flags("search reindex", args[1:], reindexFlags(&org)); err != nil {
		return err
	}
	a, err := openTool(ctx, out)
	if err != nil {
		return err
	}
	defer a.close()
	return reindexSearch(ctx, a.store, org, out)
}

// reindexSearch rewrites the search index of one organization (or of
// every one when orgID is 0), page by page, and says how much it did.
func reindexSearch(ctx context.Context, st *store.Store, orgID uint64, out io.Writer) error {
	orgs := []uint64{orgID}
	if orgID == 0 {
		var err error
		if orgs, err = st.OrganizationIDs(ctx); err != nil {
			return err
		}
	}
	for _, id := range orgs {
		contacts, err := reindexAll(ctx, func(after uint64) (uint64, error) { return st.ReindexContactsPage(ctx, id, after, reindexPage) })
		if err != nil {
			return fmt.Errorf("organization %d, contacts: %w", id, err)
		}
		messages, err := reindexAll(ctx, func(after uint64) (uint64, error) { return st.ReindexMessagesPage(ctx, id, after, reindexPage) })
		if err != nil {
			return fmt.Errorf("organization %d, messages: %w", id, err)
		}
		_, _ = fmt.Fprintf(out, "organization %d: %d pages of contacts, %d pages of messages reindexed\n", id, contacts, messages)
	}
	return nil
}

// reindexAll calls page until it reports nothing left, and counts pages.
func reindexAll(ctx context.Context, page func(after uint64) (uint64, error)) (int, error) {
	n := 0
	for after := uint64(0); ; n++ {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		last, err := page(after)
		if err != nil || last == 0 {
			return n, err
		}
		after = last
	}
}
