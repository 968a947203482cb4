package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/convot/convot/internal/testdb"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
)

// `convot billing unmatched` lists the Stripe events kept for review, and
// only those.
func TestBillingUnmatchedListsEventsKeptForReview(t *testing.T) {
	ctx := context.Background()
	db := testdb.New(t)
	st := store.New(db.DB, db.Keys)
	var out bytes.Buffer
	if err := listUnmatchedStripeEvents(ctx, st, &out); err != nil || !strings.Contains(out.String(), "No Stripe event") {
		t.Fatalf("none: %q %v", out.String(), err)
	}
	at := time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, ev := range []models.ProcessedStripeEvent{
		{EventID: "evt_done", Type: "invoice.paid", OrganizationID: 7, Status: models.StripeEventProcessed, ProcessedAt: at},
		{EventID: "evt_lost", Type: "invoice.payment_failed", Status: models.StripeEventUnmatched, Reason: "no organization has this Stripe customer", ProcessedAt: at},
	} {
		if err := st.RecordStripeEvent(ctx, &ev); err != nil {
			t.Fatal(err)
		}
	}
	out.Reset()
	if err := listUnmatchedStripeEvents(ctx, st, &out); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	if !strings.Contains(text, "evt_lost") || !strings.Contains(text, "invoice.payment_failed") || !strings.Contains(text, "no organization has this Stripe customer") ||
		!strings.Contains(text, "2027-01-02T03:04:05Z") || strings.Contains(text, "evt_done") {
		t.Fatalf("listed:\n%s", text)
	}
	if err := runBilling(ctx, []string{"matched"}, &out); err == nil {
		t.Fatal("an unknown billing command was accepted")
	}
}
