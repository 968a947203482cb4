// Package security handles vulnerability reports to Convot (policy §10,
// §14): mail to the security address becomes a report and its workflow
// (workflows.VulnerabilityReport), which acknowledges it, keeps the two
// business days, escalates and informs the reporter; staff act on reports
// in the staff console and with `convot security`, as themselves.
package security

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// Workflows starts and signals report workflows: Temporal in every
// deployment; a recorder in tests.
type Workflows interface {
	Start(ctx context.Context, in workflows.VulnerabilityInput) error
	Signal(ctx context.Context, reportID uint64, signal string, sig workflows.VulnSignal) error
}

// TemporalWorkflows runs report workflows on Temporal.
type TemporalWorkflows struct{ Client client.Client }

// Start starts the report's workflow; starting it again joins the first.
func (t TemporalWorkflows) Start(ctx context.Context, in workflows.VulnerabilityInput) error {
	_, err := t.Client.ExecuteWorkflow(ctx, workflows.VulnerabilityStartOptions(in), workflows.VulnerabilityWorkflowType, in)
	return err
}

// Signal sends a staff member's action to the report's workflow.
func (t TemporalWorkflows) Signal(ctx context.Context, reportID uint64, signal string, sig workflows.VulnSignal) error {
	return t.Client.SignalWorkflow(ctx, workflows.VulnerabilityWorkflowID(reportID), "", signal, sig)
}

// Reports takes reports in and carries staff actions to their workflows.
type Reports struct {
	Store     *store.Store
	Workflows Workflows
	Now       func() time.Time
}

// Mail is a mail to the security address, its text cleaned by the
// transport.
type Mail struct {
	MessageID   string
	FromAddress string
	FromName    string
	Subject     string
	Text        string
}

// ErrUnavailable: reports cannot be tracked now (no workflow engine); the
// mail should be delivered again later.
var ErrUnavailable = errors.New("security: vulnerability reports cannot be taken at the moment")

// ErrInvalid is a staff action refused, with a message for the person.
type ErrInvalid struct{ Msg string }

func (e ErrInvalid) Error() string { return e.Msg }

const (
	maxSubject = 500
	maxBody    = 50000
)

// ReceiveMail writes the report of a mail, once per mail, and starts its
// workflow; a mail delivered again starts the first report's workflow
// again (joining it), so a start that failed after the commit is made
// good by the redelivery.
func (r *Reports) ReceiveMail(ctx context.Context, m Mail) (*models.VulnerabilityReport, bool, error) {
	if r.Workflows == nil {
		return nil, false, ErrUnavailable
	}
	subject := truncate(strings.TrimSpace(m.Subject), maxSubject)
	if subject == "" {
		subject = "(no subject)"
	}
	body := truncate(strings.TrimSpace(m.Text), maxBody)
	if body == "" {
		body = "(This email had no text.)"
	}
	now := r.Now().UTC()
	rep := &models.VulnerabilityReport{ReporterEmail: m.FromAddress, ReporterName: truncate(strings.TrimSpace(m.FromName), 200),
		Subject: subject, Body: body, Status: models.VulnReceived, ReceivedAt: now,
		AcknowledgeDueAt: workflows.AddBusinessDays(now, workflows.VulnAckBusinessDays), CreatedAt: now, UpdatedAt: now}
	report, opened, err := r.Store.OpenVulnerabilityReportByMail(ctx, rep, m.MessageID)
	if err != nil {
		return nil, false, err
	}
	if err := r.Workflows.Start(ctx, workflows.VulnerabilityInput{ReportID: report.ID, ReceivedAt: report.ReceivedAt}); err != nil {
		return nil, false, fmt.Errorf("start the report's workflow: %w", err)
	}
	return report, opened, nil
}

// Staff actions on a report.
const (
	ActionTriage = "triage" // value: a severity
	ActionFixed  = "fixed"
	ActionClose  = "close" // value: an outcome
)

// Act carries a staff member's action to the report's workflow, which
// records it with the staff account. The caller has checked that staff is
// a staff member using two-factor authentication.
func (r *Reports) Act(ctx context.Context, staff *models.Account, reportID uint64, action, value string) error {
	if r.Workflows == nil {
		return ErrUnavailable
	}
	rep, err := r.Store.VulnerabilityReport(ctx, reportID)
	if err != nil {
		return err
	}
	if rep.Status == models.VulnClosed {
		return ErrInvalid{"This report is closed."}
	}
	sig := workflows.VulnSignal{ActorID: staff.ID}
	var signal string
	switch action {
	case ActionTriage:
		if !slices.Contains(models.VulnSeverities, value) {
			return ErrInvalid{"Choose a severity: " + strings.Join(models.VulnSeverities, ", ") + "."}
		}
		signal, sig.Severity = workflows.SignalVulnTriaged, value
	case ActionFixed:
		signal = workflows.SignalVulnFixed
	case ActionClose:
		if !slices.Contains(models.VulnOutcomes, value) {
			return ErrInvalid{"Choose how it ends: " + strings.Join(models.VulnOutcomes, ", ") + "."}
		}
		signal, sig.Outcome = workflows.SignalVulnClosed, value
	default:
		return ErrInvalid{"Unknown action: triage, fixed or close."}
	}
	return r.Workflows.Signal(ctx, reportID, signal, sig)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
