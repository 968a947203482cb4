package store

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/convot/convot/models"
)

// AlertCount names one counter of an alert rule: the rule, the account or
// the IP key counted (neither: the organization), and the window.
type AlertCount struct {
	Rule        string
	AccountID   uint64
	IPKey       string
	WindowStart time.Time
}

// CountAlertEvent counts one event of an alert rule in the organization
// and claims the window's alert when the count has reached threshold: it
// returns the count and whether this call raised the alert. The count is
// one upsert and the claim one conditional update (alerted_at IS NULL), in
// the caller's transaction: however many callers race, the window's alert
// is raised by exactly one, never by a read in Go.
func (s *Store) CountAlertEvent(ctx context.Context, orgID uint64, c AlertCount, threshold int64, at time.Time) (int64, bool, error) {
	at = at.UTC()
	if c.AccountID != 0 {
		if err := s.accountOf(ctx, orgID, c.AccountID); err != nil {
			return 0, false, err
		}
	}
	row := models.SecurityAlertCounter{OrganizationID: orgID, Rule: c.Rule, AccountID: c.AccountID, IPKey: c.IPKey,
		WindowStart: c.WindowStart.UTC(), Count: 1, CreatedAt: at}
	db := s.with(ctx)
	err := db.Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "rule"}, {Name: "organization_id"}, {Name: "account_id"}, {Name: "ip_key"}, {Name: "window_start"}},
		DoUpdates: clause.Assignments(map[string]any{"count": gorm.Expr("security_alert_counters.count + 1")}),
	}).Create(&row).Error
	if err != nil {
		return 0, false, err
	}
	where := db.Model(&models.SecurityAlertCounter{}).Where("rule = ? AND organization_id = ? AND account_id = ? AND ip_key = ? AND window_start = ?",
		c.Rule, orgID, c.AccountID, c.IPKey, c.WindowStart.UTC())
	res := where.Where("alerted_at IS NULL AND count >= ?", threshold).Update("alerted_at", at)
	if res.Error != nil {
		return 0, false, res.Error
	}
	var count int64
	if err := db.Model(&models.SecurityAlertCounter{}).Where("rule = ? AND organization_id = ? AND account_id = ? AND ip_key = ? AND window_start = ?",
		c.Rule, orgID, c.AccountID, c.IPKey, c.WindowStart.UTC()).Select("count").Scan(&count).Error; err != nil {
		return 0, false, err
	}
	return count, res.RowsAffected == 1, nil
}

// RecordSignInCountry records that the organization's account signed in
// from country and reports whether that country is new for the account
// while it had signed in from another before (the first country of an
// account is nothing unusual). The insert is one statement against a
// unique index: of racing sign-ins from a new country, one finds it new.
func (s *Store) RecordSignInCountry(ctx context.Context, orgID, accountID uint64, country string, at time.Time) (bool, error) {
	if err := s.accountOf(ctx, orgID, accountID); err != nil {
		return false, err
	}
	db := s.with(ctx)
	res := db.Clauses(clause.OnConflict{DoNothing: true}).Create(&models.SignInCountry{
		OrganizationID: orgID, AccountID: accountID, Country: country, CreatedAt: at.UTC()})
	if res.Error != nil || res.RowsAffected != 1 {
		return false, res.Error
	}
	var others int64
	err := db.Model(&models.SignInCountry{}).Where("organization_id = ? AND account_id = ? AND country <> ?", orgID, accountID, country).Count(&others).Error
	return others > 0, err
}

// accountOf refuses an account that is not the organization's.
func (s *Store) accountOf(ctx context.Context, orgID, accountID uint64) error {
	var n int64
	if err := s.with(ctx).Model(&models.Account{}).Where("id = ? AND organization_id = ?", accountID, orgID).Count(&n).Error; err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}
