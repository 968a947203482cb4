package models

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Plan limits (seats, conversations a month) as the database keeps them.
// The handlers decide when a limit applies; these functions count.

// ErrConversationLimit means the organization has started as many
// conversations this month as its plan includes.
var ErrConversationLimit = errors.New("the plan's conversations for this month are used up")

// ConversationUsage counts the conversations an organization started in a
// calendar month (UTC): the figure a plan's monthly limit is checked
// against. It is a counter rather than a count of rows, so a conversation
// erased later was still started, and two web nodes starting conversations
// at once cannot both take the last one. No personal data.
type ConversationUsage struct {
	ID             uint64 `gorm:"primaryKey"`
	OrganizationID uint64 `gorm:"uniqueIndex:idx_conversation_usages_month,priority:1"`
	Month          string `gorm:"uniqueIndex:idx_conversation_usages_month,priority:2" privacy:"none"` // 2026-11
	Started        int64
	// LimitReachedAt is when the first conversation past the limit was
	// refused this month; the owners were told then, once.
	LimitReachedAt *time.Time
	UpdatedAt      time.Time
}

func usageMonth(t time.Time) string { return t.UTC().Format("2006-01") }

// MonthStart is the first instant of t's calendar month in UTC; NextMonth
// the first of the next, when a monthly limit starts again.
func MonthStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// NextMonth is the first instant of the calendar month after t's (UTC).
func NextMonth(t time.Time) time.Time { return MonthStart(t).AddDate(0, 1, 0) }

// CountConversationStart counts one more conversation started by the
// organization in at's month, unless limit (≥ 0) is reached: then it
// counts nothing and returns ErrConversationLimit. A negative limit counts
// without a limit. Call it in the transaction that creates the
// conversation, so a conversation rolled back is not counted, as its last
// statement: the month's row is locked from this update to the commit, and
// every conversation the organization starts meanwhile waits for it.
// conversationID is the conversation counted (already written in tx; 0
// for none), left out when the month's first count starts from the
// conversations already there.
func CountConversationStart(tx *gorm.DB, orgID uint64, at time.Time, limit int64, conversationID uint64) error {
	month := usageMonth(at)
	increment := func() (bool, error) {
		q := tx.Model(&ConversationUsage{}).Where("organization_id = ? AND month = ?", orgID, month)
		if limit >= 0 {
			q = q.Where("started < ?", limit)
		}
		res := q.Updates(map[string]any{"started": gorm.Expr("started + 1"), "updated_at": at.UTC()})
		return res.RowsAffected == 1, res.Error
	}
	if ok, err := increment(); ok || err != nil {
		return err
	}
	// The month's first conversation, or the limit is reached: create the
	// month's row (if another node did, this does nothing) and try again.
	if err := ensureConversationUsage(tx, orgID, at, conversationID); err != nil {
		return err
	}
	if ok, err := increment(); ok || err != nil {
		return err
	}
	return ErrConversationLimit
}

// ensureConversationUsage creates the organization's row for at's month,
// starting from the conversations already started that month (those
// created before the counter existed), but for the one being counted.
func ensureConversationUsage(tx *gorm.DB, orgID uint64, at time.Time, counted uint64) error {
	var n int64
	from, to := MonthStart(at), NextMonth(at)
	if err := tx.Model(&Conversation{}).Where("organization_id = ? AND created_at >= ? AND created_at < ? AND id <> ?", orgID, from, to, counted).Count(&n).Error; err != nil {
		return err
	}
	row := ConversationUsage{OrganizationID: orgID, Month: usageMonth(at), Started: n, UpdatedAt: at.UTC()}
	return tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error
}

// UncountConversationStart gives back a conversation counted at at that
// was discarded (its first message failed).
func UncountConversationStart(db *gorm.DB, orgID uint64, at time.Time) error {
	return db.Model(&ConversationUsage{}).Where("organization_id = ? AND month = ? AND started > 0", orgID, usageMonth(at)).
		Updates(map[string]any{"started": gorm.Expr("started - 1"), "updated_at": time.Now().UTC()}).Error
}

// MarkConversationLimitReached records that a conversation was refused in
// at's month; it reports true only the first time in the month, so the
// owners are told once.
func MarkConversationLimitReached(db *gorm.DB, orgID uint64, at time.Time) (bool, error) {
	res := db.Model(&ConversationUsage{}).Where("organization_id = ? AND month = ? AND limit_reached_at IS NULL", orgID, usageMonth(at)).
		Update("limit_reached_at", at.UTC())
	return res.RowsAffected == 1, res.Error
}

// ConversationsStarted is how many conversations the organization started
// in at's month.
func ConversationsStarted(ctx context.Context, db *gorm.DB, orgID uint64, at time.Time) (int64, error) {
	var row ConversationUsage
	if err := db.WithContext(ctx).Where("organization_id = ? AND month = ?", orgID, usageMonth(at)).Limit(1).Find(&row).Error; err != nil {
		return 0, err
	}
	if row.ID != 0 {
		return row.Started, nil
	}
	var n int64
	err := db.WithContext(ctx).Model(&Conversation{}).
		Where("organization_id = ? AND created_at >= ? AND created_at < ?", orgID, MonthStart(at), NextMonth(at)).Count(&n).Error
	return n, err
}

// TakesSeat reports whether an account of role counts against the plan's
// seats: auditors (external, read-only reviewers) do not.
func TakesSeat(role string) bool { return role != RoleAuditor }

// SeatsUsed counts the organization's active accounts that take a seat,
// and the live invitations that will take one when accepted.
func SeatsUsed(ctx context.Context, db *gorm.DB, orgID uint64, now time.Time) (members, invited int64, err error) {
	err = db.WithContext(ctx).Model(&Account{}).
		Where("organization_id = ? AND status = ? AND role <> ?", orgID, "active", RoleAuditor).Count(&members).Error
	if err != nil {
		return 0, 0, err
	}
	err = db.WithContext(ctx).Model(&Invitation{}).
		Where("organization_id = ? AND accepted_at IS NULL AND expires_at > ? AND role <> ?", orgID, now.UTC(), RoleAuditor).Count(&invited).Error
	return members, invited, err
}

// PlanOf is the plan an organization has now.
func PlanOf(ctx context.Context, db *gorm.DB, orgID uint64) (Plan, error) {
	sub, err := SubscriptionOf(ctx, db, orgID)
	if err != nil {
		return Plan{}, err
	}
	return sub.CurrentPlan(), nil
}

// LockOrganization holds the organization's row until tx ends, so checks
// of its limits and the writes they allow are not interleaved with
// another request's. SQLite runs one writing transaction at a time and
// needs no lock.
func LockOrganization(tx *gorm.DB, orgID uint64) error {
	if !IsPostgres(tx) {
		return nil
	}
	var id uint64
	return tx.Model(&Organization{}).Clauses(clause.Locking{Strength: "UPDATE"}).Where("id = ?", orgID).Pluck("id", &id).Error
}
