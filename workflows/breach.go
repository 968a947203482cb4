package workflows

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Breach notification (policy §11; GDPR Art. 33, 34): one workflow per
// incident, from the officer's record on. The notice to the supervisory
// authority is due 72 hours after awareness (BreachNoticeDue); the owners
// and admins are told at 24, 48 and 60 hours while it is not sent, and
// again when it is overdue. The officer's risk assessment arrives by
// signal: none ends the obligation (documented), low needs the authority's
// notice, high also notifies the affected users by email at once. The
// notice is drafted with the contents Art. 33(3) requires, and the workflow
// waits for the signal that it was sent; sent after 72 hours, it must come
// with the reasons for the delay (Art. 33(1)), which the activity checks.
// Every step goes to the incident's trail and the audit log.

// BreachWorkflowType is the registered name of BreachNotification.
const BreachWorkflowType = "BreachNotification"

// Signals and query of the breach workflow.
const (
	SignalBreachAssess   = "assess"             // BreachAssessSignal
	SignalBreachNotified = "authority_notified" // BreachNoticeSentSignal
	QueryBreachStatus    = "status"             // returns BreachState
)

// Activities of the breach workflow, implemented in package activities.
const (
	ActivityRecordIncidentStep   = "RecordIncidentStep"
	ActivityEscalateIncident     = "EscalateIncident"
	ActivityDraftAuthorityNotice = "DraftAuthorityNotice"
	ActivityRecordNoticeSent     = "RecordNoticeSent"
	ActivityNotifyAffectedUsers  = "NotifyAffectedUsers"
)

// BreachNoticeWindow is how long after awareness the authority's notice is
// due (Art. 33(1): within 72 hours).
const BreachNoticeWindow = 72 * time.Hour

// BreachEscalations are the hours after awareness at which the owners and
// admins are reminded while the notice is not sent; the last is the
// deadline itself, when the incident becomes overdue.
var BreachEscalations = []time.Duration{24 * time.Hour, 48 * time.Hour, 60 * time.Hour, BreachNoticeWindow}

// Breach statuses, as in models.Incident.Status and the BreachStatus
// search attribute.
const (
	BreachOpen              = "open"
	BreachAssessed          = "assessed"
	BreachOverdue           = "overdue"
	BreachAuthorityNotified = "authority_notified"
	BreachClosed            = "closed"
)

// Risk levels (models.RiskNone, ...).
const (
	RiskNone = "none"
	RiskLow  = "low"
	RiskHigh = "high"
)

// Incident steps, as recorded in the trail.
const (
	StepWorkflowStarted = "workflow_started"
	StepEscalated       = "escalated"
	StepOverdue         = "overdue"
	StepAssessed        = "assessed"
	StepNoticeDrafted   = "notice_drafted"
	StepNoticeSent      = "notice_sent"
	StepNoticeRefused   = "notice_sent_refused"
	StepUsersNotified   = "users_notified"
	StepClosed          = "closed"
)

// BreachInput starts the workflow of one incident: identifiers and the
// time of awareness only.
type BreachInput struct {
	IncidentID     uint64
	OrganizationID uint64 // 0: Convot's own incident, recorded by staff
	AwareAt        time.Time
}

// BreachAssessSignal carries the officer's risk assessment; the reasons
// are stored with the incident by whoever sends it.
type BreachAssessSignal struct {
	Risk    string
	ActorID uint64
}

// BreachNoticeSentSignal says the authority's notice was sent; when late,
// the reasons for the delay must already be stored with the incident.
type BreachNoticeSentSignal struct {
	ActorID uint64
	SentAt  time.Time // when it was sent; the signal's arrival when zero
}

// IncidentStepInput records one step: in the incident's trail (once per
// OnceKey, when set), in the audit log, and, when Status is set, as the
// incident's status.
type IncidentStepInput struct {
	IncidentID uint64
	Step       string
	OnceKey    string
	Detail     string
	ActorID    uint64
	Status     string
	Risk       string // set by an assessment
	At         time.Time
}

// EscalationInput asks the owners and admins to act.
type EscalationInput struct {
	IncidentID uint64
	Stage      string // 24h, 48h, 60h, 72h
	DueAt      time.Time
	At         time.Time
}

// NoticeSentInput records the authority's notice as sent.
type NoticeSentInput struct {
	IncidentID uint64
	ActorID    uint64
	SentAt     time.Time
	Late       bool
}

// ErrDelayReasonsRequired is the application error type of a late notice
// marked sent without reasons for the delay.
const ErrDelayReasonsRequired = "DelayReasonsRequired"

// BreachState answers QueryBreachStatus.
type BreachState struct {
	IncidentID      uint64
	OrganizationID  uint64
	AwareAt         time.Time
	NoticeDueAt     time.Time
	Status          string
	Risk            string    `json:",omitempty"`
	Escalations     []string  `json:",omitempty"` // stages reached, in order
	NoticeDraftedAt time.Time `json:",omitzero"`
	NoticeSentAt    time.Time `json:",omitzero"`
	NoticeLate      bool      `json:",omitempty"`
	UsersNotified   int64     `json:",omitempty"`
	UsersNotifiedAt time.Time `json:",omitzero"`
	Steps           []BreachStep
}

