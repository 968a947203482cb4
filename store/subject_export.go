package store

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/convot/convot/models"
)

// ExportColumn is one column of an exported table: a classified field (with
// its category) or context that is not personal on its own (IDs, times,
// states).
type ExportColumn struct {
	Field    string `json:"field"`
	Column   string `json:"column"`
	Category string `json:"category,omitempty"`
	Form     string `json:"form,omitempty"`
}

// ExportTable is the subject's rows of one model, decrypted.
type ExportTable struct {
	Model   string         `json:"model"`
	Table   string         `json:"table"`
	Columns []ExportColumn `json:"columns"`
	Rows    [][]string     `json:"rows"`
}

// SubjectBlob is a file of the subject's in the blob store.
type SubjectBlob struct {
	Model     string
	RowID     uint64
	BlobKey   string
	Column    string // the seal's column (models.BlobColumn of the table)
	DataKeyID uint64
	Name      string // the file's name, decrypted
}

// CollectSubjectData reads every row of the subject, decrypted, model by
// model, and hands each model's rows to fn; it also returns the subject's
// blobs. Hashes are shown as such, blind indexes left out.
func (s *Store) CollectSubjectData(ctx context.Context, orgID uint64, subject *models.Subject, fn func(*ExportTable) error) ([]SubjectBlob, error) {
	if err := ofOrganization(orgID, subject); err != nil {
		return nil, err
	}
	return collectSubjectData(ctx, s.db, s.keys, subject, fn)
}

func collectSubjectData(ctx context.Context, db *gorm.DB, ks *models.KeyStore, s *models.Subject, fn func(*ExportTable) error) ([]SubjectBlob, error) {
	infos, err := describedOnce()
	if err != nil {
		return nil, err
	}
	var blobs []SubjectBlob
	if !s.Found() {
		return nil, nil
	}
	db = db.WithContext(ctx)
	for _, m := range infos {
		where, args, ok := m.condition(s)
		if !ok || len(m.fields) == 0 || !m.has("id") || m.copyOfData {
			continue
		}
		t := &ExportTable{Model: m.name, Table: m.table}
		type col struct {
			field string
			form  string
		}
		var cols []col
		classified := map[string]models.Field{}
		for _, f := range m.fields {
			classified[f.Field] = f
		}
		var nameField string
		for i := 0; i < m.typ.NumField(); i++ {
			sf := m.typ.Field(i)
			if f, ok := classified[sf.Name]; ok {
				if f.Form == models.FormIndex {
					continue
				}
				if f.Category == "user.content.attachment" && nameField == "" {
					nameField = sf.Name
				}
				cols = append(cols, col{sf.Name, f.Form})
				t.Columns = append(t.Columns, ExportColumn{Field: sf.Name, Column: f.Column, Category: f.Category, Form: f.Form})
				continue
			}
			if sf.Name == "DataKeyID" || strings.HasSuffix(sf.Name, "Key") || strings.HasSuffix(sf.Name, "Hash") ||
				strings.HasSuffix(sf.Name, "Index") || strings.HasSuffix(sf.Name, "Token") || sf.Tag.Get("privacy") == "" && models.NeedsClassification(sf.Type) {
				continue
			}
			gf := m.sch.LookUpField(sf.Name)
			if gf == nil || gf.DBName == "" {
				continue
			}
			cols = append(cols, col{sf.Name, ""})
			t.Columns = append(t.Columns, ExportColumn{Field: sf.Name, Column: gf.DBName})
		}
		err := streamRows(ctx, ks, db.Table(m.table).Where(where, args...), m, func(row reflect.Value) error {
			id := row.FieldByName("ID").Uint()
			values := make([]string, len(cols))
			for j, c := range cols {
				fv := row.FieldByName(c.field)
				switch c.form {
				case models.FormHash:
					if fieldText(fv) != "" {
						values[j] = "[kept only as a one-way hash]"
					}
				default:
					values[j] = exportText(fv)
				}
			}
			t.Rows = append(t.Rows, values)
			if m.has("blob_key") {
				if key := row.FieldByName("BlobKey"); key.IsValid() && key.String() != "" {
					b := SubjectBlob{Model: m.name, RowID: id, BlobKey: key.String(), Column: models.BlobColumn(m.table)}
					if k := row.FieldByName("DataKeyID"); k.IsValid() {
						b.DataKeyID = k.Uint()
					}
					if nameField != "" {
						b.Name = row.FieldByName(nameField).String()
					}
					blobs = append(blobs, b)
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("export %s: %w", m.table, err)
		}
		if len(t.Rows) > 0 {
			if err := fn(t); err != nil {
				return nil, err
			}
		}
	}
	return blobs, nil
}

// exportText formats a value for the export: times in UTC RFC 3339.
func exportText(v reflect.Value) string {
	if !v.IsValid() {
		return ""
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return ""
		}
		v = v.Elem()
	}
	if t, ok := v.Interface().(time.Time); ok {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	return fieldText(v)
}
