package workflows

import (
	"fmt"
	"strconv"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// The account cancellation of policy §8: "Customer data and associated End
// User data are retained for thirty (30) days after cancellation in case of
// accidental closure, and then permanently deleted". One workflow per
// organization keeps the organization read-only for the grace period, tells
// its owners at cancellation and three days before deletion, and then
// deletes its data (billing records excepted, §8: seven years), unless an
// owner reactivates the account first (signal reactivate).

// CancellationWorkflowType is the registered name of AccountCancellation.
const CancellationWorkflowType = "AccountCancellation"

// CancellationWorkflowID is the ID of an organization's cancellation
// workflow: at most one runs per organization.
func CancellationWorkflowID(organizationID uint64) string {
	return "cancellation-" + strconv.FormatUint(organizationID, 10)
}

const (
	// CancellationGracePeriod is how long a cancelled account's data is
	// kept before it is deleted (§8).
	CancellationGracePeriod = 30 * 24 * time.Hour
	// CancellationReminderLead is how long before deletion the owners are
	// reminded.
	CancellationReminderLead = 3 * 24 * time.Hour
)

// SignalReactivate reactivates the account during the grace period
// (payload ReactivateSignal); QueryStatus returns CancellationState.
const SignalReactivate = "reactivate"

// Why an account was cancelled.
const (
	CancellationClosedByOwner     = "closed_by_owner"     // an owner closed the account
	CancellationSubscriptionEnded = "subscription_ended"  // the Stripe subscription was canceled
	CancellationUnpaid            = "subscription_unpaid" // Stripe gave up collecting payment
)

// Statuses of a cancellation.
const (
	CancellationGrace       = "grace"       // read-only, waiting for the deletion date
	CancellationDeleting    = "deleting"    // the grace period is over; deleting
	CancellationDeleted     = "deleted"     // the data is gone
	CancellationReactivated = "reactivated" // an owner reactivated the account in time
)

// Kinds of notice sent to the owners.
const (
	NoticeCancelled   = "cancelled"   // at cancellation: what happens, the deletion date, how to reactivate
	NoticeReminder    = "reminder"    // three days before deletion
	NoticeReactivated = "reactivated" // the deletion is off
)

// Activities of the cancellation, implemented in package activities.
const (
	ActivityMarkOrganizationCancelled = "MarkOrganizationCancelled"
	ActivitySendCancellationNotice    = "SendCancellationNotice"
	ActivityReactivateOrganization    = "ReactivateOrganization"
	ActivityDeleteOrganizationData    = "DeleteOrganizationData"
)

// CancellationInput starts the cancellation of one organization: IDs and a
// reason keyword only.
type CancellationInput struct {
	OrganizationID uint64
	Reason         string // CancellationClosedByOwner, CancellationSubscriptionEnded or CancellationUnpaid
	ActorID        uint64 // the owner who closed the account; 0 when Stripe ended it
}

// ReactivateSignal is the payload of SignalReactivate.
type ReactivateSignal struct {
	ActorID uint64 // the owner who reactivated
}

// CancellationChange is the argument of ActivityMarkOrganizationCancelled
// and ActivityReactivateOrganization.
type CancellationChange struct {
	OrganizationID uint64
	Reason         string
	ActorID        uint64
	DeleteAt       time.Time `json:",omitzero"`
	At             time.Time
}

// CancellationNotice is the argument of ActivitySendCancellationNotice.
type CancellationNotice struct {
	OrganizationID uint64
	Kind           string // NoticeCancelled, NoticeReminder or NoticeReactivated
	DeleteAt       time.Time
}

// DeletionRequest is the argument of ActivityDeleteOrganizationData.
type DeletionRequest struct {
	OrganizationID uint64
	CancelledAt    time.Time
}

// DeletionReport is what the deletion did, in counts: rows deleted per
// table, billing rows kept per table, data keys destroyed, blobs deleted.
type DeletionReport struct {
	Deleted       map[string]int64
	Kept          map[string]int64
	KeysDestroyed int64
	BlobsDeleted  int64
}

// CancellationState answers QueryStatus and is the workflow's result.
type CancellationState struct {
	OrganizationID uint64
	Reason         string
	Status         string
	CancelledAt    time.Time
	ReminderAt     time.Time
	DeleteAt       time.Time
	NoticeSent     bool
	ReminderSent   bool
	ReactivatedAt  time.Time       `json:",omitzero"`
	ReactivatedBy  uint64          `json:",omitempty"`
	DeletedAt      time.Time       `json:",omitzero"`
	Report         *DeletionReport `json:",omitempty"`
}

// CancellationStartOptions are the options to start an organization's
// cancellation: its workflow ID, task queue and search attributes. Starting
// it again while it runs joins the running one; after it ended (the account
// was reactivated) a new cancellation may start.
func CancellationStartOptions(in CancellationInput, now time.Time) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       CancellationWorkflowID(in.OrganizationID),
		TaskQueue:                TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			ConvotOrgId.ValueSet(strconv.FormatUint(in.OrganizationID, 10)),
			CancellationDeleteAt.ValueSet(now.Add(CancellationGracePeriod).UTC()),
		),
		StaticSummary: "Account cancellation: 30-day grace, then permanent deletion",
	}
}

