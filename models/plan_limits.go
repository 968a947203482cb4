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

// ConversationUsage is one shard of the counter of the conversations an
// organization started in a calendar month (UTC): the month's figure, which
// a plan's monthly limit is checked against, is the sum of its shards. It
// is a counter rather than a count of rows, so a conversation erased later
// was still started, and two web nodes starting conversations at once
// cannot both take the last one. No personal data.
//
// A start counts in one shard (chosen by the conversation's ID), so that
// starts in one organization wait for one another only when they fall in
// the same shard: a single row made every start of a busy organization
// queue for it (issue 16). The limit stays exact because it is split: each
// shard may count up to its Cap, the caps add up to the limit the shards
// were split for (SplitLimit), and a shard counts only while it is under
// its cap and split for the limit in force. A start its shard cannot take
// locks every shard of the month, and takes the last conversations there,
// or splits what remains of the limit again.
type ConversationUsage struct {
	ID             uint64 `gorm:"primaryKey"`
	OrganizationID uint64 `gorm:"uniqueIndex:idx_conversation_usages_shard,priority:1"`
	Month          string `gorm:"uniqueIndex:idx_conversation_usages_shard,priority:2" privacy:"none"` // 2026-11
	Shard          int    `gorm:"uniqueIndex:idx_conversation_usages_shard,priority:3"`
	Started        int64
	// Cap is how many conversations this shard may count under
	// SplitLimit; nil SplitLimit: not split yet (counts nothing before).
	Cap        int64
	SplitLimit *int64
	// LimitReachedAt is when the first conversation past the limit was
	// refused this month; the owners were told then, once (shard 0's).
	LimitReachedAt *time.Time
	UpdatedAt      time.Time
}

// ConversationUsageShards is how many shards a month's counter has.
const ConversationUsageShards = 16

const usageSavepoint = "conversation_usage_shard"

func usageMonth(t time.Time) string { return t.UTC().Format("2006-01") }

// usageShard is the shard that counts conversationID (0 for none).
func usageShard(conversationID uint64) int { return int(conversationID % ConversationUsageShards) }

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
// statement: the shard's row is locked from this update to the commit, and
// the starts that fall in the same shard meanwhile wait for it.
// conversationID is the conversation counted (already written in tx; 0
// for none), left out when the month's first count starts from the
// conversations already there.
func CountConversationStart(tx *gorm.DB, orgID uint64, at time.Time, limit int64, conversationID uint64) error {
	month, shard := usageMonth(at), usageShard(conversationID)
	count := func() (bool, error) {
		q := tx.Model(&ConversationUsage{}).Where("organization_id = ? AND month = ? AND shard = ?", orgID, month, shard)
		if limit >= 0 {
			q = q.Where("split_limit = ? AND started < cap", limit)
		}
		res := q.Updates(map[string]any{"started": gorm.Expr("started + 1"), "updated_at": at.UTC()})
		return res.RowsAffected == 1, res.Error
	}
	// An update that waited for another transaction's, and found the shard
	// full then, keeps the row locked: taken after a savepoint and rolled
	// back to it, that lock is not held while every shard is locked in
	// order below, which would deadlock with another start doing the same.
	if IsPostgres(tx) {
		if err := tx.SavePoint(usageSavepoint).Error; err != nil {
			return err
		}
	}
	if ok, err := count(); ok || err != nil {
		return err
	}
	if IsPostgres(tx) {
		if err := tx.RollbackTo(usageSavepoint).Error; err != nil {
			return err
		}
	}
	// The month's first conversation, the shard's share of the limit used
	// up, or the limit changed: every shard, locked.
	shards, err := lockConversationUsage(tx, orgID, at, conversationID)
	if err != nil {
		return err
	}
	if limit < 0 {
		if ok, err := count(); ok || err != nil {
			return err
		}
		return errors.New("models: the month's conversation counter has no shard to count in")
	}
	var started int64
	for _, u := range shards {
		started += u.Started
	}
	if started >= limit {
		return ErrConversationLimit
	}
	// Split what remains of the limit over the shards, and count in this
	// start's shard, or the first with room, in the same statement.
	remaining := limit - started
	caps := make([]int64, len(shards))
	take := -1
	for i, u := range shards {
		caps[i] = u.Started + remaining/int64(len(shards))
		if int64(i) < remaining%int64(len(shards)) {
			caps[i]++
		}
		if caps[i] > u.Started && (take < 0 || u.Shard == shard) {
			take = i
		}
	}
	for i, u := range shards {
		inc := int64(0)
		if i == take {
			inc = 1
		}
		err := tx.Model(&ConversationUsage{}).Where("id = ?", u.ID).Updates(map[string]any{
			"cap": caps[i], "split_limit": limit, "started": gorm.Expr("started + ?", inc), "updated_at": at.UTC(),
		}).Error
		if err != nil {
			return err
		}
	}
	return nil
}

