package store

import (
	"errors"
	"testing"

	"github.com/convot/convot/models"
)

func init() {
	isolationCases = append(isolationCases,
		isolationCase{"CannedResponses", func(t *testing.T, f *fixture) {
			f.cannedOfA(t)
			list, err := f.store.CannedResponses(f.ctx, f.B.Org.ID)
			must(t, err)
			if len(list) != 0 {
				t.Fatalf("B listed %d of A's canned responses", len(list))
			}
		}},
		isolationCase{"CannedResponse", func(t *testing.T, f *fixture) {
			cr := f.cannedOfA(t)
			if _, err := f.store.CannedResponse(f.ctx, f.B.Org.ID, cr.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B loaded A's canned response: %v", err)
			}
		}},
		isolationCase{"CannedShortcutTaken", func(t *testing.T, f *fixture) {
			cr := f.cannedOfA(t)
			taken, err := f.store.CannedShortcutTaken(f.ctx, f.B.Org.ID, cr.Shortcut, 0)
			must(t, err)
			if taken {
				t.Fatal("A's shortcut counts as taken in B")
			}
		}},
		isolationCase{"UpdateCannedResponse", func(t *testing.T, f *fixture) {
			cr := f.cannedOfA(t)
			must(t, f.store.UpdateCannedResponse(f.ctx, f.B.Org.ID, cr.ID, "changed", "changed", f.now))
			if got, _ := f.store.CannedResponse(f.ctx, f.A.Org.ID, cr.ID); got.Body != cr.Body {
				t.Fatal("B changed A's canned response")
			}
		}},
		isolationCase{"DeleteCannedResponse", func(t *testing.T, f *fixture) {
			cr := f.cannedOfA(t)
			must(t, f.store.DeleteCannedResponse(f.ctx, f.B.Org.ID, cr.ID))
			if _, err := f.store.CannedResponse(f.ctx, f.A.Org.ID, cr.ID); err != nil {
				t.Fatalf("B deleted A's canned response: %v", err)
			}
		}},
	)
}

func (f *fixture) cannedOfA(t *testing.T) models.CannedResponse {
	t.Helper()
	cr := models.CannedResponse{OrganizationID: f.A.Org.ID, Shortcut: "thanks", Body: "Thank you", CreatedAt: f.now, UpdatedAt: f.now}
	must(t, f.store.CreateCannedResponse(f.ctx, &cr))
	return cr
}