// BreachStep is one entry of the state's history.
type BreachStep struct {
	At     time.Time
	Step   string
	Detail string `json:",omitempty"`
}

// BreachWorkflowID is the workflow ID of an incident.
func BreachWorkflowID(incidentID uint64) string {
	return "breach-" + strconv.FormatUint(incidentID, 10)
}

// BreachNotification runs one incident's notification obligations.
func BreachNotification(ctx workflow.Context, in BreachInput) (BreachState, error) {
	b := &breach{}
	if err := b.setup(ctx, in); err != nil {
		return BreachState{}, err
	}
	return b.run(ctx)
}

type breach struct {
	state  BreachState
	assess workflow.ReceiveChannel
	sent   workflow.ReceiveChannel
	stage  int // index of the next escalation
}

func (b *breach) setup(ctx workflow.Context, in BreachInput) error {
	// OrganizationID 0 is an incident of Convot's own, recorded by staff.
	if in.IncidentID == 0 || in.AwareAt.IsZero() {
		return temporal.NewNonRetryableApplicationError("incident and time of awareness are required", "InvalidInput", nil)
	}
	b.state = BreachState{
		IncidentID: in.IncidentID, OrganizationID: in.OrganizationID, AwareAt: in.AwareAt,
		NoticeDueAt: in.AwareAt.Add(BreachNoticeWindow), Status: BreachOpen,
	}
	if err := workflow.SetQueryHandler(ctx, QueryBreachStatus, func() (BreachState, error) {
		s := b.state
		s.Escalations = append([]string(nil), b.state.Escalations...)
		s.Steps = append([]BreachStep(nil), b.state.Steps...)
		return s, nil
	}); err != nil {
		return err
	}
	b.assess = workflow.GetSignalChannel(ctx, SignalBreachAssess)
	b.sent = workflow.GetSignalChannel(ctx, SignalBreachNotified)
	b.publish(ctx)
	return nil
}

func (b *breach) run(ctx workflow.Context) (BreachState, error) {
	b.step(ctx, IncidentStepInput{Step: StepWorkflowStarted, OnceKey: StepWorkflowStarted,
		Detail: "authority notice due " + b.state.NoticeDueAt.UTC().Format(time.RFC3339)})
	b.draft(ctx)
	for !b.done() {
		s := workflow.NewSelector(ctx)
		var cancelTimer workflow.CancelFunc
		if b.state.NoticeSentAt.IsZero() && b.stage < len(BreachEscalations) {
			at := b.state.AwareAt.Add(BreachEscalations[b.stage])
			tctx, cancel := workflow.WithCancel(ctx)
			cancelTimer = cancel
			timer := workflow.NewTimerWithOptions(tctx, max(at.Sub(workflow.Now(ctx)), 0),
				workflow.TimerOptions{Summary: "breach escalation at " + stageName(BreachEscalations[b.stage])})
			s.AddFuture(timer, func(f workflow.Future) {
				if f.Get(ctx, nil) == nil {
					b.escalate(ctx)
				}
			})
		}
		onSignal(ctx, s, b.assess, func(sig BreachAssessSignal) {
			b.onAssess(ctx, sig)
		})
		onSignal(ctx, s, b.sent, func(sig BreachNoticeSentSignal) {
			b.onSent(ctx, sig)
		})
		s.Select(ctx)
		if cancelTimer != nil {
			cancelTimer()
		}
	}
	b.state.Status = BreachClosed
	b.publish(ctx)
	b.step(ctx, IncidentStepInput{Step: StepClosed, OnceKey: StepClosed, Status: BreachClosed, Detail: "risk " + b.state.Risk})
	return b.state, nil
}

// done: nothing further is due. A risk of none needs no notice; otherwise
// the notice is sent and the assessment made (its user notice, when high,
// is sent as soon as the assessment arrives).
func (b *breach) done() bool {
	if b.state.Risk == RiskNone {
		return true
	}
	return b.state.Risk != "" && !b.state.NoticeSentAt.IsZero()
}

func stageName(d time.Duration) string { return fmt.Sprintf("%dh", int(d.Hours())) }

func (b *breach) escalate(ctx workflow.Context) {
	d := BreachEscalations[b.stage]
	b.stage++
	if !b.state.NoticeSentAt.IsZero() || b.state.Risk == RiskNone {
		return
	}
	stage := stageName(d)
	now := workflow.Now(ctx)
	b.state.Escalations = append(b.state.Escalations, stage)
	if d >= BreachNoticeWindow {
		b.state.Status = BreachOverdue
		b.publish(ctx)
	}
	b.history(now, StepEscalated, stage)
	in := EscalationInput{IncidentID: b.state.IncidentID, Stage: stage, DueAt: b.state.NoticeDueAt, At: now}
	if err := workflow.ExecuteActivity(shortActivity(ctx), ActivityEscalateIncident, in).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Error("escalation failed", "IncidentID", b.state.IncidentID, "Stage", stage, "Error", err)
	}
	if d >= BreachNoticeWindow {
		b.step(ctx, IncidentStepInput{Step: StepOverdue, OnceKey: StepOverdue, Status: BreachOverdue,
			Detail: "72 hours passed without a notice to the authority"})
	}
}

