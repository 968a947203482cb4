package models

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"

	"github.com/convot/convot/internal/crypto"
)

// Closing an account (policy §8): thirty days after cancellation the
// organization's data and its end users' data are deleted, except billing
// records, kept seven years. What belongs to an organization is derived
// from the models (models.All()), never from a hand-kept list: a table
// with an organization_id column belongs to it by that column; a table
// without one, by its account_id, contact_id or conversation_id.

// Organization status of a deleted organization: the row remains as a
// tombstone (its ID is named by the billing records) with every field
// emptied and its data key destroyed.
const OrgDeleted = "deleted"

// OrgTable is one table an organization's deletion works on.
type OrgTable struct {
	Model string
	Table string
	// Column ties a row to the organization: organization_id, or the
	// account_id, contact_id or conversation_id of one of its rows in
	// Parent.
	Column string
	Parent string
	// Kept: the table holds billing records (a field of retention class
	// billing); its rows stay for their seven years.
	Kept bool
	// DataKey: rows name their data key (data_key_id); Blob: rows name a
	// blob (blob_key) in the blob store.
	DataKey bool
	Blob    bool
	// Categories and Subject describe the table's personal data, for the
	// blob store's egress gate.
	Categories []string
	Subject    string
	hasID      bool
}

// scope is the SQL condition (one argument: the organization ID) of the
// table's rows that belong to the organization.
func (t OrgTable) scope() string {
	if t.Parent == "" {
		return t.Column + " = ?"
	}
	return t.Column + " IN (SELECT id FROM " + t.Parent + " WHERE organization_id = ?)"
}

// parents are the tables whose rows other tables name by a column.
var parents = []struct{ column, table string }{
	{"account_id", "accounts"},
	{"contact_id", "contacts"},
	{"conversation_id", "conversations"},
}

// OrganizationTables derives from models what deleting an organization
// deletes (and keeps): tables tied by a parent first, so their parents are
// still there to find them by. Models tied to no organization (data keys,
// instance keys, deployment-wide records) are not among them.
func OrganizationTables(models []any) ([]OrgTable, error) {
	fields := map[string][]Field{}
	inv, problems := buildInventory(models)
	if len(problems) > 0 {
		return nil, fmt.Errorf("inventory: %s.%s: %s", problems[0].Model, problems[0].Field, problems[0].Reason)
	}
	for _, f := range inv {
		fields[f.Table] = append(fields[f.Table], f)
	}
	var out []OrgTable
	for _, m := range models {
		s, err := schema.Parse(m, &sync.Map{}, schema.NamingStrategy{})
		if err != nil {
			return nil, err
		}
		if s.Table == "organizations" {
			continue // the tombstone: see DeleteOrganizationData
		}
		has := func(col string) bool { return s.LookUpField(col) != nil }
		t := OrgTable{Model: s.Name, Table: s.Table, DataKey: has("data_key_id"), Blob: has("blob_key"), hasID: has("id")}
		switch {
		case has("organization_id"):
			t.Column = "organization_id"
		default:
			for _, p := range parents {
				if has(p.column) {
					t.Column, t.Parent = p.column, p.table
					break
				}
			}
		}
		if t.Column == "" {
			continue
		}
		seen := map[string]bool{}
		for _, f := range fields[s.Table] {
			if f.Retention == "billing" {
				t.Kept = true
			}
			if !seen[f.Category] {
				seen[f.Category] = true
				t.Categories = append(t.Categories, f.Category)
			}
			t.Subject = f.Subject
		}
		sort.Strings(t.Categories)
		out = append(out, t)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if (out[i].Parent != "") != (out[j].Parent != "") {
			return out[i].Parent != ""
		}
		return out[i].Table < out[j].Table
	})
	return out, nil
}

// DeploymentWideTables hold personal data that is no single organization's,
// each with the reason; an organization's deletion leaves them to their own
// retention.
var DeploymentWideTables = map[string]string{
	"email_suppressions":    "an address that bounced or complained is suppressed for every organization's mail, as the mail provider requires",
	"vulnerability_reports": "reports mailed to Convot's security address are Convot's own records (policy §10), kept two years after closing; erasure finds a reporter's by the email index",
}

