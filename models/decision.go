package models

import (
	"context"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/convot/convot/policies"
)

// EgressDecision is one decision of the egress gate, kept for auditors. It
// names categories, never values: no personal data.
type EgressDecision struct {
	ID             uint64 `gorm:"primaryKey"`
	OrganizationID uint64 `gorm:"index"`
	Subprocessor   string `gorm:"index" privacy:"none"`
	Purpose        string `privacy:"none"`
	Categories     string `privacy:"none"` // comma-separated category names
	Allow          bool
	Reason         string    `privacy:"none"`
	Drop           string    `gorm:"column:drop_categories" privacy:"none"`
	Redact         string    `gorm:"column:redact_categories" privacy:"none"`
	PolicyRevision string    `privacy:"none"`
	CreatedAt      time.Time `gorm:"index"`
}

// DecisionLog records the gate's decisions in the database.
type DecisionLog struct{ DB *gorm.DB }

// Record implements policies.DecisionLog.
func (l DecisionLog) Record(ctx context.Context, r policies.DecisionRecord) error {
	return l.DB.WithContext(ctx).Create(&EgressDecision{
		OrganizationID: r.OrganizationID, Subprocessor: r.Subprocessor, Purpose: r.Purpose,
		Categories: strings.Join(r.Categories, ","), Allow: r.Allow, Reason: r.Reason,
		Drop: strings.Join(r.Drop, ","), Redact: strings.Join(r.Redact, ","),
		PolicyRevision: r.PolicyRevision, CreatedAt: r.Time.UTC(),
	}).Error
}

// DecisionFilter narrows the decision log.
type DecisionFilter struct {
	Subprocessor   string
	Result         string // allow, deny or empty
	OrganizationID uint64
	From, To       time.Time
	Limit          int
}

// Decisions lists recorded decisions, newest first.
func (l DecisionLog) Decisions(ctx context.Context, f DecisionFilter) ([]EgressDecision, error) {
	q := l.DB.WithContext(ctx).Order("id DESC")
	if f.Subprocessor != "" {
		q = q.Where("subprocessor = ?", f.Subprocessor)
	}
	switch f.Result {
	case "allow":
		q = q.Where("allow = ?", true)
	case "deny":
		q = q.Where("allow = ?", false)
	}
	if f.OrganizationID != 0 {
		q = q.Where("organization_id = ?", f.OrganizationID)
	}
	if !f.From.IsZero() {
		q = q.Where("created_at >= ?", f.From.UTC())
	}
	if !f.To.IsZero() {
		q = q.Where("created_at < ?", f.To.UTC())
	}
	if f.Limit <= 0 || f.Limit > 5000 {
		f.Limit = 500
	}
	var out []EgressDecision
	return out, q.Limit(f.Limit).Find(&out).Error
}
