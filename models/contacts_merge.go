package models

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"
)

// Merging contacts: an anonymous widget visitor who identifies as a known
// contact becomes that contact. Everything the visitor has (conversations,
// messages, attachments, visitor tokens, any row naming the contact) moves
// to the known contact; every row sealed under the visitor's data key is
// re-sealed under the known contact's key; then the visitor's key is
// destroyed and the visitor deleted. The rows to move are found from
// All(): a model with a ContactID moves, a model with a DataKeyID and
// sealed fields is re-sealed, so models added later are merged too.

// BlobMover re-seals one attachment's stored bytes under the data key
// toKeyID and stores them under a new blob key, which it returns. The old
// blob is left in place: MergeContacts lists it for deletion after commit.
type BlobMover func(ctx context.Context, att *Attachment, toKeyID uint64) (newBlobKey string, err error)

// MergeResult says what a merge moved.
type MergeResult struct {
	Conversations []uint64 // IDs of the conversations that changed contact
	Resealed      int      // rows re-sealed under the target's key
	// OldBlobKeys are the blobs to delete once the transaction committed
	// (sealed under the destroyed key, they are unreadable already);
	// NewBlobKeys the ones to delete if it did not.
	OldBlobKeys []string
	NewBlobKeys []string
}

// mergeBatch bounds how many rows are loaded at once.
const mergeBatch = 500

// MergeContacts moves from into into, inside tx (the caller's transaction:
// the merge is all or nothing). Both contacts must belong to the same
// organization. The data keys of both must be readable.
func MergeContacts(ctx context.Context, tx *gorm.DB, ks *KeyStore, from, into *Contact, moveBlob BlobMover) (*MergeResult, error) {
	if from.ID == 0 || into.ID == 0 || from.ID == into.ID {
		return nil, errors.New("merge: two different contacts are required")
	}
	if from.OrganizationID != into.OrganizationID {
		return nil, errors.New("merge: contacts of different organizations")
	}
	if from.DataKeyID == into.DataKeyID {
		return nil, errors.New("merge: contacts share a data key")
	}
	tx = tx.WithContext(ctx)
	res := &MergeResult{}
	if err := tx.Model(&Conversation{}).Where("organization_id = ? AND contact_id = ?", from.OrganizationID, from.ID).
		Order("id").Pluck("id", &res.Conversations).Error; err != nil {
		return nil, err
	}
	cache := &sync.Map{}
	for _, m := range All() {
		s, err := schema.Parse(m, cache, tx.NamingStrategy)
		if err != nil {
			return nil, err
		}
		if s.Table == "contacts" {
			continue
		}
		// Re-seal first: the rows are found by the old key, whatever
		// contact they name.
		if s.LookUpField("DataKeyID") != nil {
			n, err := resealRows(tx, s, m, from.DataKeyID, into.DataKeyID, moveBlob, res)
			if err != nil {
				return nil, fmt.Errorf("merge %s: %w", s.Table, err)
			}
			res.Resealed += n
		}
		if f := s.LookUpField("ContactID"); f != nil {
			q := tx.Table(s.Table).Where(f.DBName+" = ?", from.ID)
			if org := s.LookUpField("OrganizationID"); org != nil {
				q = q.Where(org.DBName+" = ?", from.OrganizationID)
			}
			if err := q.Update(f.DBName, into.ID).Error; err != nil {
				return nil, fmt.Errorf("merge %s: %w", s.Table, err)
			}
		}
	}
	if err := tx.Where("id = ? AND organization_id = ?", from.ID, from.OrganizationID).Delete(&Contact{}).Error; err != nil {
		return nil, err
	}
	if err := ks.Destroy(tx, from.DataKeyID); err != nil {
		return nil, err
	}
	return res, nil
}

// resealRows rewrites every row of one model sealed under fromKey with
// toKey, in batches ordered by primary key.
func resealRows(tx *gorm.DB, s *schema.Schema, model any, fromKey, toKey uint64, moveBlob BlobMover, res *MergeResult) (int, error) {
	pk := s.PrioritizedPrimaryField
	keyField := s.LookUpField("DataKeyID")
	if pk == nil {
		return 0, errors.New("no primary key")
	}
	if keyField.FieldType.Kind() != reflect.Uint64 {
		return 0, errors.New("DataKeyID is not a uint64")
	}
	columns := []string{keyField.DBName}
	for _, f := range s.Fields {
		if f.TagSettings["SERIALIZER"] == "sealed" {
			columns = append(columns, f.DBName)
		}
	}
	_, isAttachment := model.(*Attachment)
	if isAttachment {
		columns = append(columns, "blob_key")
	}
	rowType := reflect.Indirect(reflect.ValueOf(model)).Type()
	n := 0
	var after any = 0
	if pk.FieldType.Kind() == reflect.String {
		after = ""
	}
	for {
		batch := reflect.New(reflect.SliceOf(rowType))
		err := tx.Where(keyField.DBName+" = ? AND "+pk.DBName+" > ?", fromKey, after).
			Order(pk.DBName).Limit(mergeBatch).Find(batch.Interface()).Error
		if err != nil {
			return n, err
		}
		rows := batch.Elem()
		if rows.Len() == 0 {
			return n, nil
		}
		for i := 0; i < rows.Len(); i++ {
			row := rows.Index(i).Addr()
			row.Elem().FieldByName(keyField.Name).SetUint(toKey)
			if att, ok := row.Interface().(*Attachment); ok && att.BlobKey != "" {
				if moveBlob == nil {
					return n, errors.New("attachments need a blob mover")
				}
				newKey, err := moveBlob(tx.Statement.Context, att, toKey)
				if err != nil {
					return n, err
				}
				if newKey != att.BlobKey {
					res.OldBlobKeys = append(res.OldBlobKeys, att.BlobKey)
					res.NewBlobKeys = append(res.NewBlobKeys, newKey)
					att.BlobKey = newKey
				}
			}
			if err := tx.Select(columns).Save(row.Interface()).Error; err != nil {
				return n, err
			}
			n++
		}
		after = rows.Index(rows.Len() - 1).FieldByName(pk.Name).Interface()
	}
}
