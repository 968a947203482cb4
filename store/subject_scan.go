package store

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/convot/convot/models"
)

// ScanFinding is one thing the scanner found left of an erased subject: a
// table, a column, a row ID and what kind of remnant it is. Never a value.
type ScanFinding struct {
	Kind   string `json:"kind"` // row_remains, identifier_found, index_found, key_not_destroyed, blob_remains
	Model  string `json:"model,omitempty"`
	Column string `json:"column,omitempty"`
	RowID  uint64 `json:"row_id,omitempty"`
}

// ScanTable is what the scanner read of one model.
type ScanTable struct {
	Model         string `json:"model"`
	RowsScanned   int64  `json:"rows_scanned"`
	ValuesChecked int64  `json:"values_checked"`
	Findings      int    `json:"findings"`
}

// ScanReport is the scanner's evidence: what it searched and what it found,
// in counts, table and column names and row IDs.
type ScanReport struct {
	Clean         bool              `json:"clean"`
	At            time.Time         `json:"at"`
	SubjectKind   string            `json:"subject_kind"`
	Terms         int               `json:"identifiers_searched"`
	Tables        []ScanTable       `json:"tables"`
	RowsScanned   int64             `json:"rows_scanned"`
	ValuesChecked int64             `json:"values_checked"`
	KeysChecked   int               `json:"keys_checked"`
	BlobsChecked  int               `json:"blobs_checked"`
	SearchIndexes string            `json:"search_indexes"`
	Retained      []RetainedRecords `json:"retained,omitempty"`
	Findings      []ScanFinding     `json:"findings,omitempty"`
	FindingsTotal int               `json:"findings_total"`
	Subprocessors []string          `json:"subprocessors,omitempty"`
}

// maxListedFindings bounds the findings listed in a report (all are counted).
const maxListedFindings = 200

// AddFinding records a finding.
func (r *ScanReport) AddFinding(f ScanFinding) {
	r.FindingsTotal++
	if len(r.Findings) < maxListedFindings {
		r.Findings = append(r.Findings, f)
	}
	r.Clean = false
}

// ScanErasure searches for what is left of an erased subject: rows the rule
// still locates; every classified column, decrypted where sealed, of the
// organization's rows in every model holding data of the subject's kind
// (and of the rows the rule locates anywhere), for the subject's
// identifiers (terms) and their blind indexes; and whether the subject's
// keys are destroyed. The blob store is the caller's to check (the
// activity checks every file the erasure deleted).
func (s *Store) ScanErasure(ctx context.Context, orgID uint64, subject *models.Subject, terms []string) (*ScanReport, error) {
	if err := ofOrganization(orgID, subject); err != nil {
		return nil, err
	}
	return scanErasure(ctx, s.db, s.keys, subject, terms)
}

