package store

import (
	"sync"
	"testing"

	"github.com/convot/convot/models"
)

func init() {
	isolationCases = append(isolationCases,
		isolationCase{"DPAAcceptances", func(t *testing.T, f *fixture) {
			ok, err := f.store.AcceptDPA(f.ctx, f.A.Org.ID, f.A.Owner.ID, models.DPAVersion, "sha", f.now)
			must(t, err)
			if !ok {
				t.Fatal("A's first acceptance was not recorded")
			}
			list, err := f.store.DPAAcceptances(f.ctx, f.B.Org.ID)
			must(t, err)
			if len(list) != 0 {
				t.Fatalf("B listed %d of A's DPA acceptances", len(list))
			}
		}},
		isolationCase{"AcceptDPA", func(t *testing.T, f *fixture) {
			_, err := f.store.AcceptDPA(f.ctx, f.A.Org.ID, f.A.Owner.ID, models.DPAVersion, "sha", f.now)
			must(t, err)
			// A's acceptance does not count as B's: B still accepts.
			ok, err := f.store.AcceptDPA(f.ctx, f.B.Org.ID, f.B.Owner.ID, models.DPAVersion, "sha", f.now)
			must(t, err)
			if !ok {
				t.Fatal("A's acceptance kept B from accepting")
			}
		}},
	)
}

// Two owners accepting the same version at once record one acceptance.
func TestAcceptDPAOnceUnderRace(t *testing.T) {
	f := newFixture(t)
	const n = 8
	var wg sync.WaitGroup
	results := make(chan bool, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := f.store.AcceptDPA(f.ctx, f.A.Org.ID, f.A.Owner.ID, models.DPAVersion, "sha", f.now)
			if err != nil {
				t.Error(err)
			}
			results <- ok
		}()
	}
	wg.Wait()
	close(results)
	won := 0
	for ok := range results {
		if ok {
			won++
		}
	}
	if won != 1 {
		t.Fatalf("%d acceptances won, want exactly 1", won)
	}
	list, err := f.store.DPAAcceptances(f.ctx, f.A.Org.ID)
	must(t, err)
	if len(list) != 1 {
		t.Fatalf("%d rows, want 1", len(list))
	}
}
