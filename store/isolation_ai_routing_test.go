package store

import (
	"errors"
	"testing"

	"github.com/convot/convot/models"
)

func init() {
	isolationCases = append(isolationCases,
		isolationCase{"RoutingExamples", func(t *testing.T, f *fixture) {
			must(t, f.store.CreateRoutingExample(f.ctx, f.A.Org.ID, &models.RoutingExample{AccountID: f.A.Owner.ID, Text: "refund", CreatedAt: f.now}))
			list, err := f.store.RoutingExamples(f.ctx, f.B.Org.ID)
			must(t, err)
			if len(list) != 0 {
				t.Fatalf("B listed %d of A's routing examples", len(list))
			}
		}},
		isolationCase{"RoutingExample", func(t *testing.T, f *fixture) {
			ex := &models.RoutingExample{OrganizationID: f.A.Org.ID, AccountID: f.A.Owner.ID, Text: "refund", CreatedAt: f.now}
			must(t, f.store.CreateRoutingExample(f.ctx, f.A.Org.ID, ex))
			if _, err := f.store.RoutingExample(f.ctx, f.B.Org.ID, ex.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B loaded A's routing example: %v", err)
			}
		}},
		isolationCase{"CreateRoutingExample", func(t *testing.T, f *fixture) {
			// B cannot route its conversations to A's operator.
			err := f.store.CreateRoutingExample(f.ctx, f.B.Org.ID, &models.RoutingExample{AccountID: f.A.Owner.ID, Text: "x", CreatedAt: f.now})
			if !errors.Is(err, ErrNotFound) {
				t.Fatalf("B wrote a routing example for A's operator: %v", err)
			}
		}},
		isolationCase{"DeleteRoutingExample", func(t *testing.T, f *fixture) {
			ex := &models.RoutingExample{OrganizationID: f.A.Org.ID, AccountID: f.A.Owner.ID, Text: "refund", CreatedAt: f.now}
			must(t, f.store.CreateRoutingExample(f.ctx, f.A.Org.ID, ex))
			must(t, f.store.DeleteRoutingExample(f.ctx, f.B.Org.ID, ex.ID))
			if _, err := f.store.RoutingExample(f.ctx, f.A.Org.ID, ex.ID); err != nil {
				t.Fatalf("B deleted A's routing example: %v", err)
			}
		}},
	)
}
