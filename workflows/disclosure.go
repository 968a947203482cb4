package workflows

import (
	"strconv"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Disclosure requests (policy §6): one workflow per request of the
// register (disclosure-<id>), started when staff record it. It keeps the
// response deadline (escalating to staff when no officer decided by then),
// waits for a privacy officer's approval or refusal, has only the
// requested categories disclosed through the egress gate to the recorded
// recipient, then notifies the people concerned, unless the request
// lawfully forbids it (the activity records that). A merger notifies every
// account of the organization. Signals carry staff account IDs only.

// DisclosureWorkflowType is the registered name of DisclosureRequest.
const DisclosureWorkflowType = "DisclosureRequest"

// Signals and query of the disclosure workflow.
const (
	SignalDisclosureApprove = "approve" // DisclosureDecision
	SignalDisclosureRefuse  = "refuse"  // DisclosureDecision
	QueryDisclosureStatus   = "status"  // returns DisclosureState
)

// Activities of the disclosure workflow (package activities).
const (
	ActivityRecordDisclosureStep     = "RecordDisclosureStep"
	ActivityEscalateDisclosure       = "EscalateDisclosure"
	ActivityDiscloseData             = "DiscloseData"
	ActivityNotifyDisclosureSubjects = "NotifyDisclosureSubjects"
)

// Disclosure statuses (models.DisclosureReceived, ...), also ProcessStatus.
const (
	DisclosureReceived  = "received"
	DisclosureApproved  = "approved"
	DisclosureRefused   = "refused"
	DisclosureDisclosed = "disclosed"
	DisclosureOverdue   = "overdue"
	DisclosureClosed    = "closed"
)

// ProcessDisclosure is the ProcessKind of the workflow.
const ProcessDisclosure = "disclosure"

// DisclosureInput starts a request's workflow.
type DisclosureInput struct {
	DisclosureID   uint64
	OrganizationID uint64
	DueAt          time.Time
}

// DisclosureDecision is an officer's approval or refusal (the reason of a
// refusal is stored with the request by whoever sends it).
type DisclosureDecision struct {
	ActorID uint64
}

// DisclosureStepInput records a step (status, actor) and audits it; the
// activities that act take it too.
type DisclosureStepInput struct {
	DisclosureID uint64
	Step         string
	Status       string
	ActorID      uint64
	At           time.Time
}

// DisclosureOutcome is what disclosing or notifying did: counts and the
// gate's verdict, never data.
type DisclosureOutcome struct {
	Allowed bool   // the gate allowed the disclosure
	Reason  string `json:",omitempty"` // the gate's reasons when it denied
	Fields  int    // fields disclosed
	Digest  string `json:",omitempty"` // SHA-256 of what was sent
	// Notified counts the people told; Forbidden says the request
	// forbids telling them.
	Notified  int64
	Forbidden bool
}

// DisclosureState answers QueryDisclosureStatus.
type DisclosureState struct {
	DisclosureID   uint64
	OrganizationID uint64
	DueAt          time.Time
	Status         string
	ApprovedBy     uint64    `json:",omitempty"`
	DecidedAt      time.Time `json:",omitzero"`
	EscalatedAt    time.Time `json:",omitzero"`
	DisclosedAt    time.Time `json:",omitzero"`
	Fields         int       `json:",omitempty"`
	Notified       int64     `json:",omitempty"`
	NoticeWithheld bool      `json:",omitempty"`
	GateReason     string    `json:",omitempty"`
}

// DisclosureWorkflowID is the workflow ID of a request.
func DisclosureWorkflowID(id uint64) string { return "disclosure-" + strconv.FormatUint(id, 10) }

// DisclosureStartOptions starts a request's workflow once.
func DisclosureStartOptions(in DisclosureInput) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       DisclosureWorkflowID(in.DisclosureID),
		TaskQueue:                TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			ConvotOrgId.ValueSet(strconv.FormatUint(in.OrganizationID, 10)),
			ProcessKind.ValueSet(ProcessDisclosure),
			ProcessStatus.ValueSet(DisclosureReceived),
			DsrDeadline.ValueSet(in.DueAt),
		),
	}
}

