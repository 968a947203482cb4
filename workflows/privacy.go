package workflows

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/convot/convot/internal/obligations"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// The data-subject request workflow (policy §9): one per request, ID
// dsr-<id>. It waits for the requester's identity (a one-time code, or an
// operator's attestation), for the privacy officer's approval where the
// right calls for a decision, then fulfils the request through activities
// derived from the data inventory. The answer is due one month after
// receipt (DsrDeadline); the deadline may be extended once, by up to two
// months, by a signal carrying the reason, and the requester is told. The
// privacy officer is reminded seven and two days before the deadline, and
// told when it passes. Search attributes DsrType, DsrStatus, DsrDeadline
// and ConvotOrgId let the officer filter in the Temporal UI; the progress
// query returns every step.
//
// Inputs, signals and results carry identifiers, kinds, statuses, dates and
// counts only (DESIGN.md invariant 3): the activities load the request.

// PrivacyRequestWorkflowType is the registered name of PrivacyRequest.
const PrivacyRequestWorkflowType = "PrivacyRequest"

// PrivacyRequestWorkflowID is the workflow ID of a request: dsr-<id>.
func PrivacyRequestWorkflowID(requestID uint64) string {
	return "dsr-" + strconv.FormatUint(requestID, 10)
}

// Signal and query names of the request workflow.
const (
	SignalDsrVerified = "verified" // DsrVerifiedSignal: the requester entered the right code
	SignalDsrApprove  = "approve"  // DsrDecisionSignal
	SignalDsrReject   = "reject"   // DsrDecisionSignal with a reason
	SignalDsrExtend   = "extend"   // DsrExtendSignal
	SignalDsrRetry    = "retry"    // DsrDecisionSignal: run a failed step again
	QueryDsrProgress  = "progress" // returns DsrProgress
)

// Activities of the request workflow, implemented in package activities.
const (
	ActivityRecordPrivacyStatus     = "RecordPrivacyStatus"     // DsrStatusChange
	ActivityNotifyPrivacyOfficer    = "NotifyPrivacyOfficer"    // DsrNotice
	ActivityNotifyPrivacyRequester  = "NotifyPrivacyRequester"  // DsrNotice
	ActivityLocatePrivacySubject    = "LocatePrivacySubject"    // DsrRef → DsrOutcome
	ActivityExportPrivacySubject    = "ExportPrivacySubject"    // DsrRef → DsrOutcome
	ActivityErasePrivacySubject     = "ErasePrivacySubject"     // DsrRef → DsrOutcome (with ConversationIDs)
	ActivityScanPrivacyErasure      = "ScanPrivacyErasure"      // DsrRef → DsrOutcome (Clean)
	ActivityRectifyPrivacySubject   = "RectifyPrivacySubject"   // DsrRef → DsrOutcome
	ActivityRecordPrivacyPreference = "RecordPrivacyPreference" // DsrRef → DsrOutcome
	ActivityFinishPrivacyRequest    = "FinishPrivacyRequest"    // DsrRef → DsrOutcome
	ActivityExpirePrivacyExports    = "ExpirePrivacyExports"    // DsrRef → DsrOutcome (Files deleted, Rows still live)
)

// Notices: to the privacy officer, and to the requester.
const (
	NoticeAwaitingApproval = "awaiting_approval"
	NoticeReminder7Days    = "reminder_7d"
	NoticeReminder2Days    = "reminder_2d"
	NoticeOverdue          = "overdue"
	NoticeStepFailed       = "step_failed" // a step failed, or the scanner found remnants
	NoticeExtended         = "extended"
	NoticeCompleted        = "completed"
	NoticeRejected         = "rejected"
	NoticeExpired          = "expired"
)

// DsrReminders are the officer's notices before and at a deadline.
func DsrReminders(deadline time.Time) []struct {
	Kind string
	At   time.Time
} {
	return []struct {
		Kind string
		At   time.Time
	}{
		{NoticeReminder7Days, deadline.Add(-7 * 24 * time.Hour)},
		{NoticeReminder2Days, deadline.Add(-2 * 24 * time.Hour)},
		{NoticeOverdue, deadline},
	}
}

