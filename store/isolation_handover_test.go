package store

import (
	"errors"
	"testing"

	"github.com/convot/convot/models"
)

func init() {
	isolationCases = append(isolationCases,
		isolationCase{"MarkHandedOver", func(t *testing.T, f *fixture) {
			handed, err := f.store.MarkHandedOver(f.ctx, f.B.Org.ID, f.A.Conversation.ID, models.HandoverAsked, f.now)
			if !errors.Is(err, ErrNotFound) || handed {
				t.Fatalf("B handed over A's conversation: %v %v", handed, err)
			}
			a, err := f.store.Conversation(f.ctx, f.A.Org.ID, f.A.Conversation.ID)
			must(t, err)
			if a.HandedOverAt != nil || a.HandoverReason != "" {
				t.Fatalf("A's conversation marked by B: %+v", a)
			}
			// A's own: once, the first reason kept.
			handed, err = f.store.MarkHandedOver(f.ctx, f.A.Org.ID, f.A.Conversation.ID, models.HandoverAsked, f.now)
			must(t, err)
			again, err := f.store.MarkHandedOver(f.ctx, f.A.Org.ID, f.A.Conversation.ID, models.HandoverNotConfident, f.now)
			must(t, err)
			a, err = f.store.Conversation(f.ctx, f.A.Org.ID, f.A.Conversation.ID)
			must(t, err)
			if !handed || again || a.HandedOverAt == nil || a.HandoverReason != models.HandoverAsked {
				t.Fatalf("A's handover: %v %v %+v", handed, again, a)
			}
		}},
	)
}
