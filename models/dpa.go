package models

import "time"

// DPAVersion is the version of the Data Processing Agreement Convot offers
// (web/static/dpa.txt, served at /dpa): a Customer's owner accepts a
// version, and a new version is accepted anew.
const DPAVersion = "2026-12-01"

// DPAAcceptance records that an organization accepted a version of the
// Data Processing Agreement (policy §14, GDPR Art. 28): which version, when
// and by whom, and the SHA-256 of the text accepted. It is the
// organization's contract record, kept while the account lasts; once per
// organization and version (a unique index).
type DPAAcceptance struct {
	ID             uint64 `gorm:"primaryKey"`
	OrganizationID uint64 `gorm:"uniqueIndex:idx_dpa_acceptances_org_version"`
	Version        string `gorm:"uniqueIndex:idx_dpa_acceptances_org_version" privacy:"none"`
	TextSHA256     string `privacy:"none"`
	AcceptedByID   uint64 // the owner's account
	AcceptedAt     time.Time
}