// DsrNeedsApproval says whether a request waits for the privacy officer's
// decision once verified. Restriction, consent withdrawal and an objection
// to direct marketing (an absolute right, Art. 21(3)) take effect at once;
// so does the erasure of a child's data (policy §12: promptly). Access,
// portability, erasure, rectification and objections the controller may
// weigh against compelling grounds are decided by the officer.
func DsrNeedsApproval(typ, ground string, prompt bool) bool {
	if prompt {
		return false
	}
	switch typ {
	case obligations.DsrRestriction, obligations.DsrConsentWithdrawal:
		return false
	case obligations.DsrObjection:
		return ground != "direct_marketing"
	}
	return true
}

// PrivacyRequestInput starts a request's workflow: identifiers, the type
// and dates only.
type PrivacyRequestInput struct {
	RequestID      uint64
	OrganizationID uint64
	Type           string
	Ground         string // objection ground or consent name (an enumeration)
	ReceivedAt     time.Time
	// Verified: an operator attested the requester's identity when logging
	// it, so no code is awaited.
	Verified bool
	// Prompt: a child's data (policy §12): erased at once, without waiting
	// for a decision or the month.
	Prompt bool
	// VerificationWindow overrides obligations.DsrVerificationWindow (tests).
	VerificationWindow time.Duration `json:",omitempty"`
}

// DsrVerifiedSignal tells the workflow the requester proved their identity.
type DsrVerifiedSignal struct {
	Method string // code or operator_attestation
}

// DsrDecisionSignal approves, rejects or retries; ByAccountID is the
// officer (0 when sent from the Temporal UI). Reason says why a request is
// rejected, for the requester: the officer writes no personal data in it.
type DsrDecisionSignal struct {
	ByAccountID uint64
	Reason      string `json:",omitempty"`
}

// DsrExtendSignal extends the deadline once by Months (1 or 2) for Reason,
// which the requester is told (no personal data).
type DsrExtendSignal struct {
	Months      int
	Reason      string
	ByAccountID uint64
}

// DsrStatusChange is the whole recorded state of a request, so recording it
// is idempotent.
type DsrStatusChange struct {
	RequestID       uint64
	Status          string
	Step            string
	Deadline        time.Time
	Extended        bool
	ExtensionReason string `json:",omitempty"`
	RejectionReason string `json:",omitempty"`
	DecidedByID     uint64 `json:",omitempty"`
	At              time.Time
}

// DsrNotice asks an activity to tell the officer or the requester something
// about a request.
type DsrNotice struct {
	RequestID uint64
	Kind      string
	Deadline  time.Time
	Step      string `json:",omitempty"` // the failed step, for NoticeStepFailed
}

// DsrRef names the request an activity works on.
type DsrRef struct {
	RequestID uint64
}

// DsrOutcome is what a fulfilment activity did, in counts.
type DsrOutcome struct {
	Found           bool     `json:",omitempty"` // locate: the subject was found
	Rows            int64    `json:",omitempty"` // rows exported, erased, changed
	Retained        int64    `json:",omitempty"` // rows kept by law
	Files           int      `json:",omitempty"` // files exported or blobs deleted
	Bytes           int64    `json:",omitempty"`
	Clean           bool     `json:",omitempty"` // scan: nothing left
	Findings        int      `json:",omitempty"` // scan: remnants found
	ConversationIDs []uint64 `json:",omitempty"` // erase: conversation workflows to stop
	Detail          string   `json:",omitempty"` // a summary without personal data
}

// DsrStep is one step of a request as the progress query shows it.
type DsrStep struct {
	Name   string
	Status string // running, done, failed, skipped
	At     time.Time
	Detail string `json:",omitempty"`
}

