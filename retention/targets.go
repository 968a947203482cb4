package retention

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/convot/convot/internal/obligations"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
)

// ErrNoTargets is a class whose targets cannot be derived: it is not swept
// by age (account data lives as long as the account), or a table of it
// has no clock. Retrying does not help.
var ErrNoTargets = errors.New("retention: no sweep targets")

// Targets derives the targets of a class from the inventory, children
// (whose clock is on a parent row) before their parents, so a parent is
// never deleted while rows whose expiry depends on it remain.
func Targets(class string) ([]store.SweepTarget, error) {
	if _, err := obligations.RetentionCutoff(class, time.Now()); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoTargets, err)
	}
	byTable := map[string][]models.Field{}
	for _, f := range models.Inventory() {
		byTable[f.Table] = append(byTable[f.Table], f)
	}
	var out []store.SweepTarget
	for table, fields := range byTable {
		var clear []string
		for _, f := range fields {
			if f.Retention == class {
				clear = append(clear, f.Column)
			}
		}
		if len(clear) == 0 {
			continue
		}
		sort.Strings(clear)
		t := store.SweepTarget{Class: class, Model: fields[0].Model, Table: table}
		if len(clear) < len(fields) {
			t.Clear = clear
		}
		clock, err := models.RetentionClockOf(table)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrNoTargets, err)
		}
		t.Clock = clock
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool {
		ci, cj := out[i].Clock.ParentTable != "", out[j].Clock.ParentTable != ""
		if ci != cj {
			return ci
		}
		return out[i].Table < out[j].Table
	})
	return out, nil
}