func (b *breach) onAssess(ctx workflow.Context, sig BreachAssessSignal) {
	switch sig.Risk {
	case RiskNone, RiskLow, RiskHigh:
	default:
		workflow.GetLogger(ctx).Warn("assessment with unknown risk ignored", "Risk", sig.Risk)
		return
	}
	b.state.Risk = sig.Risk
	status := b.state.Status
	if status == BreachOpen {
		status = BreachAssessed
	}
	b.state.Status = status
	b.publish(ctx)
	b.step(ctx, IncidentStepInput{Step: StepAssessed, Detail: "risk " + sig.Risk, ActorID: sig.ActorID, Status: status, Risk: sig.Risk})
	if sig.Risk != RiskNone {
		b.draft(ctx) // the notice states the assessment
	}
	if sig.Risk == RiskHigh && b.state.UsersNotifiedAt.IsZero() {
		b.notifyUsers(ctx)
	}
}

func (b *breach) onSent(ctx workflow.Context, sig BreachNoticeSentSignal) {
	if !b.state.NoticeSentAt.IsZero() {
		return
	}
	at := sig.SentAt
	if at.IsZero() {
		at = workflow.Now(ctx)
	}
	in := NoticeSentInput{IncidentID: b.state.IncidentID, ActorID: sig.ActorID, SentAt: at, Late: at.After(b.state.NoticeDueAt)}
	err := workflow.ExecuteActivity(shortActivity(ctx), ActivityRecordNoticeSent, in).Get(ctx, nil)
	if err != nil {
		// A late notice without reasons: refused, still waiting.
		detail := "refused"
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) && appErr.Type() == ErrDelayReasonsRequired {
			detail = "sent after 72 hours without reasons for the delay"
		}
		b.step(ctx, IncidentStepInput{Step: StepNoticeRefused, Detail: detail, ActorID: sig.ActorID})
		return
	}
	b.state.NoticeSentAt, b.state.NoticeLate = at, in.Late
	b.state.Status = BreachAuthorityNotified
	b.history(workflow.Now(ctx), StepNoticeSent, lateness(in.Late))
	b.publish(ctx)
}

func lateness(late bool) string {
	if late {
		return "late, with reasons for the delay"
	}
	return "within 72 hours"
}

func (b *breach) draft(ctx workflow.Context) {
	if err := workflow.ExecuteActivity(shortActivity(ctx), ActivityDraftAuthorityNotice, b.state.IncidentID).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Error("drafting the authority notice failed", "IncidentID", b.state.IncidentID, "Error", err)
		return
	}
	now := workflow.Now(ctx)
	b.state.NoticeDraftedAt = now
	b.history(now, StepNoticeDrafted, "")
}

func (b *breach) notifyUsers(ctx workflow.Context) {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Hour,
		HeartbeatTimeout:    2 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 10 * time.Second, BackoffCoefficient: 2, MaximumInterval: 10 * time.Minute},
	})
	var n int64
	if err := workflow.ExecuteActivity(actx, ActivityNotifyAffectedUsers, b.state.IncidentID).Get(ctx, &n); err != nil {
		workflow.GetLogger(ctx).Error("notifying the affected users failed", "IncidentID", b.state.IncidentID, "Error", err)
		return
	}
	now := workflow.Now(ctx)
	b.state.UsersNotified, b.state.UsersNotifiedAt = n, now
	b.history(now, StepUsersNotified, fmt.Sprintf("%d notified", n))
}

// step records a step through the activity and in the state's history.
func (b *breach) step(ctx workflow.Context, in IncidentStepInput) {
	in.IncidentID = b.state.IncidentID
	in.At = workflow.Now(ctx)
	b.history(in.At, in.Step, in.Detail)
	if err := workflow.ExecuteActivity(shortActivity(ctx), ActivityRecordIncidentStep, in).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Error("recording an incident step failed", "IncidentID", b.state.IncidentID, "Step", in.Step, "Error", err)
	}
}

const maxBreachSteps = 200

func (b *breach) history(at time.Time, step, detail string) {
	if len(b.state.Steps) < maxBreachSteps {
		b.state.Steps = append(b.state.Steps, BreachStep{At: at, Step: step, Detail: detail})
	}
}

// publish sets the search attributes: organization, due date and status.
func (b *breach) publish(ctx workflow.Context) {
	err := workflow.UpsertTypedSearchAttributes(ctx,
		ConvotOrgId.ValueSet(strconv.FormatUint(b.state.OrganizationID, 10)),
		BreachNoticeDue.ValueSet(b.state.NoticeDueAt),
		BreachStatus.ValueSet(b.state.Status),
	)
	if err != nil {
		workflow.GetLogger(ctx).Warn("upserting search attributes failed", "Error", err)
	}
}
