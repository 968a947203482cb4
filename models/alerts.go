package models

import "time"

// Unusual-activity alerts (policy §10 "monitoring to detect unusual
// activity"), issue 21: the counters of the rules that count events in a
// window, and the countries each operator signed in from. The rules are
// in package alerts.

// SecurityAlertCounter counts the events of one rule for one subject (an
// account, an IP address by its keyed hash, or the organization) in one
// fixed window. The count is raised by one statement (an upsert) and the
// alert claimed by a conditional update of AlertedAt, so an alert is
// raised once per window however many requests race.
type SecurityAlertCounter struct {
	ID             uint64 `gorm:"primaryKey"`
	OrganizationID uint64 `gorm:"index"`
	Rule           string `privacy:"none"` // the rule's name, e.g. failed_sign_ins_account
	// AccountID is the account counted (per-account rules), else 0.
	AccountID uint64 `gorm:"index"`
	// IPKey is a keyed HMAC of the client's IP address (per-IP rules), else
	// "": never the address itself.
	IPKey       string `privacy:"category=user.device.ip_address subject=customer retention=security_log purpose=essential.service.security,essential.fraud_detection form=index"`
	WindowStart time.Time
	Count       int64
	// AlertedAt is when the window's alert was raised (nil: not yet).
	AlertedAt *time.Time
	CreatedAt time.Time
}

// SignInCountry is a country an operator signed in from, by its ISO code
// (derived from the IP address with the GeoIP database; the address is not
// kept here). A sign-in from a country not in the account's list raises an
// alert; rows are kept 12 months, so a country unseen for a year is new
// again.
type SignInCountry struct {
	ID             uint64    `gorm:"primaryKey"`
	OrganizationID uint64    `gorm:"index"`
	AccountID      uint64    `gorm:"index"`
	Country        string    `privacy:"category=user.location.imprecise subject=customer retention=security_log purpose=essential.service.security,essential.fraud_detection form=clear"`
	CreatedAt      time.Time // first sign-in from the country
}

func init() {
	addMigration(83, "unusual-activity alerts: counters of events per rule, subject and window", `
CREATE TABLE security_alert_counters (
	id {{id}},
	organization_id BIGINT NOT NULL,
	rule TEXT NOT NULL,
	account_id BIGINT NOT NULL DEFAULT 0,
	ip_key TEXT NOT NULL DEFAULT '',
	window_start {{time}} NOT NULL,
	count BIGINT NOT NULL DEFAULT 0,
	alerted_at {{time}},
	created_at {{time}} NOT NULL
);
CREATE UNIQUE INDEX idx_security_alert_counters_window ON security_alert_counters (rule, organization_id, account_id, ip_key, window_start);
CREATE INDEX idx_security_alert_counters_organization_id ON security_alert_counters (organization_id);
CREATE INDEX idx_security_alert_counters_account_id ON security_alert_counters (account_id);
CREATE INDEX idx_security_alert_counters_created_at ON security_alert_counters (created_at);
`)
	addMigration(84, "unusual-activity alerts: the countries each operator signed in from", `
CREATE TABLE sign_in_countries (
	id {{id}},
	organization_id BIGINT NOT NULL,
	account_id BIGINT NOT NULL,
	country TEXT NOT NULL,
	created_at {{time}} NOT NULL
);
CREATE UNIQUE INDEX idx_sign_in_countries_account_country ON sign_in_countries (account_id, country);
CREATE INDEX idx_sign_in_countries_organization_id ON sign_in_countries (organization_id);
CREATE INDEX idx_sign_in_countries_created_at ON sign_in_countries (created_at);
`)
}