// UnscopedPersonalTables lists the tables of models that hold personal data
// of customers or end users but are tied to no organization, and are not
// among DeploymentWideTables: deleting an organization could not find
// their rows.
func UnscopedPersonalTables(models []any) ([]string, error) {
	scoped := map[string]bool{"organizations": true}
	tables, err := OrganizationTables(models)
	if err != nil {
		return nil, err
	}
	for _, t := range tables {
		scoped[t.Table] = true
	}
	inv, _ := buildInventory(models)
	seen := map[string]bool{}
	var out []string
	for _, f := range inv {
		if !scoped[f.Table] && !seen[f.Table] && DeploymentWideTables[f.Table] == "" {
			seen[f.Table] = true
			out = append(out, f.Table)
		}
	}
	sort.Strings(out)
	return out, nil
}

// DeletionProgress is how far an organization's deletion got; it is
// heartbeated, so a retried activity carries the counts on.
type DeletionProgress struct {
	Deleted       map[string]int64
	KeysDestroyed int64
	BlobsDeleted  int64
}

// BlobDeleter deletes one blob of an organization's table; a blob that is
// gone already is no error.
type BlobDeleter func(ctx context.Context, t OrgTable, key string) error

// DeletionBatchSize is how many rows one statement deletes at most.
const DeletionBatchSize = 500

