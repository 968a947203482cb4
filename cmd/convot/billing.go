package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/convot/convot/store"
)

// runBilling is `convot billing unmatched`: the Stripe events that named
// no known organization, kept for review (the webhook logs each at error
// level). Look an event up by its ID in Stripe's dashboard; once its
// customer is an organization's, resending it from there processes it.
func runBilling(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 || args[0] != "unmatched" {
		return errors.New("say `convot billing unmatched`")
	}
	if err := flags("billing unmatched", args[1:], nil); err != nil {
		return err
	}
	a, err := openTool(ctx, out)
	if err != nil {
		return err
	}
	defer a.close()
	return listUnmatchedStripeEvents(ctx, a.store, out)
}

// listUnmatchedStripeEvents prints the Stripe events kept for review, the
// latest first.
func listUnmatchedStripeEvents(ctx context.Context, st *store.Store, out io.Writer) error {
	list, err := st.UnmatchedStripeEvents(ctx, 500)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		_, _ = fmt.Fprintln(out, "No Stripe event is waiting for review.")
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "EVENT\tTYPE\tLAST RECEIVED\tREASON")
	for _, ev := range list {
		_, _ = fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", ev.EventID, ev.Type, ev.ProcessedAt.UTC().Format(time.RFC3339), ev.Reason)
	}
	return tw.Flush()
}