// DsrProgress answers QueryDsrProgress.
type DsrProgress struct {
	RequestID       uint64
	OrganizationID  uint64
	Type            string
	Status          string
	ReceivedAt      time.Time
	Deadline        time.Time
	Extended        bool
	ExtensionReason string   `json:",omitempty"`
	RejectionReason string   `json:",omitempty"`
	NoticesSent     []string `json:",omitempty"`
	Steps           []DsrStep
	// AwaitingRetry: a step failed (or the scanner found remnants) and the
	// workflow waits for the officer's retry signal.
	AwaitingRetry bool `json:",omitempty"`
}

// Step statuses.
const (
	StepRunning = "running"
	StepDone    = "done"
	StepFailed  = "failed"
	StepSkipped = "skipped"
)

// PrivacyRequestStartOptions start a request's workflow with its search
// attributes; a second start of the same request joins the first.
func PrivacyRequestStartOptions(in PrivacyRequestInput) client.StartWorkflowOptions {
	status := obligations.DsrReceived
	return client.StartWorkflowOptions{
		ID:                       PrivacyRequestWorkflowID(in.RequestID),
		TaskQueue:                TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			ConvotOrgId.ValueSet(strconv.FormatUint(in.OrganizationID, 10)),
			DsrType.ValueSet(in.Type),
			DsrStatus.ValueSet(status),
			DsrDeadline.ValueSet(obligations.DsrDueDate(in.ReceivedAt)),
		),
	}
}

// errDsrRejected ends a request the officer rejected while it waited.
var errDsrRejected = errors.New("rejected")

// PrivacyRequest runs one data-subject request to its end: completed,
// rejected or expired.
func PrivacyRequest(ctx workflow.Context, in PrivacyRequestInput) error {
	r := &privacyRequest{}
	if err := r.setup(ctx, in); err != nil {
		return err
	}
	return r.run(ctx)
}

type privacyRequest struct {
	in PrivacyRequestInput
	p  DsrProgress

	verified, approve, reject, extend, retry workflow.ReceiveChannel

	isVerified   bool
	approved     bool
	rejected     bool
	retryAsked   bool
	decidedBy    uint64
	noticesFired map[string]bool // kind@deadline already handled

	timer       workflow.Future
	timerAt     time.Time
	cancelTimer workflow.CancelFunc
}

func (r *privacyRequest) setup(ctx workflow.Context, in PrivacyRequestInput) error {
	if in.RequestID == 0 {
		return temporal.NewNonRetryableApplicationError("request ID is required", "InvalidInput", nil)
	}
	switch in.Type {
	case obligations.DsrAccess, obligations.DsrRectification, obligations.DsrErasure, obligations.DsrRestriction, obligations.DsrPortability, obligations.DsrObjection, obligations.DsrConsentWithdrawal:
	default:
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("unknown request type %q", in.Type), "InvalidInput", nil)
	}
	if in.ReceivedAt.IsZero() {
		in.ReceivedAt = workflow.Now(ctx)
	}
	if in.VerificationWindow <= 0 {
		in.VerificationWindow = obligations.DsrVerificationWindow
	}
	r.in = in
	r.noticesFired = map[string]bool{}
	r.p = DsrProgress{RequestID: in.RequestID, OrganizationID: in.OrganizationID, Type: in.Type,
		Status: obligations.DsrReceived, ReceivedAt: in.ReceivedAt, Deadline: obligations.DsrDueDate(in.ReceivedAt)}
	if err := workflow.SetQueryHandler(ctx, QueryDsrProgress, func() (DsrProgress, error) {
		p := r.p
		p.Steps = append([]DsrStep(nil), r.p.Steps...)
		p.NoticesSent = append([]string(nil), r.p.NoticesSent...)
		return p, nil
	}); err != nil {
		return err
	}
	r.verified = workflow.GetSignalChannel(ctx, SignalDsrVerified)
	r.approve = workflow.GetSignalChannel(ctx, SignalDsrApprove)
	r.reject = workflow.GetSignalChannel(ctx, SignalDsrReject)
	r.extend = workflow.GetSignalChannel(ctx, SignalDsrExtend)
	r.retry = workflow.GetSignalChannel(ctx, SignalDsrRetry)
	return nil
}

