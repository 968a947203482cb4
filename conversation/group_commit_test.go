package conversation

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/convot/convot/internal/testdb"
	"github.com/convot/convot/internal/testenv"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// subscribe gives the organization an enabled endpoint for message events.
func subscribe(t *testing.T, s *Service, db *testdb.DB, org *models.Organization, events string) {
	t.Helper()
	if org.DataKeyID == 0 { // the endpoint's secret is sealed under it
		key, err := db.Keys.NewKey(db.DB, "organization")
		if err != nil {
			t.Fatal(err)
		}
		org.DataKeyID = key
		if err := db.Model(org).Update("data_key_id", key).Error; err != nil {
			t.Fatal(err)
		}
	}
	ep := &models.WebhookEndpoint{URL: "https://hooks.example/" + events, Events: events, Secret: "whsec_test", Enabled: true}
	if err := s.Store.CreateWebhookEndpoint(context.Background(), org.ID, ep); err != nil {
		t.Fatal(err)
	}
}

// One batch writes what a message's own transaction writes, for each of
// its messages: the message sealed, its words in the index, its webhook
// event with a delivery per subscribed endpoint, its lifecycle signal
// naming it; a message whose conversation is gone is refused alone.
func TestMessageBatchWritesEachMessageWithItsRecords(t *testing.T) {
	testenv.Require(t, "DATABASE_URL")
	ctx := context.Background()
	s, org, newConv, db := outboxService(t)
	subscribe(t, s, db, org, ",message.created,")
	subscribe(t, s, db, org, ",message.created,message.note_created,")
	a, b := newConv(), newConv()
	gone := &models.Conversation{ID: b.ID + 1000, OrganizationID: org.ID, DataKeyID: a.DataKeyID}
	post := func(conv *models.Conversation, body string, private bool) store.BatchMessage {
		m := &models.Message{OrganizationID: org.ID, ConversationID: conv.ID, DataKeyID: conv.DataKeyID, AuthorType: workflows.AuthorContact,
			AuthorID: 1, Body: body, Private: private, DeliveryStatus: "sent", CreatedAt: s.Now().UTC()}
		return s.batchMessage(org, m, !private)
	}
	batch := []store.BatchMessage{post(a, "apples please", false), post(gone, "lost", false), post(b, "a quiet note", true), post(a, "and pears", false)}
	written, err := s.Store.InsertMessageBatch(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(written) != "[true false true true]" {
		t.Fatalf("written %v", written)
	}
	if batch[0].Message.ID == 0 || batch[3].Message.ID <= batch[0].Message.ID {
		t.Fatalf("IDs %d, %d: not in the order of the batch", batch[0].Message.ID, batch[3].Message.ID)
	}
	msgs, err := s.Store.Messages(ctx, org.ID, a.ID, true, 0, 10)
	if err != nil || len(msgs) != 2 || msgs[0].Body != "apples please" || msgs[1].Body != "and pears" {
		t.Fatalf("conversation a holds %+v (%v)", msgs, err)
	}
	var sealed string
	db.Raw("SELECT body FROM messages WHERE id = ?", batch[0].Message.ID).Scan(&sealed)
	if sealed == "" || sealed == "apples please" {
		t.Fatalf("body stored as %q, not sealed", sealed)
	}
	found, err := s.Store.Search(ctx, org.ID, "pears", 10)
	if err != nil || len(found.Messages) != 1 || found.Messages[0].Message.ID != batch[3].Message.ID {
		t.Fatalf("search for a batched word: %+v (%v)", found, err)
	}
	var events, deliveries int64
	db.Model(&models.WebhookEvent{}).Where("organization_id = ? AND type = ?", org.ID, models.WebhookMessageCreated).Count(&events)
	db.Model(&models.WebhookDelivery{}).Where("organization_id = ?", org.ID).Count(&deliveries)
	var notes int64
	db.Model(&models.WebhookEvent{}).Where("organization_id = ? AND type = ?", org.ID, models.WebhookNoteCreated).Count(&notes)
	// Two messages to both endpoints, the note to the one that chose notes.
	if events != 2 || notes != 1 || deliveries != 5 {
		t.Fatalf("%d message events, %d note events, %d deliveries; want 2, 1, 5", events, notes, deliveries)
	}
	var signals []models.LifecycleSignal
	db.Order("id").Find(&signals)
	if len(signals) != 2 {
		t.Fatalf("%d lifecycle signals, want 2 (a note signals nothing)", len(signals))
	}
	for i, want := range []*models.Message{batch[0].Message, batch[3].Message} {
		var arg workflows.MessageSignal
		if err := json.Unmarshal([]byte(signals[i].Arg), &arg); err != nil {
			t.Fatal(err)
		}
		if arg.MessageID != want.ID || arg.AuthorKind != workflows.AuthorContact || !arg.At.Equal(want.CreatedAt) ||
			signals[i].Signal != workflows.SignalMessage || signals[i].InactivityHours != 3 || signals[i].ConversationID != a.ID {
			t.Fatalf("signal %d: %+v with %+v", i, signals[i], arg)
		}
	}
}

// Posts racing from many senders are committed together, each once, each
// answered with its own message, and every conversation's messages keep
// the order their sender posted them in; a message the batch cannot write
// (here: under a data key that does not exist) fails alone.
func TestGroupCommitRacesSafely(t *testing.T) {
	testenv.Require(t, "DATABASE_URL")
	ctx := context.Background()
	const conversations, messages = 16, 20
	s, org, convs, db := outboxConversations(t, conversations)
	var wg sync.WaitGroup
	ids := make([][]uint64, conversations)
	for i, conv := range convs {
		wg.Go(func() {
			c := *conv
			for j := range messages {
				m, _, err := s.Post(ctx, org, &c, Author{Kind: workflows.AuthorContact, ID: 1}, fmt.Sprintf("message %d of %d", j, i), false, nil)
				if err != nil {
					t.Error(err)
					return
				}
				ids[i] = append(ids[i], m.ID)
			}
		})
	}
	broken := *convs[0]
	broken.DataKeyID = 1 << 40
	var brokenErr error
	wg.Go(func() {
		_, _, brokenErr = s.Post(ctx, org, &broken, Author{Kind: workflows.AuthorContact, ID: 1}, "sealed under no key", false, nil)
	})
	wg.Wait()
	if brokenErr == nil {
		t.Fatal("a message under a missing key was written")
	}
	seen := map[uint64]bool{}
	for i, conv := range convs {
		if !slices.IsSorted(ids[i]) || len(ids[i]) != messages {
			t.Fatalf("conversation %d answered IDs %v", i, ids[i])
		}
		msgs, err := s.Store.Messages(ctx, org.ID, conv.ID, false, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		for j, m := range msgs {
			if m.ID != ids[i][j] || m.Body != fmt.Sprintf("message %d of %d", j, i) || seen[m.ID] {
				t.Fatalf("conversation %d message %d: %d %q", i, j, m.ID, m.Body)
			}
			seen[m.ID] = true
		}
		if len(msgs) != messages {
			t.Fatalf("conversation %d holds %d messages, want %d", i, len(msgs), messages)
		}
	}
	if n := outboxRows(t, db); n != conversations*messages {
		t.Fatalf("%d lifecycle signals for %d messages", n, conversations*messages)
	}
	if g := s.commits(); g.committers != 0 || len(g.pending) != 0 {
		t.Fatalf("after the posts: %d committers, %d pending", g.committers, len(g.pending))
	}
	batches, written := s.GroupCommitStats()
	if written != conversations*messages || batches >= written {
		t.Fatalf("%d messages in %d batches: no message was committed with another", written, batches)
	}
	t.Logf("%d messages in %d batches", written, batches)
}