// DeleteOrganizationData permanently deletes an organization's data and its
// end users' data: it destroys the data keys of every row it will delete
// (so any copy, backups included, is unreadable), deletes the blobs those
// rows name, deletes the rows in batches of at most batch, and empties the
// organization's own row, which stays as a tombstone with status deleted.
// Billing records (tables with a field of retention class billing) are
// kept and counted. It is idempotent: run again, it finds nothing more to
// do. onBatch is called with the progress after each batch (to heartbeat).
func DeleteOrganizationData(ctx context.Context, db *gorm.DB, ks *KeyStore, orgID uint64, batch int, progress DeletionProgress, blobs BlobDeleter, onBatch func(DeletionProgress) error) (DeletionProgress, map[string]int64, error) {
	if progress.Deleted == nil {
		progress.Deleted = map[string]int64{}
	}
	if batch <= 0 {
		batch = DeletionBatchSize
	}
	db = db.WithContext(ctx)
	var org Organization
	if err := db.Select("id", "data_key_id", "status").Where("id = ?", orgID).Limit(1).Find(&org).Error; err != nil {
		return progress, nil, err
	}
	if org.ID == 0 {
		return progress, nil, fmt.Errorf("organization %d: %w", orgID, gorm.ErrRecordNotFound)
	}
	if org.Status == OrgActive {
		return progress, nil, fmt.Errorf("organization %d is active: only a cancelled organization is deleted", orgID)
	}
	tables, err := OrganizationTables(All())
	if err != nil {
		return progress, nil, err
	}

	// 1. Crypto-shredding first: a key is destroyed before the last row
	// naming it goes, so a retry still finds every key to destroy.
	keyIDs := map[uint64]bool{org.DataKeyID: true}
	for _, t := range tables {
		if t.Kept || !t.DataKey {
			continue
		}
		var ids []uint64
		if err := db.Table(t.Table).Where(t.scope(), orgID).Distinct().Pluck("data_key_id", &ids).Error; err != nil {
			return progress, nil, fmt.Errorf("%s: %w", t.Table, err)
		}
		for _, id := range ids {
			keyIDs[id] = true
		}
	}
	var all []uint64
	for id := range keyIDs {
		all = append(all, id)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	for start := 0; start < len(all); start += batch {
		chunk := all[start:min(start+batch, len(all))]
		var live []uint64
		// Deployment-wide keys (system) and billing keys are never this
		// deletion's to destroy.
		if err := db.Model(&DataKey{}).Where("id IN ? AND destroyed_at IS NULL AND subject NOT IN ?", chunk, []string{"system", "billing"}).
			Pluck("id", &live).Error; err != nil {
			return progress, nil, err
		}
		for _, id := range live {
			if err := ks.Destroy(db, id); err != nil {
				return progress, nil, err
			}
		}
		progress.KeysDestroyed += int64(len(live))
		if len(live) > 0 && onBatch != nil {
			if err := onBatch(progress); err != nil {
				return progress, nil, err
			}
		}
	}

	// 2. Rows (and their blobs), in batches.
	kept := map[string]int64{}
	for _, t := range tables {
		if t.Kept {
			var n int64
			if err := db.Table(t.Table).Where(t.scope(), orgID).Count(&n).Error; err != nil {
				return progress, nil, fmt.Errorf("%s: %w", t.Table, err)
			}
			kept[t.Table] = n
			continue
		}
		if !t.hasID {
			res := db.Exec("DELETE FROM "+t.Table+" WHERE "+t.scope(), orgID)
			if res.Error != nil {
				return progress, nil, fmt.Errorf("%s: %w", t.Table, res.Error)
			}
			if res.RowsAffected > 0 {
				progress.Deleted[t.Table] += res.RowsAffected
			}
			continue
		}
		for {
			var ids []uint64
			if err := db.Table(t.Table).Where(t.scope(), orgID).Order("id").Limit(batch).Pluck("id", &ids).Error; err != nil {
				return progress, nil, fmt.Errorf("%s: %w", t.Table, err)
			}
			if len(ids) == 0 {
				break
			}
			if t.Blob && blobs != nil {
				var keys []string
				if err := db.Table(t.Table).Where("id IN ? AND blob_key <> ''", ids).Pluck("blob_key", &keys).Error; err != nil {
					return progress, nil, fmt.Errorf("%s: %w", t.Table, err)
				}
				for _, k := range keys {
					if err := blobs(ctx, t, k); err != nil {
						return progress, nil, fmt.Errorf("%s blob: %w", t.Table, err)
					}
					progress.BlobsDeleted++
				}
			}
			res := db.Exec("DELETE FROM "+t.Table+" WHERE id IN ?", ids)
			if res.Error != nil {
				return progress, nil, fmt.Errorf("%s: %w", t.Table, res.Error)
			}
			progress.Deleted[t.Table] += res.RowsAffected
			if onBatch != nil {
				if err := onBatch(progress); err != nil {
					return progress, nil, err
				}
			}
		}
	}

	// 3. The organization's row: every text emptied, the widget key
	// replaced, status deleted.
	updates, err := tombstone(orgID)
	if err != nil {
		return progress, nil, err
	}
	if err := db.Model(&Organization{}).Where("id = ?", orgID).Updates(updates).Error; err != nil {
		return progress, nil, err
	}
	return progress, kept, nil
}

// tombstone is the update that empties an organization's row.
func tombstone(orgID uint64) (map[string]any, error) {
	s, err := schema.Parse(&Organization{}, &sync.Map{}, schema.NamingStrategy{})
	if err != nil {
		return nil, err
	}
	updates := map[string]any{}
	for _, f := range s.Fields {
		if f.DBName == "" || f.FieldType.Kind() != reflect.String {
			continue
		}
		switch f.DBName {
		case "region":
			continue
		case "status":
			updates[f.DBName] = OrgDeleted
		case "public_key":
			updates[f.DBName] = fmt.Sprintf("deleted-%d-%s", orgID, strings.ToLower(crypto.RandomToken(8)))
		default:
			// Raw SQL value: bypasses the sealing serializer, which
			// leaves an empty value empty anyway.
			updates[f.DBName] = gorm.Expr("''")
		}
	}
	updates["updated_at"] = time.Now().UTC()
	return updates, nil
}

// ErrOrganizationDeleted is returned for an organization that is gone.
var ErrOrganizationDeleted = errors.New("organization deleted")
