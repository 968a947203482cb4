package dsr

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/convot/convot/internal/obligations"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// An officer's decisions on a request: approve, reject with a reason,
// extend once. The organization's privacy officer takes them on its End
// Users' requests (handlers/privacy), Convot's staff on requests to Convot
// as controller (the staff console); both send the same signals to the
// request's workflow and record who decided in the audit log.

// Decision is a decision checked against the request, ready to be sent.
type Decision struct {
	Signal string // workflows.SignalDsr*
	Arg    any    // the signal's argument
	Action string // the audit event's action, e.g. privacy.approved
	Detail string // the audit event's detail (no personal data)
}

// maxReason bounds a reason the requester is told.
const maxReason = 500

// Approval approves a request that awaits the officer's approval.
func Approval(r *models.PrivacyRequest, by uint64) (Decision, error) {
	if r.Status != obligations.DsrAwaitingApproval {
		return Decision{}, refuse(ErrGone, "This request does not wait for approval (it is %s).", strings.ReplaceAll(r.Status, "_", " "))
	}
	return Decision{Signal: workflows.SignalDsrApprove, Arg: workflows.DsrDecisionSignal{ByAccountID: by}, Action: "privacy.approved", Detail: r.Type}, nil
}

// Rejection rejects an open request for reason, which the requester is told.
func Rejection(r *models.PrivacyRequest, by uint64, reason string) (Decision, error) {
	reason = strings.TrimSpace(reason)
	switch {
	case !r.Open():
		return Decision{}, refuse(ErrGone, "This request is closed already.")
	case reason == "" || utf8.RuneCountInString(reason) > maxReason:
		return Decision{}, refuse(ErrInvalid, "Say why the request is rejected (at most 500 characters, no personal data): the requester is told.")
	}
	return Decision{Signal: workflows.SignalDsrReject, Arg: workflows.DsrDecisionSignal{ByAccountID: by, Reason: reason}, Action: "privacy.rejected", Detail: r.Type}, nil
}

// Extension extends an open request's deadline once, by 1 or 2 months, for
// reason, which the requester is told.
func Extension(r *models.PrivacyRequest, by uint64, months int, reason string) (Decision, error) {
	reason = strings.TrimSpace(reason)
	switch {
	case !r.Open():
		return Decision{}, refuse(ErrGone, "This request is closed already.")
	case r.Extended:
		return Decision{}, refuse(ErrAlreadyDone, "The deadline can be extended once only, and it was.")
	case months < 1 || months > obligations.MaxDsrExtensionMonths:
		return Decision{}, refuse(ErrInvalid, "Extend by 1 or %d months.", obligations.MaxDsrExtensionMonths)
	case reason == "" || utf8.RuneCountInString(reason) > maxReason:
		return Decision{}, refuse(ErrInvalid, "Say why more time is needed (at most 500 characters, no personal data): the requester is told.")
	}
	return Decision{Signal: workflows.SignalDsrExtend, Arg: workflows.DsrExtendSignal{Months: months, Reason: reason, ByAccountID: by},
		Action: "privacy.extended", Detail: fmt.Sprintf("%d months", months)}, nil
}

// Decide sends the decision to the request's workflow, then records it in
// the audit log of auditOrg (the request's organization for its own
// officer; 0, the deployment's, for Convot's staff) with actor, the
// account that decided. ErrUnavailable: the workflow could not be reached
// and nothing was recorded.
func (d *Intake) Decide(ctx context.Context, r *models.PrivacyRequest, dec Decision, actor, auditOrg uint64) error {
	if d.Workflows == nil {
		return ErrUnavailable
	}
	if err := d.Workflows.Signal(ctx, r.ID, dec.Signal, dec.Arg); err != nil {
		return ErrUnavailable
	}
	return d.Store.CreateAuditEvent(ctx, &models.AuditEvent{OrganizationID: auditOrg, ActorID: actor, DataKeyID: d.Keys.SystemKey(),
		Action: dec.Action, Target: fmt.Sprintf("privacy_request:%d", r.ID), Detail: dec.Detail, CreatedAt: d.Now().UTC()})
}

// ApprovalPreview is what approving a request does, shown before the
// officer confirms: for an erasure, the rows it erases per kind of record
// with the categories of data they hold.
type ApprovalPreview struct {
	R      *models.PrivacyRequest
	Counts []ApprovalCount
	Rows   int64
	Base   string // the request's path, where the approval posts
}

// ApprovalCount is one kind of record an erasure erases.
type ApprovalCount struct {
	store.PlanCount
	Labels []string // the categories' human labels (models.Categories)
}

// Preview is what approving r does; base is the request's page.
func (d *Intake) Preview(ctx context.Context, r *models.PrivacyRequest, base string) (*ApprovalPreview, error) {
	p := &ApprovalPreview{R: r, Base: base}
	plan, err := d.Plan(ctx, r)
	if err != nil || plan == nil {
		return p, err
	}
	for _, pc := range plan.Counts {
		ac := ApprovalCount{PlanCount: pc}
		for _, cat := range pc.Categories {
			label := models.Categories[cat]
			if label == "" {
				label = cat
			}
			ac.Labels = append(ac.Labels, label)
		}
		p.Counts = append(p.Counts, ac)
		p.Rows += pc.Rows
	}
	return p, nil
}

// Plan is what approving an erasure would erase, from the store's plan;
// nil for other types.
func (d *Intake) Plan(ctx context.Context, r *models.PrivacyRequest) (*store.ErasurePlan, error) {
	if r.Type != obligations.DsrErasure {
		return nil, nil
	}
	return d.Store.PlanErasure(ctx, r.OrganizationID, r.Subject())
}
