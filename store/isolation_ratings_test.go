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
		isolationCase{"CreateRating", func(t *testing.T, f *fixture) {
			f.resolve(t, f.A)
			r := &models.ConversationRating{ConversationID: f.A.Conversation.ID, ContactID: f.A.Contact.ID, DataKeyID: f.A.Contact.DataKeyID, Score: 1, CreatedAt: f.now}
			if err := f.store.CreateRating(f.ctx, f.B.Org.ID, r); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B rated A's conversation: %v", err)
			}
			if _, err := f.store.ConversationRating(f.ctx, f.A.Org.ID, f.A.Conversation.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("A's conversation has a rating: %v", err)
			}
		}},
		isolationCase{"ReportConversations", func(t *testing.T, f *fixture) {
			rows, err := f.store.ReportConversations(f.ctx, f.B.Org.ID, f.now.Add(-time.Hour), f.now.Add(time.Hour))
			must(t, err)
			for _, r := range rows {
				if r.ID == f.A.Conversation.ID {
					t.Fatal("B's report counts A's conversation")
				}
			}
			own, err := f.store.ReportConversations(f.ctx, f.A.Org.ID, f.now.Add(-time.Hour), f.now.Add(time.Hour))
			must(t, err)
			if len(own) != 1 || own[0].ID != f.A.Conversation.ID {
				t.Fatalf("A's own report: %+v", own)
			}
		}},
		isolationCase{"ConversationRating", func(t *testing.T, f *fixture) {
			f.resolve(t, f.A)
			must(t, f.store.CreateRating(f.ctx, f.A.Org.ID, &models.ConversationRating{ConversationID: f.A.Conversation.ID,
				ContactID: f.A.Contact.ID, DataKeyID: f.A.Contact.DataKeyID, Score: 4, Comment: "thanks", CreatedAt: f.now}))
			if _, err := f.store.ConversationRating(f.ctx, f.B.Org.ID, f.A.Conversation.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B read A's rating: %v", err)
			}
		}},
	)
}

func (f *fixture) resolve(t *testing.T, tn tenant) {
	t.Helper()
	must(t, f.store.UpdateConversation(f.ctx, tn.Org.ID, tn.Conversation.ID, map[string]any{"status": models.ConversationResolved, "resolved_at": f.now}))
}

// A conversation is rated once: eight submissions racing store one, the
// others get ErrAlreadyRated; an open conversation or another contact's
// cannot be rated.
func TestRatingOncePerConversation(t *testing.T) {
	f := newFixture(t)
	a := f.A
	r := func(score int) *models.ConversationRating {
		return &models.ConversationRating{ConversationID: a.Conversation.ID, ContactID: a.Contact.ID, DataKeyID: a.Contact.DataKeyID,
			Score: score, Comment: "comment", CreatedAt: f.now}
	}
	if err := f.store.CreateRating(f.ctx, a.Org.ID, r(5)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("an open conversation rated: %v", err)
	}
	f.resolve(t, a)
	other := r(5)
	other.ContactID = a.Contact.ID + 1000
	if err := f.store.CreateRating(f.ctx, a.Org.ID, other); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another contact rated the conversation: %v", err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f.store.CreateRating(f.ctx, a.Org.ID, r(1+i%5))
		}()
	}
	wg.Wait()
	stored := 0
	for _, err := range errs {
		switch {
		case err == nil:
			stored++
		case errors.Is(err, ErrAlreadyRated):
		default:
			t.Fatalf("racing rating: %v", err)
		}
	}
	if stored != 1 {
		t.Fatalf("%d ratings stored, want 1", stored)
	}
	var n int64
	must(t, f.store.with(f.ctx).Model(&models.ConversationRating{}).Where("conversation_id = ?", a.Conversation.ID).Count(&n).Error)
	got, err := f.store.ConversationRating(f.ctx, a.Org.ID, a.Conversation.ID)
	must(t, err)
	if n != 1 || got.Comment != "comment" || got.Score < 1 || got.Score > 5 {
		t.Fatalf("rows %d, rating %+v", n, got)
	}
}
