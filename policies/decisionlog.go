package policies

import (
	"context"
	"slices"
	"sync"
	"time"
)

// DecisionRecord is what the decision log keeps of one decision, for
// auditors. It holds no personal data: categories, never values.
type DecisionRecord struct {
	Time           time.Time `json:"time"`
	OrganizationID uint64    `json:"organization_id"`
	Subprocessor   string    `json:"subprocessor"`
	Purpose        string    `json:"purpose"`
	Categories     []string  `json:"categories"`
	Allow          bool      `json:"allow"`
	Reason         string    `json:"reason"`
	Drop           []string  `json:"drop,omitempty"`
	Redact         []string  `json:"redact,omitempty"`
	PolicyRevision string    `json:"policy_revision"`
}

// DecisionLog records every decision of the gate. A decision that cannot be
// recorded is not allowed.
type DecisionLog interface {
	Record(ctx context.Context, r DecisionRecord) error
}

// MemoryLog is a DecisionLog kept in memory, for tests and `convot dev`.
type MemoryLog struct {
	mu      sync.Mutex
	records []DecisionRecord
}

// NewMemoryLog returns an empty in-memory decision log.
func NewMemoryLog() *MemoryLog { return &MemoryLog{} }

// Record keeps r.
func (l *MemoryLog) Record(_ context.Context, r DecisionRecord) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, r)
	return nil
}

// Records returns a copy of the records, oldest first.
func (l *MemoryLog) Records() []DecisionRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.records)
}