// AccountCancellation runs one organization's cancellation.
func AccountCancellation(ctx workflow.Context, in CancellationInput) (CancellationState, error) {
	c := &cancellation{}
	if err := c.setup(ctx, in); err != nil {
		return CancellationState{}, err
	}
	return c.run(ctx)
}

type cancellation struct {
	state      CancellationState
	reactivate workflow.ReceiveChannel
}

func (c *cancellation) setup(ctx workflow.Context, in CancellationInput) error {
	if in.OrganizationID == 0 {
		return temporal.NewNonRetryableApplicationError("an organization ID is required", "InvalidInput", nil)
	}
	switch in.Reason {
	case CancellationClosedByOwner, CancellationSubscriptionEnded, CancellationUnpaid:
	default:
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("unknown cancellation reason %q", in.Reason), "InvalidInput", nil)
	}
	now := workflow.Now(ctx).UTC()
	deleteAt := now.Add(CancellationGracePeriod)
	c.state = CancellationState{
		OrganizationID: in.OrganizationID,
		Reason:         in.Reason,
		Status:         CancellationGrace,
		CancelledAt:    now,
		ReminderAt:     deleteAt.Add(-CancellationReminderLead),
		DeleteAt:       deleteAt,
	}
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (CancellationState, error) {
		return c.snapshot(), nil
	}); err != nil {
		return err
	}
	c.reactivate = workflow.GetSignalChannel(ctx, SignalReactivate)
	err := workflow.UpsertTypedSearchAttributes(ctx,
		ConvotOrgId.ValueSet(strconv.FormatUint(in.OrganizationID, 10)),
		CancellationDeleteAt.ValueSet(deleteAt),
	)
	if err != nil {
		workflow.GetLogger(ctx).Warn("upserting search attributes failed", "Error", err)
	}
	c.details(ctx)
	return nil
}

