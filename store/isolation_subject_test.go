package store

import (
	"errors"
	"testing"

	"github.com/convot/convot/models"
)

// The cross-tenant cases of the subject engine (subject_*.go): B's ID with
// a subject located in A is refused, and A's data stays.
func init() {
	isolationCases = append(isolationCases,
		isolationCase{"PlanErasure", func(t *testing.T, f *fixture) {
			plan, err := f.store.PlanErasure(f.ctx, f.B.Org.ID, f.subjectOfA(t))
			if !errors.Is(err, ErrNotFound) || plan != nil {
				t.Fatalf("B planned the erasure of A's contact: %+v, %v", plan, err)
			}
		}},
		isolationCase{"EraseSubject", func(t *testing.T, f *fixture) {
			res, err := f.store.EraseSubject(f.ctx, f.B.Org.ID, f.subjectOfA(t))
			if !errors.Is(err, ErrNotFound) || res != nil {
				t.Fatalf("B erased A's contact: %+v, %v", res, err)
			}
			if _, err := f.store.Contact(f.ctx, f.A.Org.ID, f.A.Contact.ID); err != nil {
				t.Fatalf("A's contact after B's erasure: %v", err)
			}
		}},
		isolationCase{"ScanErasure", func(t *testing.T, f *fixture) {
			report, err := f.store.ScanErasure(f.ctx, f.B.Org.ID, f.subjectOfA(t), []string{"contact a"})
			if !errors.Is(err, ErrNotFound) || report != nil {
				t.Fatalf("B scanned A's data: %+v, %v", report, err)
			}
		}},
		isolationCase{"CollectSubjectData", func(t *testing.T, f *fixture) {
			read := 0
			blobs, err := f.store.CollectSubjectData(f.ctx, f.B.Org.ID, f.subjectOfA(t), func(*ExportTable) error { read++; return nil })
			if !errors.Is(err, ErrNotFound) || read != 0 || len(blobs) != 0 {
				t.Fatalf("B read %d of A's tables: %v", read, err)
			}
		}},
		isolationCase{"RectifySubject", func(t *testing.T, f *fixture) {
			err := f.store.RectifySubject(f.ctx, f.B.Org.ID, f.subjectOfA(t), map[string]string{"name": "Mallory"})
			if !errors.Is(err, ErrNotFound) {
				t.Fatalf("B corrected A's contact: %v", err)
			}
			if c, _ := f.store.Contact(f.ctx, f.A.Org.ID, f.A.Contact.ID); c == nil || c.Name != f.A.Contact.Name {
				t.Fatalf("A's contact after B's correction: %+v", c)
			}
		}},
	)
}

// subjectOfA is A's contact located as a data subject, within A.
func (f *fixture) subjectOfA(t *testing.T) *models.Subject {
	t.Helper()
	s, err := f.store.LocateEndUser(f.ctx, f.A.Org.ID, f.A.Contact.ID, "")
	must(t, err)
	if !s.Found() {
		t.Fatal("A's contact was not located in A")
	}
	return s
}