// lockConversationUsage locks every shard of the organization's counter
// for at's month, in shard order, creating those missing: the month's
// first, shard 0, starts from the conversations already started that
// month (those created before the counter existed) but for the one being
// counted. SQLite runs one writing transaction at a time and needs no
// lock.
func lockConversationUsage(tx *gorm.DB, orgID uint64, at time.Time, counted uint64) ([]ConversationUsage, error) {
	month := usageMonth(at)
	load := func() ([]ConversationUsage, error) {
		q := tx.Where("organization_id = ? AND month = ?", orgID, month).Order("shard")
		if IsPostgres(tx) {
			q = q.Clauses(clause.Locking{Strength: "UPDATE"})
		}
		var shards []ConversationUsage
		return shards, q.Find(&shards).Error
	}
	shards, err := load()
	if err != nil || len(shards) == ConversationUsageShards {
		return shards, err
	}
	rows := make([]ConversationUsage, 0, ConversationUsageShards)
	for i := range ConversationUsageShards {
		rows = append(rows, ConversationUsage{OrganizationID: orgID, Month: month, Shard: i, UpdatedAt: at.UTC()})
	}
	if len(shards) == 0 {
		var n int64
		from, to := MonthStart(at), NextMonth(at)
		if err := tx.Model(&Conversation{}).Where("organization_id = ? AND created_at >= ? AND created_at < ? AND id <> ?", orgID, from, to, counted).Count(&n).Error; err != nil {
			return nil, err
		}
		rows[0].Started = n
	}
	// Another node may create them at once: theirs stand.
	if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&rows).Error; err != nil {
		return nil, err
	}
	return load()
}

// UncountConversationStart gives back conversationID, counted at at, that
// was discarded (its first message failed): in its shard, or the first
// that counted one.
func UncountConversationStart(db *gorm.DB, orgID uint64, at time.Time, conversationID uint64) error {
	month := usageMonth(at)
	uncount := func(q *gorm.DB) (bool, error) {
		res := q.Updates(map[string]any{"started": gorm.Expr("started - 1"), "updated_at": time.Now().UTC()})
		return res.RowsAffected == 1, res.Error
	}
	ok, err := uncount(db.Model(&ConversationUsage{}).
		Where("organization_id = ? AND month = ? AND shard = ? AND started > 0", orgID, month, usageShard(conversationID)))
	if ok || err != nil {
		return err
	}
	_, err = uncount(db.Model(&ConversationUsage{}).Where("started > 0 AND id = (?)",
		db.Model(&ConversationUsage{}).Select("id").Where("organization_id = ? AND month = ? AND started > 0", orgID, month).Order("shard").Limit(1)))
	return err
}

// MarkConversationLimitReached records that a conversation was refused in
// at's month; it reports true only the first time in the month, so the
// owners are told once.
func MarkConversationLimitReached(db *gorm.DB, orgID uint64, at time.Time) (bool, error) {
	res := db.Model(&ConversationUsage{}).Where("organization_id = ? AND month = ? AND shard = 0 AND limit_reached_at IS NULL", orgID, usageMonth(at)).
		Update("limit_reached_at", at.UTC())
	return res.RowsAffected == 1, res.Error
}

// ConversationsStarted is how many conversations the organization started
// in at's month.
func ConversationsStarted(ctx context.Context, db *gorm.DB, orgID uint64, at time.Time) (int64, error) {
	var sum struct {
		Shards  int64
		Started int64
	}
	if err := db.WithContext(ctx).Model(&ConversationUsage{}).Select("COUNT(*) AS shards, COALESCE(SUM(started), 0) AS started").
		Where("organization_id = ? AND month = ?", orgID, usageMonth(at)).Scan(&sum).Error; err != nil {
		return 0, err
	}
	if sum.Shards > 0 {
		return sum.Started, nil
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