func (r *privacyRequest) run(ctx workflow.Context) error {
	r.stepDone(ctx, "received", "")
	r.setStatus(ctx, obligations.DsrReceived)

	// 1. Identity.
	if r.in.Verified {
		r.isVerified = true
		r.stepDone(ctx, "verify", "attested by an operator")
	} else {
		r.stepStart(ctx, "verify")
		r.setStatus(ctx, obligations.DsrAwaitingVerification)
		expires := r.in.ReceivedAt.Add(r.in.VerificationWindow)
		if !r.waitUntil(ctx, func() bool { return r.isVerified || r.rejected }, expires) {
			r.stepEnd(ctx, "verify", StepFailed, "not verified in time: the request expired")
			r.setStatus(ctx, obligations.DsrExpired)
			r.notify(ctx, ActivityNotifyPrivacyRequester, NoticeExpired, "")
			_, err := r.step(ctx, "finish", ActivityFinishPrivacyRequest, DsrRef{r.in.RequestID})
			if errors.Is(err, errDsrRejected) {
				return nil
			}
			return err
		}
		if r.rejected {
			return r.finishRejected(ctx)
		}
		r.stepEnd(ctx, "verify", StepDone, "one-time code")
	}
	r.setStatus(ctx, obligations.DsrInProgress)

	// 2. Whose data: found before the officer decides, so the decision sees
	// it (and a child's contacts are restricted at once).
	if _, err := r.step(ctx, "locate", ActivityLocatePrivacySubject, DsrRef{r.in.RequestID}); err != nil {
		return r.finishRejectedIf(ctx, err)
	}

	// 3. The officer's decision.
	if DsrNeedsApproval(r.in.Type, r.in.Ground, r.in.Prompt) {
		r.stepStart(ctx, "approve")
		r.setStatus(ctx, obligations.DsrAwaitingApproval)
		r.notify(ctx, ActivityNotifyPrivacyOfficer, NoticeAwaitingApproval, "")
		r.waitUntil(ctx, func() bool { return r.approved || r.rejected }, time.Time{})
		if r.rejected {
			return r.finishRejected(ctx)
		}
		r.stepEnd(ctx, "approve", StepDone, "approved by the privacy officer")
		r.setStatus(ctx, obligations.DsrInProgress)
	} else {
		detail := "takes effect without a decision"
		if r.in.Prompt {
			detail = "a child's data: erased promptly (policy §12)"
		}
		r.event(ctx, "approve", StepSkipped, detail)
	}

	// 4. Fulfilment.
	if err := r.fulfil(ctx); err != nil {
		if errors.Is(err, errDsrRejected) {
			return r.finishRejected(ctx)
		}
		return err
	}
	if _, err := r.step(ctx, "notify", ActivityNotifyPrivacyRequester, DsrNotice{RequestID: r.in.RequestID, Kind: NoticeCompleted, Deadline: r.p.Deadline}); err != nil {
		return r.finishRejectedIf(ctx, err)
	}
	if _, err := r.step(ctx, "finish", ActivityFinishPrivacyRequest, DsrRef{r.in.RequestID}); err != nil {
		return r.finishRejectedIf(ctx, err)
	}
	r.setStatus(ctx, obligations.DsrCompleted)
	if r.in.Type == obligations.DsrAccess || r.in.Type == obligations.DsrPortability {
		return r.expireExports(ctx)
	}
	return nil
}

