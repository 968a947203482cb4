package store

import (
	"context"
	"fmt"

	"gorm.io/gorm"

	"github.com/convot/convot/models"
)

// RectifySubject sets corrected values (by column of the subject's own
// model, Contact or Account) on each of the subject's own rows, in one
// transaction; which columns a person may correct is the caller's rule
// (dsr.RectifiableFields). A correction a unique index refuses is
// ErrDuplicateKey.
func (s *Store) RectifySubject(ctx context.Context, orgID uint64, subject *models.Subject, changes map[string]string) error {
	if err := ofOrganization(orgID, subject); err != nil {
		return err
	}
	if !subject.Found() || len(changes) == 0 {
		return nil
	}
	infos, err := describedOnce()
	if err != nil {
		return err
	}
	var m *modelInfo
	for _, i := range infos {
		if i.table == subjectTable(subject.Kind) {
			m = i
		}
	}
	if m == nil {
		return fmt.Errorf("no model for subject kind %s", subject.Kind)
	}
	fields := map[string]string{} // column → Go field
	for _, f := range m.fields {
		fields[f.Column] = f.Field
	}
	for col := range changes {
		if fields[col] == "" {
			return fmt.Errorf("rectify: %s has no personal column %s", m.name, col)
		}
	}
	return s.with(ctx).Transaction(func(tx *gorm.DB) error {
		rows := m.newSlice()
		if err := tx.Table(m.table).Where("id IN ?", subject.IDs).Find(rows.Interface()).Error; err != nil {
			return err
		}
		for i := 0; i < rows.Elem().Len(); i++ {
			row := rows.Elem().Index(i)
			for col, v := range changes {
				row.FieldByName(fields[col]).SetString(v)
			}
			if err := tx.Session(&gorm.Session{NewDB: true}).Save(row.Addr().Interface()).Error; err != nil {
				return err
			}
		}
		return nil
	})
}