// DisclosureRequest runs one request of the register to its end.
func DisclosureRequest(ctx workflow.Context, in DisclosureInput) (DisclosureState, error) {
	if in.DisclosureID == 0 || in.OrganizationID == 0 || in.DueAt.IsZero() {
		return DisclosureState{}, temporal.NewNonRetryableApplicationError("request, organization and deadline are required", "InvalidInput", nil)
	}
	st := DisclosureState{DisclosureID: in.DisclosureID, OrganizationID: in.OrganizationID, DueAt: in.DueAt, Status: DisclosureReceived}
	if err := workflow.SetQueryHandler(ctx, QueryDisclosureStatus, func() (DisclosureState, error) { return st, nil }); err != nil {
		return st, err
	}
	publish := func() {
		if err := workflow.UpsertTypedSearchAttributes(ctx, ConvotOrgId.ValueSet(strconv.FormatUint(st.OrganizationID, 10)),
			ProcessKind.ValueSet(ProcessDisclosure), ProcessStatus.ValueSet(st.Status), DsrDeadline.ValueSet(st.DueAt)); err != nil {
			workflow.GetLogger(ctx).Warn("upserting search attributes failed", "Error", err)
		}
	}
	step := func(name, status string, actor uint64) {
		in := DisclosureStepInput{DisclosureID: st.DisclosureID, Step: name, Status: status, ActorID: actor, At: workflow.Now(ctx)}
		if err := workflow.ExecuteActivity(shortActivity(ctx), ActivityRecordDisclosureStep, in).Get(ctx, nil); err != nil {
			workflow.GetLogger(ctx).Error("recording a disclosure step failed", "DisclosureID", st.DisclosureID, "Step", name, "Error", err)
		}
	}
	publish()
	step("recorded", DisclosureReceived, 0)

	approve := workflow.GetSignalChannel(ctx, SignalDisclosureApprove)
	refuse := workflow.GetSignalChannel(ctx, SignalDisclosureRefuse)
	decided := false
	for !decided {
		s := workflow.NewSelector(ctx)
		var cancelTimer workflow.CancelFunc
		if st.EscalatedAt.IsZero() {
			tctx, cancel := workflow.WithCancel(ctx)
			cancelTimer = cancel
			timer := workflow.NewTimerWithOptions(tctx, max(st.DueAt.Sub(workflow.Now(ctx)), 0),
				workflow.TimerOptions{Summary: "the disclosure request's response deadline"})
			s.AddFuture(timer, func(f workflow.Future) {
				if f.Get(ctx, nil) != nil {
					return
				}
				st.EscalatedAt, st.Status = workflow.Now(ctx), DisclosureOverdue
				publish()
				esc := DisclosureStepInput{DisclosureID: st.DisclosureID, Step: "overdue", Status: DisclosureOverdue, At: st.EscalatedAt}
				if err := workflow.ExecuteActivity(shortActivity(ctx), ActivityEscalateDisclosure, esc).Get(ctx, nil); err != nil {
					workflow.GetLogger(ctx).Error("escalation failed", "DisclosureID", st.DisclosureID, "Error", err)
				}
			})
		}
		onSignal(ctx, s, approve, func(sig DisclosureDecision) {
			decided = true
			st.Status, st.ApprovedBy, st.DecidedAt = DisclosureApproved, sig.ActorID, workflow.Now(ctx)
			publish()
			step("approved", DisclosureApproved, sig.ActorID)
		})
		onSignal(ctx, s, refuse, func(sig DisclosureDecision) {
			decided = true
			st.Status, st.DecidedAt = DisclosureRefused, workflow.Now(ctx)
			publish()
			step("refused", DisclosureRefused, sig.ActorID)
		})
		s.Select(ctx)
		if cancelTimer != nil {
			cancelTimer()
		}
	}
	if st.Status == DisclosureRefused {
		return st, nil
	}

	// Disclose: the activity asks the gate; what it refuses is refused.
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: 10 * time.Minute},
	})
	var out DisclosureOutcome
	req := DisclosureStepInput{DisclosureID: st.DisclosureID, Step: "disclosed", Status: DisclosureDisclosed, ActorID: st.ApprovedBy, At: workflow.Now(ctx)}
	if err := workflow.ExecuteActivity(actx, ActivityDiscloseData, req).Get(ctx, &out); err != nil {
		return st, err
	}
	if !out.Allowed {
		st.Status, st.GateReason = DisclosureRefused, out.Reason
		publish()
		return st, nil
	}
	st.Status, st.DisclosedAt, st.Fields = DisclosureDisclosed, workflow.Now(ctx), out.Fields
	publish()

	// Notice to the people concerned, unless the request forbids it.
	var notice DisclosureOutcome
	req = DisclosureStepInput{DisclosureID: st.DisclosureID, Step: "notified", Status: DisclosureClosed, At: workflow.Now(ctx)}
	if err := workflow.ExecuteActivity(actx, ActivityNotifyDisclosureSubjects, req).Get(ctx, &notice); err != nil {
		return st, err
	}
	st.Notified, st.NoticeWithheld = notice.Notified, notice.Forbidden
	st.Status = DisclosureClosed
	publish()
	return st, nil
}