func scanErasure(ctx context.Context, db *gorm.DB, ks *models.KeyStore, s *models.Subject, terms []string) (*ScanReport, error) {
	infos, err := describedOnce()
	if err != nil {
		return nil, err
	}
	r := &ScanReport{Clean: true, At: time.Now().UTC(), SubjectKind: s.Kind, Terms: len(terms),
		SearchIndexes: "search_terms (the organization's keyed blind index of message words, names and emails): the subject's rows are located by contact, and the keyed hashes of the identifiers searched for in every row of the organization"}
	db = db.WithContext(ctx)
	indexes := map[string]bool{}
	for _, i := range s.EmailIndexes {
		indexes[i] = true
	}
	for _, t := range terms {
		if ks != nil {
			indexes[ks.BlindIndex(t)] = true
		}
	}
	// The search index holds each identifier (a whole address, a whole
	// name, a word) as a keyed hash under the organization's search key.
	if ks != nil && s.OrganizationID != 0 && len(terms) > 0 {
		words := make([]string, 0, len(terms))
		for _, t := range terms {
			if w := strings.Join(strings.Fields(models.NormalizeSearchText(t)), " "); w != "" {
				words = append(words, w)
			}
		}
		hashes, err := ks.SearchHashes(ctx, s.OrganizationID, words)
		if err != nil {
			return nil, err
		}
		for _, h := range hashes {
			indexes[h] = true
		}
	}
	for _, m := range infos {
		where, args, ok := m.condition(s)
		if m.retained {
			continue // billing records are kept by law (reported by the erasure)
		}
		table := ScanTable{Model: m.name}
		// 1. Rows the rule still locates.
		if ok && s.Found() {
			q := db.Table(m.table).Where(where, args...)
			if m.anonymize {
				var nonEmpty []string
				for _, f := range m.fields {
					nonEmpty = append(nonEmpty, f.Column+" <> ''")
				}
				if len(nonEmpty) == 0 {
					q = nil
				} else {
					q = q.Where(strings.Join(nonEmpty, " OR "))
				}
			}
			if q != nil && m.has("id") {
				var left []uint64
				if err := q.Order("id").Limit(maxListedFindings).Pluck("id", &left).Error; err != nil {
					return nil, err
				}
				for _, id := range left {
					r.AddFinding(ScanFinding{Kind: "row_remains", Model: m.name, RowID: id})
					table.Findings++
				}
			}
		}
		// 2. Every classified value in scope, decrypted: the organization's
		// rows of every model holding data of the subject's kind (an End
		// User's address pasted into another conversation is found; an
		// operator's name in the replies they wrote to End Users is the
		// Customer's record, not the operator's data).
		if len(m.fields) > 0 && m.has("id") && m.kinds[s.Kind] && (len(terms) > 0 || len(indexes) > 0) {
			var scope *gorm.DB
			switch {
			case m.has("organization_id") && s.OrganizationID != 0 && ok:
				scope = db.Table(m.table).Where("organization_id = ? OR ("+where+")", append([]any{s.OrganizationID}, args...)...)
			case m.has("organization_id") && s.OrganizationID != 0:
				scope = db.Table(m.table).Where("organization_id = ?", s.OrganizationID)
			case ok:
				scope = db.Table(m.table).Where(where, args...)
			}
			if scope != nil {
				if err := scanRows(ctx, ks, scope, m, s, terms, indexes, r, &table); err != nil {
					return nil, err
				}
			}
		}
		r.RowsScanned += table.RowsScanned
		r.ValuesChecked += table.ValuesChecked
		if table.RowsScanned > 0 || table.Findings > 0 {
			r.Tables = append(r.Tables, table)
		}
	}
	// 3. The subject's keys are destroyed.
	for _, k := range s.KeyIDs {
		r.KeysChecked++
		var dk models.DataKey
		if err := db.Where("id = ?", k).Limit(1).Find(&dk).Error; err != nil {
			return nil, err
		}
		if dk.ID != 0 && (dk.DestroyedAt == nil || len(dk.Wrapped) > 0) {
			r.AddFinding(ScanFinding{Kind: "key_not_destroyed", Model: "models.DataKey", RowID: k})
		}
	}
	return r, nil
}

func scanRows(ctx context.Context, ks *models.KeyStore, scope *gorm.DB, m *modelInfo, s *models.Subject, terms []string, indexes map[string]bool, r *ScanReport, table *ScanTable) error {
	return streamRows(ctx, ks, scope, m, func(row reflect.Value) error {
		id := row.FieldByName("ID").Uint()
		if k := row.FieldByName("DataKeyID"); k.IsValid() && slices.Contains(s.KeepKeys, k.Uint()) {
			return nil
		}
		table.RowsScanned++
		for _, f := range m.fields {
			v := fieldText(row.FieldByName(f.Field))
			if v == "" {
				continue
			}
			table.ValuesChecked++
			switch f.Form {
			case models.FormHash:
			case models.FormIndex:
				if indexes[v] {
					r.AddFinding(ScanFinding{Kind: "index_found", Model: m.name, Column: f.Column, RowID: id})
					table.Findings++
				}
			default:
				lv := normalizeTerm(v)
				for _, t := range terms {
					if strings.Contains(lv, t) {
						r.AddFinding(ScanFinding{Kind: "identifier_found", Model: m.name, Column: f.Column, RowID: id})
						table.Findings++
						break
					}
				}
			}
		}
		return nil
	})
}