func (c *cancellation) run(ctx workflow.Context) (CancellationState, error) {
	// Marking the organization read-only must happen: retried until the
	// database is back.
	must := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 10 * time.Minute},
	})
	change := CancellationChange{OrganizationID: c.state.OrganizationID, Reason: c.state.Reason, DeleteAt: c.state.DeleteAt, At: c.state.CancelledAt}
	if err := workflow.ExecuteActivity(must, ActivityMarkOrganizationCancelled, change).Get(ctx, nil); err != nil {
		return c.snapshot(), err
	}
	c.state.NoticeSent = c.notify(ctx, NoticeCancelled)
	c.details(ctx)

	if r, ok := c.waitUntil(ctx, c.state.ReminderAt, "reminder three days before deletion"); ok {
		return c.reactivated(ctx, r)
	}
	c.state.ReminderSent = c.notify(ctx, NoticeReminder)
	c.details(ctx)

	if r, ok := c.waitUntil(ctx, c.state.DeleteAt, "permanent deletion"); ok {
		return c.reactivated(ctx, r)
	}
	// A reactivation that arrived with the deadline still wins.
	var r ReactivateSignal
	if c.reactivate.ReceiveAsync(&r) {
		return c.reactivated(ctx, r)
	}

	c.state.Status = CancellationDeleting
	c.details(ctx)
	deleting := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Hour,
		HeartbeatTimeout:    2 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 10 * time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Minute},
	})
	var report DeletionReport
	req := DeletionRequest{OrganizationID: c.state.OrganizationID, CancelledAt: c.state.CancelledAt}
	if err := workflow.ExecuteActivity(deleting, ActivityDeleteOrganizationData, req).Get(ctx, &report); err != nil {
		return c.snapshot(), err
	}
	c.state.Status = CancellationDeleted
	c.state.DeletedAt = workflow.Now(ctx).UTC()
	c.state.Report = &report
	c.details(ctx)
	return c.snapshot(), nil
}

// waitUntil sleeps until at, or until an owner reactivates (ok true).
func (c *cancellation) waitUntil(ctx workflow.Context, at time.Time, summary string) (ReactivateSignal, bool) {
	var r ReactivateSignal
	d := at.Sub(workflow.Now(ctx))
	if d <= 0 {
		return r, c.reactivate.ReceiveAsync(&r)
	}
	tctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	timer := workflow.NewTimerWithOptions(tctx, d, workflow.TimerOptions{Summary: summary})
	reactivated := false
	s := workflow.NewSelector(ctx)
	s.AddFuture(timer, func(workflow.Future) {})
	s.AddReceive(c.reactivate, func(ch workflow.ReceiveChannel, _ bool) {
		ch.Receive(ctx, &r)
		reactivated = true
	})
	s.Select(ctx)
	return r, reactivated
}

func (c *cancellation) reactivated(ctx workflow.Context, r ReactivateSignal) (CancellationState, error) {
	must := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 10 * time.Minute},
	})
	now := workflow.Now(ctx).UTC()
	change := CancellationChange{OrganizationID: c.state.OrganizationID, Reason: c.state.Reason, ActorID: r.ActorID, At: now}
	if err := workflow.ExecuteActivity(must, ActivityReactivateOrganization, change).Get(ctx, nil); err != nil {
		return c.snapshot(), err
	}
	c.state.Status = CancellationReactivated
	c.state.ReactivatedAt = now
	c.state.ReactivatedBy = r.ActorID
	c.details(ctx)
	c.notify(ctx, NoticeReactivated)
	return c.snapshot(), nil
}

// notify mails the owners; a notice that cannot be sent after its retries
// is logged, and the cancellation goes on (the dashboard shows the date).
func (c *cancellation) notify(ctx workflow.Context, kind string) bool {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Minute, MaximumAttempts: 20},
	})
	n := CancellationNotice{OrganizationID: c.state.OrganizationID, Kind: kind, DeleteAt: c.state.DeleteAt}
	if err := workflow.ExecuteActivity(actx, ActivitySendCancellationNotice, n).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Error("cancellation notice not sent", "Kind", kind, "Error", err)
		return false
	}
	return true
}

// details is what the Temporal UI shows beside the workflow: status and
// dates, never anything about a person.
func (c *cancellation) details(ctx workflow.Context) {
	s := c.state
	text := fmt.Sprintf("Organization %d: %s (%s). Cancelled %s; deletion %s.", s.OrganizationID, s.Status, s.Reason,
		s.CancelledAt.Format(time.RFC3339), s.DeleteAt.Format(time.RFC3339))
	if s.Report != nil {
		text += fmt.Sprintf(" Deleted %d tables' rows, destroyed %d keys.", len(s.Report.Deleted), s.Report.KeysDestroyed)
	}
	workflow.SetCurrentDetails(ctx, text)
}

func (c *cancellation) snapshot() CancellationState {
	s := c.state
	if s.Report != nil {
		r := *s.Report
		s.Report = &r
	}
	return s
}
