package store

import (
	"testing"

	"github.com/convot/convot/models"
)

func init() {
	isolationCases = append(isolationCases,
		isolationCase{"AccessLog", func(t *testing.T, f *fixture) {
			must(t, f.store.RecordAccess(f.ctx, f.A.Org.ID, f.A.Owner.ID, models.AccessContactViewed, "contact:1"))
			for _, filter := range []AuditFilter{{Limit: 10}, {ActorID: f.A.Owner.ID, Limit: 10}, {Action: models.AccessContactViewed, Limit: 10}} {
				list, err := f.store.AccessLog(f.ctx, f.B.Org.ID, filter)
				must(t, err)
				if len(list) != 0 {
					t.Fatalf("filter %+v: B listed %d of A's access events", filter, len(list))
				}
			}
			list, err := f.store.AccessLog(f.ctx, f.A.Org.ID, AuditFilter{Limit: 10})
			must(t, err)
			if len(list) != 1 || list[0].AccountID != f.A.Owner.ID || list[0].Target != "contact:1" {
				t.Fatalf("A's own access log: %+v", list)
			}
		}},
		isolationCase{"RecordAccess", func(t *testing.T, f *fixture) {
			must(t, f.store.RecordAccess(f.ctx, f.B.Org.ID, f.B.Owner.ID, models.AccessContactViewed, "contact:1"))
			list, err := f.store.AccessLog(f.ctx, f.A.Org.ID, AuditFilter{Limit: 10})
			must(t, err)
			if len(list) != 0 {
				t.Fatalf("B's access landed in A's log: %+v", list)
			}
		}},
	)
}
