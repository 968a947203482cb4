package models

import (
	"context"
	"errors"
	"strings"
	"sync"
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
	row := decisionRow(r)
	return l.DB.WithContext(ctx).Create(&row).Error
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

// GroupDecisionLog records decisions like DecisionLog, but commits the
// decisions of concurrent callers together (group commit): each Record
// still returns only once its row is committed, so a decision that cannot
// be recorded is still denied, while a busy node writes one INSERT for
// many decisions instead of one each.
type GroupDecisionLog struct {
	db      *gorm.DB
	pending chan pendingDecision
	done    chan struct{}

	mu     sync.RWMutex // held to send on pending; Close takes it whole
	closed bool
}

type pendingDecision struct {
	row    EgressDecision
	result chan error
}

// maxDecisionBatch bounds one INSERT.
const maxDecisionBatch = 500

// NewGroupDecisionLog starts the writer; Close stops it.
func NewGroupDecisionLog(db *gorm.DB) *GroupDecisionLog {
	l := &GroupDecisionLog{db: db, pending: make(chan pendingDecision, maxDecisionBatch), done: make(chan struct{})}
	go l.write()
	return l
}

// Record implements policies.DecisionLog.
func (l *GroupDecisionLog) Record(ctx context.Context, r policies.DecisionRecord) error {
	p := pendingDecision{row: decisionRow(r), result: make(chan error, 1)}
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return errors.New("decision log closed")
	}
	select {
	case l.pending <- p:
	case <-ctx.Done():
		l.mu.RUnlock()
		return ctx.Err()
	}
	l.mu.RUnlock()
	return <-p.result
}

func (l *GroupDecisionLog) write() {
	batch := make([]pendingDecision, 0, maxDecisionBatch)
	rows := make([]EgressDecision, 0, maxDecisionBatch)
	for {
		var first pendingDecision
		select {
		case first = <-l.pending:
		case <-l.done:
			// Nothing can be queued any more: answer what was.
			for {
				select {
				case p := <-l.pending:
					p.result <- errors.New("decision log closed")
				default:
					return
				}
			}
		}
		batch, rows = append(batch[:0], first), append(rows[:0], first.row)
	gather: // whatever queued while the last INSERT ran joins this one
		for len(batch) < maxDecisionBatch {
			select {
			case p := <-l.pending:
				batch, rows = append(batch, p), append(rows, p.row)
			default:
				break gather
			}
		}
		err := l.insert(rows)
		for _, p := range batch {
			p.result <- err
		}
	}
}

// insert writes rows in one INSERT, atomic on its own: without gorm's
// wrapping transaction it is one round trip, not three. On PostgreSQL the
// rows go as one array a column, straight to the driver: gorm's Create
// spent more CPU building the statement over reflection than the round
// trip took, and every message a node fans out waits on this log.
func (l *GroupDecisionLog) insert(rows []EgressDecision) error {
	if !IsPostgres(l.db) {
		return l.db.Session(&gorm.Session{SkipDefaultTransaction: true}).Create(&rows).Error
	}
	n := len(rows)
	var (
		orgs                                = make([]int64, n)
		subprocessors, purposes, categories = make([]string, n), make([]string, n), make([]string, n)
		reasons, drops, redacts, revisions  = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		allow                               = make([]bool, n)
		at                                  = make([]time.Time, n)
	)
	for i, r := range rows {
		orgs[i], subprocessors[i], purposes[i], categories[i] = int64(r.OrganizationID), r.Subprocessor, r.Purpose, r.Categories
		allow[i], reasons[i], drops[i], redacts[i] = r.Allow, r.Reason, r.Drop, r.Redact
		revisions[i], at[i] = r.PolicyRevision, r.CreatedAt
	}
	_, err := l.db.ConnPool.ExecContext(context.Background(), insertDecisions,
		orgs, subprocessors, purposes, categories, allow, reasons, drops, redacts, revisions, at)
	return err
}

// insertDecisions is insert's statement on PostgreSQL.
const insertDecisions = `INSERT INTO egress_decisions (organization_id, subprocessor, purpose, categories, allow, reason,
	drop_categories, redact_categories, policy_revision, created_at)
SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::boolean[], $6::text[],
	$7::text[], $8::text[], $9::text[], $10::timestamptz[])`

// Close stops the writer; later Records fail (and so deny).
func (l *GroupDecisionLog) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.closed = true
		close(l.done)
	}
}

func decisionRow(r policies.DecisionRecord) EgressDecision {
	return EgressDecision{
		OrganizationID: r.OrganizationID, Subprocessor: r.Subprocessor, Purpose: r.Purpose,
		Categories: strings.Join(r.Categories, ","), Allow: r.Allow, Reason: r.Reason,
		Drop: strings.Join(r.Drop, ","), Redact: strings.Join(r.Redact, ","),
		PolicyRevision: r.PolicyRevision, CreatedAt: r.Time.UTC(),
	}
}