// expireExports waits out the download link's lifetime, then deletes the
// file (a used one is deleted at download already). The request is
// completed meanwhile: only the link's expiry is left.
func (r *privacyRequest) expireExports(ctx workflow.Context) error {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 10 * time.Minute},
	})
	for range 5 {
		if err := workflow.NewTimerWithOptions(ctx, obligations.DsrExportLifetime+time.Hour, workflow.TimerOptions{Summary: "download link expiry"}).Get(ctx, nil); err != nil {
			return err
		}
		var out DsrOutcome
		if err := workflow.ExecuteActivity(actx, ActivityExpirePrivacyExports, DsrRef{r.in.RequestID}).Get(ctx, &out); err != nil {
			return err
		}
		r.event(ctx, "expire_export", StepDone, out.Detail)
		if out.Rows == 0 {
			return nil
		}
	}
	return nil
}

func (r *privacyRequest) finishRejectedIf(ctx workflow.Context, err error) error {
	if errors.Is(err, errDsrRejected) {
		return r.finishRejected(ctx)
	}
	return err
}

func (r *privacyRequest) fulfil(ctx workflow.Context) error {
	ref := DsrRef{r.in.RequestID}
	var err error
	switch r.in.Type {
	case obligations.DsrAccess, obligations.DsrPortability:
		_, err = r.step(ctx, "export", ActivityExportPrivacySubject, ref)
		return err
	case obligations.DsrRectification:
		_, err = r.step(ctx, "rectify", ActivityRectifyPrivacySubject, ref)
		return err
	case obligations.DsrRestriction, obligations.DsrObjection, obligations.DsrConsentWithdrawal:
		_, err = r.step(ctx, "record_preference", ActivityRecordPrivacyPreference, ref)
		return err
	case obligations.DsrErasure:
		return r.erase(ctx)
	}
	return nil
}

// erase erases, stops the subject's conversation workflows, and scans; a
// scan that finds anything fails the step, alerts the officer and waits
// for a retry.
func (r *privacyRequest) erase(ctx workflow.Context) error {
	ref := DsrRef{r.in.RequestID}
	for {
		out, err := r.step(ctx, "erase", ActivityErasePrivacySubject, ref)
		if err != nil {
			return err
		}
		if len(out.ConversationIDs) > 0 {
			r.stepStart(ctx, "stop_conversations")
			stopped := 0
			for _, id := range out.ConversationIDs {
				// A conversation whose workflow ended already is fine.
				if err := workflow.RequestCancelExternalWorkflow(ctx, ConversationWorkflowID(id), "").Get(ctx, nil); err == nil {
					stopped++
				}
			}
			r.stepEnd(ctx, "stop_conversations", StepDone, fmt.Sprintf("%d conversation workflows cancelled of %d", stopped, len(out.ConversationIDs)))
		}
		scan, err := r.step(ctx, "scan", ActivityScanPrivacyErasure, ref)
		if err != nil {
			return err
		}
		if scan.Clean {
			r.shredBackupKeys(ctx)
			return nil
		}
		r.stepEnd(ctx, "scan", StepFailed, fmt.Sprintf("%d remnants found: the officer is alerted; signal retry once resolved", scan.Findings))
		r.notifyStep(ctx, "scan")
		if err := r.waitRetry(ctx); err != nil {
			return err
		}
	}
}

// shredBackupKeys removes the subject's destroyed keys from every kept
// backup now, so the erased data is unreadable in backups at once rather
// than at the next hourly shred. If it cannot run now, the hourly schedule
// does it; the erasure itself is complete either way.
func (r *privacyRequest) shredBackupKeys(ctx workflow.Context) {
	if workflow.GetVersion(ctx, "shred-backup-keys-after-erasure", workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return // a request erased before this step existed
	}
	r.stepStart(ctx, "shred_backup_keys")
	var n int
	err := workflow.ExecuteActivity(r.activityCtx(ctx, 30*time.Minute, 3), ActivityShredBackupKeys).Get(ctx, &n)
	if err != nil {
		r.stepEnd(ctx, "shred_backup_keys", StepSkipped, "not possible now: the hourly shred (convot-backup-key-shred) removes the keys from the kept backups")
		return
	}
	r.stepEnd(ctx, "shred_backup_keys", StepDone, fmt.Sprintf("%d destroyed keys removed from the kept backups", n))
}

