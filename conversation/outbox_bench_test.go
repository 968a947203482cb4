package conversation

import (
	"context"
	"testing"
	"time"

	"github.com/convot/convot/internal/testenv"
)

// BenchmarkDrainWhileSignalsWait: one drain of an outbox holding 20,000
// signals that may wait, over 600 conversations, none of them due yet (as
// at 1,000 messages/s in `convot bench messages`, where every node drains
// ten times a second): what a poll costs that finds nothing to deliver.
// go test -run '^$' -bench DrainWhileSignalsWait ./conversation
func BenchmarkDrainWhileSignalsWait(b *testing.B) {
	testenv.Require(b, "DATABASE_URL")
	ctx := context.Background()
	s, org, convs, db := outboxConversations(b, 600)
	now := time.Now().UTC()
	err := db.Exec(`INSERT INTO lifecycle_outbox (organization_id, conversation_id, inactivity_hours, signal, arg, may_wait, created_at)
SELECT ?, ? + (g % 600), 3, 'message', '{}', TRUE, ?::timestamptz + g * interval '1 millisecond' FROM generate_series(1, 20000) AS g`,
		org.ID, convs[0].ID, now).Error
	if err != nil {
		b.Fatal(err)
	}
	if err := db.Exec(`ANALYZE lifecycle_outbox`).Error; err != nil {
		b.Fatal(err)
	}
	d := &OutboxDrainer{Store: s.Store, Temporal: &fakeTemporal{}, Linger: -1, Defer: time.Hour}
	for b.Loop() {
		if n, err := d.Drain(ctx); err != nil || n != 0 {
			b.Fatalf("claimed %d (%v), want none due", n, err)
		}
	}
}
