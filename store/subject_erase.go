package store

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sort"

	"gorm.io/gorm"

	"github.com/convot/convot/models"
)

// RetainedRecords are rows erasure kept because the law requires them.
type RetainedRecords struct {
	Model      string   `json:"model"`
	Rows       int64    `json:"rows"`
	Retention  string   `json:"retention"`
	LegalBases []string `json:"legal_bases"`
	Rule       string   `json:"rule"`
}

// ErasureResult counts what erasure did (counts only, no values).
type ErasureResult struct {
	Deleted       map[string]int64  `json:"deleted"`
	Anonymized    map[string]int64  `json:"anonymized"`
	Retained      []RetainedRecords `json:"retained"`
	KeysDestroyed int               `json:"keys_destroyed"`
}

// Protected key subjects: erasure never destroys the keys of an
// organization, of the system, or of billing records.
var protectedKeySubjects = map[string]bool{"organization": true, "system": true, "billing": true}

// EraseSubject deletes or anonymizes every located row in one transaction,
// keeps billing records (re-sealed under a key of their own if they were
// sealed under the subject's) and destroys the subject's data keys, and
// every other key left without rows. Blobs and subprocessors come first
// (ErasurePlan): a retry finds the rows still there.
func (s *Store) EraseSubject(ctx context.Context, orgID uint64, subject *models.Subject) (*ErasureResult, error) {
	if err := ofOrganization(orgID, subject); err != nil {
		return nil, err
	}
	return eraseSubject(ctx, s.db, s.keys, subject)
}

