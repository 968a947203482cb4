package store

import (
	"errors"
	"testing"
	"time"

	"github.com/convot/convot/models"
)

func init() {
	isolationCases = append(isolationCases,
		isolationCase{"CountAlertEvent", func(t *testing.T, f *fixture) {
			window := f.now.Truncate(time.Hour)
			// B cannot count against A's account.
			_, _, err := f.store.CountAlertEvent(f.ctx, f.B.Org.ID, AlertCount{Rule: "r", AccountID: f.A.Owner.ID, WindowStart: window}, 1, f.now)
			if !errors.Is(err, ErrNotFound) {
				t.Fatalf("B counted against A's account: %v", err)
			}
			// A's per-IP counter is A's: B's events with the same key do
			// not move it, nor raise A's alert.
			c := AlertCount{Rule: "ip", IPKey: "k", WindowStart: window}
			n, _, err := f.store.CountAlertEvent(f.ctx, f.A.Org.ID, c, 2, f.now)
			must(t, err)
			if n != 1 {
				t.Fatalf("A's count %d", n)
			}
			n, raised, err := f.store.CountAlertEvent(f.ctx, f.B.Org.ID, c, 2, f.now)
			must(t, err)
			if n != 1 || raised {
				t.Fatalf("B's event counted as A's: count %d, raised %v", n, raised)
			}
		}},
		isolationCase{"RecordSignInCountry", func(t *testing.T, f *fixture) {
			if _, err := f.store.RecordSignInCountry(f.ctx, f.B.Org.ID, f.A.Owner.ID, "FR", f.now); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B recorded a country for A's account: %v", err)
			}
			var n int64
			must(t, f.store.with(f.ctx).Model(&models.SignInCountry{}).Where("account_id = ?", f.A.Owner.ID).Count(&n).Error)
			if n != 0 {
				t.Fatalf("%d countries recorded for A's account", n)
			}
		}},
	)
}
