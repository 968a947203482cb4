package store

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/convot/convot/models"
)

func init() {
	isolationCases = append(isolationCases,
		isolationCase{"MessagesBefore", func(t *testing.T, f *fixture) {
			msgs, err := f.store.MessagesBefore(f.ctx, f.B.Org.ID, f.A.Conversation.ID, true, 0, 10)
			must(t, err)
			if len(msgs) != 0 {
				t.Fatalf("B read %d of A's messages", len(msgs))
			}
		}},
		isolationCase{"LastMessages", func(t *testing.T, f *fixture) {
			last, err := f.store.LastMessages(f.ctx, f.B.Org.ID, []uint64{f.A.Conversation.ID})
			must(t, err)
			if len(last) != 0 {
				t.Fatalf("B read A's last message: %+v", last)
			}
		}},
		isolationCase{"ClaimConversation", func(t *testing.T, f *fixture) {
			claimed, err := f.store.ClaimConversation(f.ctx, f.B.Org.ID, f.A.Conversation.ID, f.B.Owner.ID, f.now)
			must(t, err)
			if claimed {
				t.Fatal("B claimed A's conversation")
			}
			if c, _ := f.store.Conversation(f.ctx, f.A.Org.ID, f.A.Conversation.ID); c.AssigneeID != nil {
				t.Fatalf("A's conversation assigned to %d", *c.AssigneeID)
			}
		}},
		isolationCase{"SetAutoAssignOnReply", func(t *testing.T, f *fixture) {
			must(t, f.store.SetAutoAssignOnReply(f.ctx, f.B.Org.ID, true))
			var a models.Organization
			must(t, f.store.with(f.ctx).First(&a, f.A.Org.ID).Error)
			if a.AutoAssignOnReply {
				t.Fatal("B turned on A's auto-assign")
			}
		}},
		isolationCase{"Labels", func(t *testing.T, f *fixture) {
			f.labelOfA(t)
			list, err := f.store.Labels(f.ctx, f.B.Org.ID)
			must(t, err)
			if len(list) != 0 {
				t.Fatalf("B listed %d of A's labels", len(list))
			}
		}},
		isolationCase{"Label", func(t *testing.T, f *fixture) {
			l := f.labelOfA(t)
			if _, err := f.store.Label(f.ctx, f.B.Org.ID, l.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B loaded A's label: %v", err)
			}
		}},
		isolationCase{"CreateLabel", func(t *testing.T, f *fixture) {
			f.labelOfA(t)
			// The same name in B is B's own label, not a conflict with A's.
			l, err := f.store.CreateLabel(f.ctx, f.B.Org.ID, "billing", f.now)
			must(t, err)
			if l.OrganizationID != f.B.Org.ID {
				t.Fatalf("B's label belongs to %d", l.OrganizationID)
			}
			if list, _ := f.store.Labels(f.ctx, f.A.Org.ID); len(list) != 1 {
				t.Fatalf("A has %d labels after B created one", len(list))
			}
		}},
		isolationCase{"DeleteLabel", func(t *testing.T, f *fixture) {
			l := f.labelOfA(t)
			must(t, f.store.AddConversationLabel(f.ctx, f.A.Org.ID, f.A.Conversation.ID, l.ID))
			deleted, err := f.store.DeleteLabel(f.ctx, f.B.Org.ID, l.ID)
			must(t, err)
			if deleted {
				t.Fatal("B deleted A's label")
			}
			if _, err := f.store.Label(f.ctx, f.A.Org.ID, l.ID); err != nil {
				t.Fatalf("A's label is gone: %v", err)
			}
			if got := f.labelsOn(t, f.A.Org.ID, f.A.Conversation.ID); len(got) != 1 {
				t.Fatalf("A's conversation lost its label: %v", got)
			}
		}},
		isolationCase{"AddConversationLabel", func(t *testing.T, f *fixture) {
			l := f.labelOfA(t)
			// B's label on A's conversation, A's label on B's conversation.
			if err := f.store.AddConversationLabel(f.ctx, f.B.Org.ID, f.A.Conversation.ID, l.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B labelled A's conversation with A's label: %v", err)
			}
			mine, err := f.store.CreateLabel(f.ctx, f.B.Org.ID, "b-label", f.now)
			must(t, err)
			if err := f.store.AddConversationLabel(f.ctx, f.B.Org.ID, f.A.Conversation.ID, mine.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B labelled A's conversation: %v", err)
			}
			if err := f.store.AddConversationLabel(f.ctx, f.B.Org.ID, f.B.Conversation.ID, l.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B used A's label: %v", err)
			}
			if got := f.labelsOn(t, f.A.Org.ID, f.A.Conversation.ID); len(got) != 0 {
				t.Fatalf("A's conversation has labels %v", got)
			}
			if got := f.labelsOn(t, f.B.Org.ID, f.B.Conversation.ID); len(got) != 0 {
				t.Fatalf("B's conversation has A's label %v", got)
			}
		}},
		isolationCase{"RemoveConversationLabel", func(t *testing.T, f *fixture) {
			l := f.labelOfA(t)
			must(t, f.store.AddConversationLabel(f.ctx, f.A.Org.ID, f.A.Conversation.ID, l.ID))
			if err := f.store.RemoveConversationLabel(f.ctx, f.B.Org.ID, f.A.Conversation.ID, l.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B removed a label of A's conversation: %v", err)
			}
			if got := f.labelsOn(t, f.A.Org.ID, f.A.Conversation.ID); len(got) != 1 {
				t.Fatalf("A's conversation lost its label: %v", got)
			}
		}},
	)
}

