package models

import (
	"fmt"
	"reflect"
	"sync"

	"gorm.io/gorm/schema"
)

// Retention sweeps (policy §8) are derived from the data inventory by the
// retention package: every table with a field of a swept retention class
// is swept, never a hand-kept list. What the schema declares for them is
// here: from when each table's retention period runs.

// RetentionClock says from when a row's retention period runs.
type RetentionClock struct {
	// Column is a time column of the table, or of ParentTable.
	Column string
	// Expr, when set, is an SQL expression over the table's columns used
	// instead of Column, e.g. COALESCE(last_seen_at, created_at).
	Expr string
	// ParentTable and ForeignKey put the clock on a parent row: the row
	// expires with the ParentTable row its ForeignKey names.
	ParentTable string
	ForeignKey  string
}

// retentionClocked is implemented by models that name their own clock.
type retentionClocked interface{ RetentionClock() RetentionClock }

// retentionClocks names the clock of tables whose models are not in this
// file's care; a model's own RetentionClock method wins. Tables that are in
// neither use occurred_at, else created_at.
var retentionClocks = map[string]RetentionClock{
	// The IP is the one of the contact's latest visit.
	"contacts": {Expr: "COALESCE(last_seen_at, created_at)"},
	// Billing records run from the invoice's date and the payment attempt.
	"invoices": {Column: "issued_at"},
	"payments": {Column: "attempted_at"},
}

// RetentionClockOf is the clock of a table of All(): its model's
// RetentionClock method, else retentionClocks, else its occurred_at or
// created_at column.
func RetentionClockOf(table string) (RetentionClock, error) {
	byTable, err := modelsByTable()
	if err != nil {
		return RetentionClock{}, err
	}
	model, ok := byTable[table]
	if !ok {
		return RetentionClock{}, fmt.Errorf("retention: no model has the table %s", table)
	}
	if c, ok := model.(retentionClocked); ok {
		return c.RetentionClock(), nil
	}
	if c, ok := reflect.Indirect(reflect.ValueOf(model)).Interface().(retentionClocked); ok {
		return c.RetentionClock(), nil
	}
	if c, ok := retentionClocks[table]; ok {
		return c, nil
	}
	s, err := schema.Parse(model, &sync.Map{}, schema.NamingStrategy{})
	if err != nil {
		return RetentionClock{}, err
	}
	for _, col := range []string{"occurred_at", "created_at"} {
		if s.LookUpField(col) != nil {
			return RetentionClock{Column: col}, nil
		}
	}
	return RetentionClock{}, fmt.Errorf("retention: table %s has no clock: give its model a RetentionClock method or a created_at column", table)
}

// modelsByTable maps each table of All() to its model.
var modelsByTable = sync.OnceValues(func() (map[string]any, error) {
	out := map[string]any{}
	for _, m := range All() {
		s, err := schema.Parse(m, &sync.Map{}, schema.NamingStrategy{})
		if err != nil {
			return nil, err
		}
		out[s.Table] = m
	}
	return out, nil
})
