package store

import (
	"context"

	"github.com/convot/convot/models"
)

// The search index of rows written before it existed (or restored from an
// older backup) is rebuilt page by page: rewriting a row's index entries
// is idempotent, so a reindex interrupted and run again ends the same.

// ReindexContactsPage rewrites the index rows of up to limit of the
// organization's contacts with an ID above afterID, in one transaction,
// and returns the last ID done (0: none was left).
func (s *Store) ReindexContactsPage(ctx context.Context, orgID, afterID uint64, limit int) (uint64, error) {
	var last uint64
	err := s.Tx(ctx, func(tx *Store) error {
		var cts []models.Contact
		if err := tx.with(ctx).Where("organization_id = ? AND id > ?", orgID, afterID).Order("id").Limit(limit).Find(&cts).Error; err != nil {
			return err
		}
		for i := range cts {
			if err := models.IndexContact(ctx, tx.db, tx.keys, &cts[i]); err != nil {
				return err
			}
			last = cts[i].ID
		}
		return nil
	})
	return last, err
}

// ReindexMessagesPage rewrites the index rows of up to limit of the
// organization's messages with an ID above afterID, in one transaction,
// and returns the last ID done (0: none was left).
func (s *Store) ReindexMessagesPage(ctx context.Context, orgID, afterID uint64, limit int) (uint64, error) {
	var last uint64
	err := s.Tx(ctx, func(tx *Store) error {
		var msgs []models.Message
		if err := tx.with(ctx).Where("organization_id = ? AND id > ?", orgID, afterID).Order("id").Limit(limit).Find(&msgs).Error; err != nil {
			return err
		}
		for i := range msgs {
			if err := models.IndexMessage(ctx, tx.db, tx.keys, &msgs[i]); err != nil {
				return err
			}
			last = msgs[i].ID
		}
		return nil
	})
	return last, err
}

// OrganizationIDs lists every organization's ID, by ID.
func (s *Store) OrganizationIDs(ctx context.Context) ([]uint64, error) {
	var ids []uint64
	err := s.with(ctx).Model(&models.Organization{}).Order("id").Pluck("id", &ids).Error
	return ids, err
}