// step runs one fulfilment activity, recording its progress. A failure
// (after the activity's own retries) alerts the officer and waits for a
// retry signal; a rejection while waiting ends the request.
func (r *privacyRequest) step(ctx workflow.Context, name, activityName string, arg any) (DsrOutcome, error) {
	for {
		r.stepStart(ctx, name)
		var out DsrOutcome
		err := workflow.ExecuteActivity(r.activityCtx(ctx, 10*time.Minute, 8), activityName, arg).Get(ctx, &out)
		if err == nil {
			r.stepEnd(ctx, name, StepDone, out.Detail)
			return out, nil
		}
		var app *temporal.ApplicationError
		detail := "failed"
		if errors.As(err, &app) && app.Type() != "" {
			detail = "failed: " + app.Type()
		}
		r.stepEnd(ctx, name, StepFailed, detail+"; the officer is alerted; signal retry to run it again")
		r.notifyStep(ctx, name)
		if err := r.waitRetry(ctx); err != nil {
			return DsrOutcome{}, err
		}
	}
}

func (r *privacyRequest) waitRetry(ctx workflow.Context) error {
	r.retryAsked = false
	r.p.AwaitingRetry = true
	r.waitUntil(ctx, func() bool { return r.retryAsked || r.rejected }, time.Time{})
	r.p.AwaitingRetry = false
	if r.rejected {
		return errDsrRejected
	}
	return nil
}

func (r *privacyRequest) finishRejected(ctx workflow.Context) error {
	r.stepDone(ctx, "reject", "rejected by the privacy officer")
	r.setStatus(ctx, obligations.DsrRejected)
	r.notify(ctx, ActivityNotifyPrivacyRequester, NoticeRejected, "")
	if _, err := r.step(ctx, "finish", ActivityFinishPrivacyRequest, DsrRef{r.in.RequestID}); err != nil && !errors.Is(err, errDsrRejected) {
		return err
	}
	return nil
}

// waitUntil handles signals and the deadline's notices until done()
// holds, or until `until` (when set) passes; it reports whether done()
// held.
func (r *privacyRequest) waitUntil(ctx workflow.Context, done func() bool, until time.Time) bool {
	for {
		if done() {
			r.stopTimer()
			return true
		}
		now := workflow.Now(ctx)
		if !until.IsZero() && !now.Before(until) {
			r.stopTimer()
			return false
		}
		r.fireDueNotices(ctx)
		next := r.nextNotice()
		if !until.IsZero() && (next.IsZero() || until.Before(next)) {
			next = until
		}
		r.armTimer(ctx, next)
		s := workflow.NewSelector(ctx)
		r.addSignals(ctx, s)
		if r.timer != nil {
			s.AddFuture(r.timer, func(f workflow.Future) {
				r.timer, r.cancelTimer, r.timerAt = nil, nil, time.Time{}
				_ = f.Get(ctx, nil)
			})
		}
		s.Select(ctx)
	}
}

func (r *privacyRequest) addSignals(ctx workflow.Context, s workflow.Selector) {
	onSignal(ctx, s, r.verified, func(DsrVerifiedSignal) {
		if r.p.Status == obligations.DsrAwaitingVerification {
			r.isVerified = true
		}
	})
	onSignal(ctx, s, r.approve, func(d DsrDecisionSignal) {
		if r.p.Status == obligations.DsrAwaitingApproval {
			r.approved, r.decidedBy = true, d.ByAccountID
		} else {
			r.event(ctx, "approve", StepSkipped, "an approval arrived while the request was "+r.p.Status+": ignored")
		}
	})
	onSignal(ctx, s, r.reject, func(d DsrDecisionSignal) {
		r.rejected, r.decidedBy = true, d.ByAccountID
		r.p.RejectionReason = truncateReason(d.Reason)
	})
	onSignal(ctx, s, r.extend, func(e DsrExtendSignal) {
		r.onExtend(ctx, e)
	})
	onBareSignal(ctx, s, r.retry, func() {
		r.retryAsked = true
	})
}

