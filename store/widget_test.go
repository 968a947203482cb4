package store

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/convot/convot/internal/testdb"
	"github.com/convot/convot/models"
)

// VisitorConversation scans its row by hand: it must read every field of
// the conversation as gorm reads it (Conversation), set and unset, on
// PostgreSQL (DATABASE_URL, as in CI) and on SQLite, the subject opened
// and, of a shredded contact, gone.
func TestVisitorConversationReadsWhatGormReads(t *testing.T) {
	ctx := context.Background()
	backends := map[string]func(t *testing.T) *Store{
		"sqlite": func(t *testing.T) *Store {
			db := testdb.NewSQLite(t)
			return New(db.DB, db.Keys)
		},
		"testdb": func(t *testing.T) *Store {
			db := testdb.New(t)
			return New(db.DB, db.Keys)
		},
	}
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			st := open(t)
			// as the web nodes run it: on the message path's own pool
			// (PostgreSQL), which once read a sealed subject without the key
			// store ("no key store on this database handle")
			must(t, st.OpenGenericPlans())
			t.Cleanup(func() { _ = st.closeGenericPlans() })
			f := &fixture{ctx: ctx, store: st, now: time.Now().UTC().Truncate(time.Second)}
			a := f.tenant(t, "a")
			f.A = a
			f.visitorTokenOfA(t)
			vt, err := st.VisitorToken(ctx, a.Org.ID, "visitor-a")
			must(t, err)
			check := func(label string) *models.Conversation {
				t.Helper()
				want, err := st.Conversation(ctx, a.Org.ID, a.Conversation.ID)
				must(t, err)
				gotVT, got, err := st.VisitorConversation(ctx, a.Org.ID, vt.TokenHash, a.Conversation.ID)
				must(t, err)
				if diff := fieldsDiffer(*gotVT, *vt); diff != "" {
					t.Errorf("%s: token's %s", label, diff)
				}
				if got == nil {
					t.Fatalf("%s: no conversation", label)
				}
				if diff := fieldsDiffer(*got, *want); diff != "" {
					t.Errorf("%s: conversation's %s", label, diff)
				}
				return got
			}
			// unset: no subject, no assignee, no snooze, no handover
			check("fresh")

			at := f.now.Add(-time.Hour)
			db := st.with(ctx)
			must(t, db.Model(&models.Conversation{}).Where("id = ?", a.Conversation.ID).Updates(map[string]any{
				"assignee_id": a.Owner.ID, "label_ids": ",3,7,", "snoozed_until": at.Add(48 * time.Hour),
				"resolved_at": at, "handed_over_at": at, "handover_reason": models.HandoverAsked, "status": models.ConversationSnoozed,
			}).Error)
			conv := a.Conversation
			conv.Subject = "Where is my order, Zoë?"
			must(t, db.Model(&conv).Select("subject").Updates(&conv).Error)
			got := check("every field set")
			if got.Subject != conv.Subject {
				t.Fatalf("subject %q, want %q", got.Subject, conv.Subject)
			}
			// a field models.Conversation gains is one this test sets, and
			// VisitorConversation reads
			v := reflect.ValueOf(*got)
			for i := range v.NumField() {
				if v.Field(i).IsZero() {
					t.Errorf("the test leaves Conversation.%s unset", v.Type().Field(i).Name)
				}
			}

			must(t, st.Keys().Destroy(db, a.Contact.DataKeyID))
			if got := check("shredded"); got.Subject != "" {
				t.Fatalf("a shredded subject read as %q", got.Subject)
			}
		})
	}
}

// fieldsDiffer names the first field in which a and b differ, times
// compared as instants (drivers may give them in another location), or "".
func fieldsDiffer[T any](a, b T) string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	for i := range va.NumField() {
		x, y := va.Field(i).Interface(), vb.Field(i).Interface()
		same := reflect.DeepEqual(x, y)
		switch x := x.(type) {
		case time.Time:
			same = x.Equal(y.(time.Time))
		case *time.Time:
			y := y.(*time.Time)
			same = (x == nil) == (y == nil) && (x == nil || x.Equal(*y))
		}
		if !same {
			return fmt.Sprintf("%s: got %v, want %v", va.Type().Field(i).Name, x, y)
		}
	}
	return ""
}
