package store

import (
	"context"
	"time"

	"github.com/convot/convot/models"
)

// EnqueueLifecycleSignal writes a signal to the lifecycle outbox of one of
// the organization's conversations (ErrNotFound when it is not theirs).
// Call it inside the transaction of the change it announces, after that
// change updated the conversation's row: the row lock orders the signals
// of one conversation by ID as they commit.
func (s *Store) EnqueueLifecycleSignal(ctx context.Context, orgID uint64, sig *models.LifecycleSignal) error {
	res := s.with(ctx).Exec(`INSERT INTO lifecycle_outbox (organization_id, conversation_id, inactivity_hours, signal, arg, created_at)
SELECT organization_id, id, ?, ?, ?, ? FROM conversations WHERE id = ? AND organization_id = ?`,
		sig.InactivityHours, sig.Signal, sig.Arg, sig.CreatedAt, sig.ConversationID, orgID)
	return found(res.RowsAffected, res.Error)
}

// overdueScanned bounds the rows a drain reads for signals whose wait ran
// out; the rest are read by the drains after it.
const overdueScanned = 4096

// DrainLifecycleSignals claims up to conversations conversations' pending
// signals (at most perConversation each, oldest first), hands them to
// deliver, and deletes those deliver returns as delivered, all in one
// transaction. On PostgreSQL a conversation is claimed by locking its
// oldest row (FOR UPDATE SKIP LOCKED): a drain on another node skips it,
// and sees no later row of it as the oldest, so one conversation's signals
// are delivered by one node at a time, in order. A conversation is due
// when one of its signals may not wait (unless the conversation is in
// waiting), or when its oldest signal was written before deferredBefore;
// the others are left for a later drain. It returns how many rows were
// claimed.
//
// The outbox holds no personal data and spans organizations: it is drained
// by the system, not on behalf of one.
func (s *Store) DrainLifecycleSignals(ctx context.Context, conversations, perConversation int, waiting []uint64, deferredBefore time.Time, deliver func([]models.LifecycleSignal) []uint64) (int, error) {
	claimed := 0
	err := s.Tx(ctx, func(tx *Store) error {
		// The conversations due: those with a signal that may not wait
		// (few, from a partial index), and those whose signals have
		// waited long enough; each is claimed by its oldest row.
		urgent := `SELECT conversation_id FROM lifecycle_outbox WHERE NOT may_wait`
		args := []any{}
		if len(waiting) > 0 {
			urgent += ` AND conversation_id NOT IN ?`
			args = append(args, waiting)
		}
		heads := `SELECT conversation_id FROM lifecycle_outbox o WHERE o.id IN (
	SELECT MIN(id) FROM lifecycle_outbox WHERE conversation_id IN (
		` + urgent + `
		UNION SELECT conversation_id FROM (
			SELECT conversation_id FROM lifecycle_outbox WHERE created_at < ? ORDER BY created_at LIMIT ?
		) overdue
	) GROUP BY conversation_id
) ORDER BY o.id LIMIT ?`
		// The signals whose wait ran out are read from the index on
		// created_at, those alone: a drain that finds none due reads one
		// index page, however many signals wait.
		args = append(args, deferredBefore.UTC(), overdueScanned, conversations)
		if s.Postgres() {
			heads += ` FOR UPDATE SKIP LOCKED`
		}
		var convIDs []uint64
		if err := tx.with(ctx).Raw(heads, args...).Scan(&convIDs).Error; err != nil {
			return err
		}
		if len(convIDs) == 0 {
			return nil
		}
		var rows []models.LifecycleSignal
		err := tx.with(ctx).Raw(`SELECT * FROM (
	SELECT o.*, ROW_NUMBER() OVER (PARTITION BY conversation_id ORDER BY id) AS n
	FROM lifecycle_outbox o WHERE conversation_id IN ?
) r WHERE n <= ? ORDER BY id`, convIDs, perConversation).Scan(&rows).Error
		if err != nil {
			return err
		}
		claimed = len(rows)
		done := deliver(rows)
		if len(done) == 0 {
			return nil
		}
		return tx.with(ctx).Where("id IN ?", done).Delete(&models.LifecycleSignal{}).Error
	})
	return claimed, err
}

// PendingLifecycleSignals counts the signals not yet delivered (for the
// bench and the operators' view of the outbox's backlog).
func (s *Store) PendingLifecycleSignals(ctx context.Context) (int64, error) {
	var n int64
	err := s.with(ctx).Model(&models.LifecycleSignal{}).Count(&n).Error
	return n, err
}