// onExtend moves the deadline once, by one or two months, and tells the
// requester; anything else is refused and noted in the progress.
func (r *privacyRequest) onExtend(ctx workflow.Context, e DsrExtendSignal) {
	switch {
	case r.p.Extended:
		r.event(ctx, "extend", StepSkipped, "refused: the deadline was extended already")
		return
	case e.Months < 1 || e.Months > obligations.MaxDsrExtensionMonths:
		r.event(ctx, "extend", StepSkipped, fmt.Sprintf("refused: an extension is 1 or %d months, not %d", obligations.MaxDsrExtensionMonths, e.Months))
		return
	case e.Reason == "":
		r.event(ctx, "extend", StepSkipped, "refused: an extension needs a reason")
		return
	}
	r.p.Deadline = r.p.Deadline.AddDate(0, e.Months, 0)
	r.p.Extended = true
	r.p.ExtensionReason = truncateReason(e.Reason)
	r.event(ctx, "extend", StepDone, fmt.Sprintf("deadline extended by %d months to %s", e.Months, r.p.Deadline.UTC().Format(time.RFC3339)))
	r.setStatus(ctx, r.p.Status)
	r.notify(ctx, ActivityNotifyPrivacyRequester, NoticeExtended, "")
}

func truncateReason(s string) string {
	if r := []rune(s); len(r) > 500 {
		return string(r[:500])
	}
	return s
}

// nextNotice is when the next officer notice of the current deadline is
// due, or zero when none is left.
func (r *privacyRequest) nextNotice() time.Time {
	for _, n := range DsrReminders(r.p.Deadline) {
		if !r.noticesFired[noticeKey(n.Kind, r.p.Deadline)] {
			return n.At
		}
	}
	return time.Time{}
}

func noticeKey(kind string, deadline time.Time) string {
	return kind + "@" + deadline.UTC().Format(time.RFC3339)
}

// fireDueNotices sends the officer's notices that are due. They go while
// the request waits on the officer (in progress, awaiting approval); a
// request still awaiting its requester's verification does not bother the
// officer.
func (r *privacyRequest) fireDueNotices(ctx workflow.Context) {
	now := workflow.Now(ctx)
	for _, n := range DsrReminders(r.p.Deadline) {
		key := noticeKey(n.Kind, r.p.Deadline)
		if r.noticesFired[key] || now.Before(n.At) {
			continue
		}
		r.noticesFired[key] = true
		if r.p.Status == obligations.DsrAwaitingVerification {
			continue
		}
		r.p.NoticesSent = append(r.p.NoticesSent, key)
		r.notify(ctx, ActivityNotifyPrivacyOfficer, n.Kind, "")
	}
}

func (r *privacyRequest) armTimer(ctx workflow.Context, at time.Time) {
	if r.timer != nil && at.Equal(r.timerAt) {
		return
	}
	r.stopTimer()
	if at.IsZero() {
		return
	}
	d := at.Sub(workflow.Now(ctx))
	if d < time.Millisecond {
		d = time.Millisecond
	}
	tctx, cancel := workflow.WithCancel(ctx)
	r.timer = workflow.NewTimerWithOptions(tctx, d, workflow.TimerOptions{Summary: "data-subject request deadline notice"})
	r.timerAt, r.cancelTimer = at, cancel
}

func (r *privacyRequest) stopTimer() {
	if r.cancelTimer != nil {
		r.cancelTimer()
	}
	r.timer, r.cancelTimer, r.timerAt = nil, nil, time.Time{}
}

// --- recording ---------------------------------------------------------------

func (r *privacyRequest) activityCtx(ctx workflow.Context, timeout time.Duration, attempts int32) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: timeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
			MaximumAttempts:    attempts,
		},
	})
}

