package store

import (
	"context"
	"time"

	"github.com/convot/convot/models"
)

// Plan limits as the database keeps them (models/plan_limits.go does the
// counting; these run it on the Store, or on its transaction).

// PlanOf is the plan the organization has now.
func (s *Store) PlanOf(ctx context.Context, orgID uint64) (models.Plan, error) {
	return models.PlanOf(ctx, s.db, orgID)
}

// SeatsUsed counts the organization's active accounts that take a seat,
// and its live invitations that will take one.
func (s *Store) SeatsUsed(ctx context.Context, orgID uint64, now time.Time) (members, invited int64, err error) {
	return models.SeatsUsed(ctx, s.db, orgID, now)
}

// LockOrganization holds the organization's row until the Store's
// transaction ends (PostgreSQL; SQLite writes one transaction at a time),
// so that a limit's check and the write it allows are not interleaved
// with another request's.
func (s *Store) LockOrganization(ctx context.Context, orgID uint64) error {
	return models.LockOrganization(s.with(ctx), orgID)
}

// CountConversationStart counts one more conversation started by the
// organization in at's month unless limit (≥ 0; negative: none) is
// reached, then models.ErrConversationLimit and nothing counted. Call it
// in the transaction that creates the conversation.
func (s *Store) CountConversationStart(ctx context.Context, orgID uint64, at time.Time, limit int64, conversationID uint64) error {
	return models.CountConversationStart(s.with(ctx), orgID, at, limit, conversationID)
}

// UncountConversationStart gives back conversationID, counted at at, that
// was discarded.
func (s *Store) UncountConversationStart(ctx context.Context, orgID uint64, at time.Time, conversationID uint64) error {
	return models.UncountConversationStart(s.with(ctx), orgID, at, conversationID)
}

// MarkConversationLimitReached records that the organization's plan
// refused a conversation in at's month; true only the first time in the
// month.
func (s *Store) MarkConversationLimitReached(ctx context.Context, orgID uint64, at time.Time) (bool, error) {
	return models.MarkConversationLimitReached(s.with(ctx), orgID, at)
}

// ConversationsStarted is how many conversations the organization started
// in at's month.
func (s *Store) ConversationsStarted(ctx context.Context, orgID uint64, at time.Time) (int64, error) {
	return models.ConversationsStarted(ctx, s.db, orgID, at)
}
