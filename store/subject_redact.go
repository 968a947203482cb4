package store

import (
	"context"
	"fmt"
	"reflect"

	"gorm.io/gorm"

	"github.com/convot/convot/models"
)

// RedactionMarker replaces the text of a remnant a privacy officer redacts:
// what was there is gone, that something was redacted stays visible.
const RedactionMarker = "[redacted by the privacy officer]"

// ErrNotRedactable is returned for a remnant the officer cannot redact in
// the product: a hash or blind index, a model without an organization, or
// a field that is not free text.
var ErrNotRedactable = fmt.Errorf("store: this remnant cannot be redacted")

// redactable finds the model and field a scanner finding names, for an
// organization's row: only free-text (sealed or clear) fields of models
// scoped by organization.
func redactable(model, column string) (*modelInfo, *models.Field, error) {
	infos, err := describedOnce()
	if err != nil {
		return nil, nil, err
	}
	for _, m := range infos {
		if m.name != model {
			continue
		}
		if !m.has("organization_id") || !m.has("id") || m.retained {
			return nil, nil, ErrNotRedactable
		}
		for i := range m.fields {
			f := &m.fields[i]
			if f.Column != column {
				continue
			}
			if f.Form == models.FormHash || f.Form == models.FormIndex || m.sch.LookUpField(f.Field) == nil {
				return nil, nil, ErrNotRedactable
			}
			sf, ok := m.typ.FieldByName(f.Field)
			if !ok || sf.Type.Kind() != reflect.String {
				return nil, nil, ErrNotRedactable
			}
			return m, f, nil
		}
		return nil, nil, ErrNotRedactable
	}
	return nil, nil, ErrNotFound
}

// RemnantText is the text (decrypted) of the field a scanner finding
// names, in a row of the organization: what the officer reads before
// redacting it.
func (s *Store) RemnantText(ctx context.Context, orgID uint64, model, column string, rowID uint64) (string, error) {
	m, f, err := redactable(model, column)
	if err != nil {
		return "", err
	}
	row := reflect.New(m.typ)
	db := s.db.WithContext(models.WithKeys(ctx, s.keys))
	res := db.Table(m.table).Where("id = ? AND organization_id = ?", rowID, orgID).Limit(1).Find(row.Interface())
	if err := found(res.RowsAffected, res.Error); err != nil {
		return "", err
	}
	return row.Elem().FieldByName(f.Field).String(), nil
}

// RedactRemnant replaces the text of the field a scanner finding names,
// in a row of the organization, with RedactionMarker (sealed again under
// the row's own key). The row stays; the text is gone. Recording who
// redacted it is the caller's (in the same transaction).
func (s *Store) RedactRemnant(ctx context.Context, orgID uint64, model, column string, rowID uint64) error {
	m, f, err := redactable(model, column)
	if err != nil {
		return err
	}
	db := s.db.WithContext(models.WithKeys(ctx, s.keys))
	return db.Transaction(func(tx *gorm.DB) error {
		row := reflect.New(m.typ)
		res := tx.Table(m.table).Where("id = ? AND organization_id = ?", rowID, orgID).Limit(1).Find(row.Interface())
		if err := found(res.RowsAffected, res.Error); err != nil {
			return err
		}
		row.Elem().FieldByName(f.Field).SetString(RedactionMarker)
		if err := tx.Session(&gorm.Session{NewDB: true}).Save(row.Interface()).Error; err != nil {
			return err
		}
		// The search index forgets the redacted words with them.
		if msg, ok := row.Interface().(*models.Message); ok {
			return models.IndexMessage(ctx, tx, s.keys, msg)
		}
		return nil
	})
}