// setStatus records the status (and the deadline) in the search attributes
// and, through the activity, on the request's row.
func (r *privacyRequest) setStatus(ctx workflow.Context, status string) {
	r.p.Status = status
	if err := workflow.UpsertTypedSearchAttributes(ctx,
		ConvotOrgId.ValueSet(strconv.FormatUint(r.in.OrganizationID, 10)),
		DsrType.ValueSet(r.in.Type),
		DsrStatus.ValueSet(status),
		DsrDeadline.ValueSet(r.p.Deadline),
	); err != nil {
		workflow.GetLogger(ctx).Warn("upserting search attributes failed", "Error", err)
	}
	change := DsrStatusChange{RequestID: r.in.RequestID, Status: status, Step: r.currentStep(), Deadline: r.p.Deadline,
		Extended: r.p.Extended, ExtensionReason: r.p.ExtensionReason, RejectionReason: r.p.RejectionReason,
		DecidedByID: r.decidedBy, At: workflow.Now(ctx)}
	// Retried until the database is back; state is whole, so order is all.
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
	})
	if err := workflow.ExecuteActivity(actx, ActivityRecordPrivacyStatus, change).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Error("recording request status failed", "RequestID", r.in.RequestID, "Status", status, "Error", err)
	}
}

func (r *privacyRequest) notify(ctx workflow.Context, activityName, kind, step string) {
	n := DsrNotice{RequestID: r.in.RequestID, Kind: kind, Deadline: r.p.Deadline, Step: step}
	if err := workflow.ExecuteActivity(r.activityCtx(ctx, time.Minute, 20), activityName, n).Get(ctx, nil); err != nil {
		// A notice that cannot be sent is noted; the request goes on.
		r.event(ctx, "notice_"+kind, StepFailed, "could not be sent")
		return
	}
	if activityName == ActivityNotifyPrivacyRequester || kind == NoticeAwaitingApproval || kind == NoticeStepFailed {
		r.p.NoticesSent = append(r.p.NoticesSent, kind)
	}
}

func (r *privacyRequest) notifyStep(ctx workflow.Context, step string) {
	r.notify(ctx, ActivityNotifyPrivacyOfficer, NoticeStepFailed, step)
}

func (r *privacyRequest) currentStep() string {
	for i := len(r.p.Steps) - 1; i >= 0; i-- {
		if r.p.Steps[i].Status == StepRunning || r.p.Steps[i].Status == StepFailed {
			return r.p.Steps[i].Name
		}
	}
	if n := len(r.p.Steps); n > 0 {
		return r.p.Steps[n-1].Name
	}
	return ""
}

func (r *privacyRequest) stepStart(ctx workflow.Context, name string) {
	r.p.Steps = append(r.p.Steps, DsrStep{Name: name, Status: StepRunning, At: workflow.Now(ctx)})
}

func (r *privacyRequest) stepEnd(ctx workflow.Context, name, status, detail string) {
	for i := len(r.p.Steps) - 1; i >= 0; i-- {
		if r.p.Steps[i].Name == name && r.p.Steps[i].Status == StepRunning {
			r.p.Steps[i].Status, r.p.Steps[i].Detail, r.p.Steps[i].At = status, detail, workflow.Now(ctx)
			return
		}
	}
	r.event(ctx, name, status, detail)
}

func (r *privacyRequest) stepDone(ctx workflow.Context, name, detail string) {
	r.event(ctx, name, StepDone, detail)
}

// event appends a finished step (or a note, such as a refused extension).
func (r *privacyRequest) event(ctx workflow.Context, name, status, detail string) {
	const maxSteps = 200
	if len(r.p.Steps) >= maxSteps {
		r.p.Steps = append(r.p.Steps[:0:0], r.p.Steps[len(r.p.Steps)-maxSteps+1:]...)
	}
	r.p.Steps = append(r.p.Steps, DsrStep{Name: name, Status: status, At: workflow.Now(ctx), Detail: detail})
}