func (f *fixture) labelOfA(t *testing.T) *models.Label {
	t.Helper()
	l, err := f.store.CreateLabel(f.ctx, f.A.Org.ID, "billing", f.now)
	must(t, err)
	return l
}

func (f *fixture) labelsOn(t *testing.T, orgID, convID uint64) []uint64 {
	t.Helper()
	c, err := f.store.Conversation(f.ctx, orgID, convID)
	must(t, err)
	return ConversationLabelIDs(c)
}

// Labels on a conversation: added once however many operators add it at
// the same moment (one conditional statement), filtered by, removed, and
// taken off every conversation when the label is deleted.
func TestConversationLabels(t *testing.T) {
	f := newFixture(t)
	a := f.A
	billing := f.labelOfA(t)
	bug, err := f.store.CreateLabel(f.ctx, a.Org.ID, "bug", f.now)
	must(t, err)
	if _, err := f.store.CreateLabel(f.ctx, a.Org.ID, "billing", f.now); !errors.Is(err, ErrDuplicateKey) {
		t.Fatalf("a second label with the same name: %v", err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f.store.AddConversationLabel(f.ctx, a.Org.ID, a.Conversation.ID, billing.ID)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		must(t, err)
	}
	must(t, f.store.AddConversationLabel(f.ctx, a.Org.ID, a.Conversation.ID, bug.ID))
	if got := f.labelsOn(t, a.Org.ID, a.Conversation.ID); len(got) != 2 || got[0] != billing.ID || got[1] != bug.ID {
		t.Fatalf("labels after concurrent adds: %v", got)
	}
	// A second conversation without labels is filtered out.
	other := models.Conversation{OrganizationID: a.Org.ID, ContactID: a.Contact.ID, DataKeyID: a.Contact.DataKeyID,
		Channel: "widget", Status: models.ConversationResolved, LastMessageAt: f.now, CreatedAt: f.now, UpdatedAt: f.now}
	must(t, f.store.with(f.ctx).Create(&other).Error)
	list, err := f.store.Conversations(f.ctx, a.Org.ID, ConversationQuery{LabelID: bug.ID, Limit: 10})
	must(t, err)
	if len(list) != 1 || list[0].ID != a.Conversation.ID {
		t.Fatalf("filtered by label: %+v", list)
	}
	all, err := f.store.Conversations(f.ctx, a.Org.ID, ConversationQuery{Limit: 10})
	must(t, err)
	if len(all) != 2 {
		t.Fatalf("every status: %d conversations", len(all))
	}
	must(t, f.store.RemoveConversationLabel(f.ctx, a.Org.ID, a.Conversation.ID, billing.ID))
	if got := f.labelsOn(t, a.Org.ID, a.Conversation.ID); len(got) != 1 || got[0] != bug.ID {
		t.Fatalf("after removing billing: %v", got)
	}
	deleted, err := f.store.DeleteLabel(f.ctx, a.Org.ID, bug.ID)
	must(t, err)
	if !deleted {
		t.Fatal("the label was not deleted")
	}
	if got := f.labelsOn(t, a.Org.ID, a.Conversation.ID); len(got) != 0 {
		t.Fatalf("a deleted label stays on the conversation: %v", got)
	}
}

// Scrolling back: the newest page first, then the one before it, oldest
// first within each page; the latest message of each conversation.
func TestMessagesBeforeAndLast(t *testing.T) {
	f := newFixture(t)
	a := f.A
	var ids []uint64
	ids = append(ids, a.Message.ID)
	for i := 0; i < 4; i++ {
		m := models.Message{OrganizationID: a.Org.ID, ConversationID: a.Conversation.ID, DataKeyID: a.Contact.DataKeyID,
			AuthorType: "operator", AuthorID: a.Owner.ID, Body: "reply", Private: i == 3, DeliveryStatus: "sent", CreatedAt: f.now}
		must(t, f.store.with(f.ctx).Create(&m).Error)
		ids = append(ids, m.ID)
	}
	page, err := f.store.MessagesBefore(f.ctx, a.Org.ID, a.Conversation.ID, true, 0, 2)
	must(t, err)
	if len(page) != 2 || page[0].ID != ids[3] || page[1].ID != ids[4] {
		t.Fatalf("newest page: %v", page)
	}
	page, err = f.store.MessagesBefore(f.ctx, a.Org.ID, a.Conversation.ID, false, ids[3], 10)
	must(t, err)
	if len(page) != 3 || page[0].ID != ids[0] || page[0].Body != "hello from a" {
		t.Fatalf("older page: %v", page)
	}
	public, err := f.store.MessagesBefore(f.ctx, a.Org.ID, a.Conversation.ID, false, 0, 1)
	must(t, err)
	if len(public) != 1 || public[0].ID != ids[3] {
		t.Fatalf("the visitor's newest page holds a note: %v", public)
	}
	last, err := f.store.LastMessages(f.ctx, a.Org.ID, []uint64{a.Conversation.ID, f.B.Conversation.ID})
	must(t, err)
	if len(last) != 1 || last[a.Conversation.ID].ID != ids[4] || last[a.Conversation.ID].Body != "reply" {
		t.Fatalf("last messages: %+v", last)
	}
}

func init() {
	isolationCases = append(isolationCases, isolationCase{"LiveConversationIDs", func(t *testing.T, f *fixture) {
		ids, err := f.store.LiveConversationIDs(f.ctx, f.B.Org.ID, f.now.Add(-time.Hour), 100)
		must(t, err)
		for _, id := range ids {
			if id == f.A.Conversation.ID {
				t.Fatal("B listed A's live conversation")
			}
		}
	}})
}