func eraseSubject(ctx context.Context, db *gorm.DB, ks *models.KeyStore, s *models.Subject) (*ErasureResult, error) {
	infos, err := describedOnce()
	if err != nil {
		return nil, err
	}
	res := &ErasureResult{Deleted: map[string]int64{}, Anonymized: map[string]int64{}}
	if !s.Found() {
		return res, nil
	}
	err = db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		orphanCandidates := map[uint64]bool{}
		var retainedKey uint64
		for _, m := range infos {
			where, args, ok := m.condition(s)
			switch {
			case m.retained:
				rr, err := retain(tx, ks, m, s, where, args, ok, &retainedKey)
				if err != nil {
					return err
				}
				if rr.Rows > 0 {
					res.Retained = append(res.Retained, rr)
				}
				continue
			case !ok:
				continue
			}
			if m.has("data_key_id") {
				var keys []uint64
				if err := tx.Table(m.table).Where(where, args...).Distinct().Pluck("data_key_id", &keys).Error; err != nil {
					return err
				}
				for _, k := range keys {
					orphanCandidates[k] = true
				}
			}
			if m.anonymize {
				clear := map[string]any{}
				for _, f := range m.fields {
					clear[f.Column] = ""
				}
				if len(clear) == 0 {
					continue
				}
				r := tx.Table(m.table).Where(where, args...).UpdateColumns(clear)
				if r.Error != nil {
					return fmt.Errorf("anonymize %s: %w", m.table, r.Error)
				}
				if r.RowsAffected > 0 {
					res.Anonymized[m.name] += r.RowsAffected
				}
				continue
			}
			r := tx.Exec("DELETE FROM "+m.table+" WHERE "+where, args...)
			if r.Error != nil {
				return fmt.Errorf("erase %s: %w", m.table, r.Error)
			}
			if r.RowsAffected > 0 {
				res.Deleted[m.name] += r.RowsAffected
			}
		}
		// The organization's webhooks hear of the deletion (IDs only), in
		// the erasure's transaction: written after the rows went, so the
		// event outlives them.
		if s.Kind == models.SubjectEndUser {
			st := &Store{db: tx, keys: ks}
			for _, id := range s.IDs {
				if err := st.emitWebhookEvent(ctx, s.OrganizationID, models.WebhookEvent{Type: models.WebhookContactDeleted, DeletedContactID: id}); err != nil {
					return err
				}
			}
		}
		// The subject's keys go; so does every other key the erased rows
		// were sealed under once nothing else uses it.
		destroy := map[uint64]bool{}
		for _, k := range s.KeyIDs {
			destroy[k] = true
		}
		for k := range orphanCandidates {
			if destroy[k] || slices.Contains(s.KeepKeys, k) {
				continue
			}
			var dk models.DataKey
			if err := tx.Select("id", "subject").Where("id = ?", k).Limit(1).Find(&dk).Error; err != nil {
				return err
			}
			if dk.ID == 0 || protectedKeySubjects[dk.Subject] {
				continue
			}
			used, err := keyInUse(tx, infos, k)
			if err != nil {
				return err
			}
			if !used {
				destroy[k] = true
			}
		}
		for k := range destroy {
			var dk models.DataKey
			if err := tx.Select("id", "subject", "destroyed_at").Where("id = ?", k).Limit(1).Find(&dk).Error; err != nil {
				return err
			}
			if dk.ID == 0 || protectedKeySubjects[dk.Subject] || dk.DestroyedAt != nil {
				continue
			}
			if err := ks.Destroy(tx, k); err != nil {
				return err
			}
			res.KeysDestroyed++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(res.Retained, func(i, j int) bool { return res.Retained[i].Model < res.Retained[j].Model })
	return res, nil
}

func keyInUse(tx *gorm.DB, infos []*modelInfo, key uint64) (bool, error) {
	for _, m := range infos {
		if !m.has("data_key_id") {
			continue
		}
		var n int64
		if err := tx.Table(m.table).Where("data_key_id = ?", key).Limit(1).Count(&n).Error; err != nil {
			return false, err
		}
		if n > 0 {
			return true, nil
		}
	}
	return false, nil
}

// retain keeps a billing model's rows of the subject: fields of another
// retention class are cleared, and rows sealed under the subject's key are
// sealed again under a billing key, so that destroying the subject's key
// leaves them readable for their seven years.
func retain(tx *gorm.DB, ks *models.KeyStore, m *modelInfo, s *models.Subject, where string, args []any, ok bool, retainedKey *uint64) (RetainedRecords, error) {
	rr := RetainedRecords{Model: m.name, Retention: models.Retention["billing"].Rule}
	seen := map[string]bool{}
	for _, f := range m.fields {
		if f.Retention != "billing" {
			continue
		}
		for _, b := range f.LegalBases() {
			if !seen[b] {
				seen[b] = true
				rr.LegalBases = append(rr.LegalBases, b)
			}
		}
	}
	sort.Strings(rr.LegalBases)
	rr.Rule = "kept by law: " + rr.Retention
	if !ok {
		return rr, nil
	}
	if err := tx.Table(m.table).Where(where, args...).Count(&rr.Rows).Error; err != nil {
		return rr, err
	}
	if !m.has("data_key_id") || len(s.KeyIDs) == 0 {
		return rr, nil
	}
	rows := m.newSlice()
	if err := tx.Table(m.table).Where(where, args...).Where("data_key_id IN ?", s.KeyIDs).Find(rows.Interface()).Error; err != nil {
		return rr, err
	}
	for i := 0; i < rows.Elem().Len(); i++ {
		if *retainedKey == 0 {
			k, err := ks.NewKey(tx, "billing")
			if err != nil {
				return rr, err
			}
			*retainedKey = k
		}
		row := rows.Elem().Index(i)
		row.FieldByName("DataKeyID").SetUint(*retainedKey)
		for _, f := range m.fields {
			if f.Retention != "billing" {
				fv := row.FieldByName(f.Field)
				fv.Set(reflect.Zero(fv.Type()))
			}
		}
		if err := tx.Session(&gorm.Session{NewDB: true}).Save(row.Addr().Interface()).Error; err != nil {
			return rr, fmt.Errorf("re-seal %s: %w", m.table, err)
		}
	}
	return rr, nil
}
