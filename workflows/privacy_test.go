package workflows

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/convot/convot/internal/obligations"
	"github.com/convot/convot/internal/testenv"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
)

const testRequest = 12

// dsrCall is one activity call, at workflow time.
type dsrCall struct {
	Activity string
	Kind     string // notices: the notice kind; statuses: the status
	At       time.Time
	Deadline time.Time
}

// dsrFakes stand in for the request's activities.
type dsrFakes struct {
	env *testsuite.TestWorkflowEnvironment
	log callLog[dsrCall]

	mu sync.Mutex
	// scans are the scan results in order (true: clean); clean once used up.
	scans []bool
	// failErase fails the erase activity this many times, non-retryably.
	failErase int
	// shredFails makes the backup key shred fail (the hourly schedule then
	// does it).
	shredFails bool
}

func (f *dsrFakes) record(c dsrCall) {
	c.At = f.env.Now().UTC()
	f.log.add(c)
}

func (f *dsrFakes) of(activityName string) []dsrCall {
	return f.log.where(func(c dsrCall) bool { return c.Activity == activityName })
}

func kinds(calls []dsrCall) []string {
	var out []string
	for _, c := range calls {
		out = append(out, c.Kind)
	}
	return out
}

func newDsrEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *dsrFakes) {
	t.Helper()
	env := testenv.WorkflowEnv(t0)
	Register(env)
	f := &dsrFakes{env: env}
	reg := func(name string, fn any) {
		env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
	reg(ActivityRecordPrivacyStatus, func(_ context.Context, ch DsrStatusChange) error {
		f.record(dsrCall{Activity: ActivityRecordPrivacyStatus, Kind: ch.Status, Deadline: ch.Deadline})
		return nil
	})
	reg(ActivityNotifyPrivacyOfficer, func(_ context.Context, n DsrNotice) error {
		f.record(dsrCall{Activity: ActivityNotifyPrivacyOfficer, Kind: n.Kind, Deadline: n.Deadline})
		return nil
	})
	reg(ActivityNotifyPrivacyRequester, func(_ context.Context, n DsrNotice) (DsrOutcome, error) {
		f.record(dsrCall{Activity: ActivityNotifyPrivacyRequester, Kind: n.Kind, Deadline: n.Deadline})
		return DsrOutcome{Detail: "the requester was mailed (" + n.Kind + ")"}, nil
	})
	for _, name := range []string{ActivityLocatePrivacySubject, ActivityExportPrivacySubject, ActivityRectifyPrivacySubject,
		ActivityRecordPrivacyPreference, ActivityFinishPrivacyRequest, ActivityExpirePrivacyExports} {
		reg(name, func(_ context.Context, r DsrRef) (DsrOutcome, error) {
			f.record(dsrCall{Activity: name})
			return DsrOutcome{Found: true, Detail: "done"}, nil
		})
	}
	reg(ActivityErasePrivacySubject, func(_ context.Context, r DsrRef) (DsrOutcome, error) {
		f.record(dsrCall{Activity: ActivityErasePrivacySubject})
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.failErase > 0 {
			f.failErase--
			return DsrOutcome{}, temporal.NewNonRetryableApplicationError("blob store unreachable", "BlobStore", nil)
		}
		return DsrOutcome{Rows: 10, ConversationIDs: []uint64{5, 6}}, nil
	})
	reg(ActivityShredBackupKeys, func(_ context.Context) (int, error) {
		f.record(dsrCall{Activity: ActivityShredBackupKeys})
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.shredFails {
			return 0, temporal.NewNonRetryableApplicationError("backup store unreachable", "BlobStore", nil)
		}
		return 4, nil
	})
	reg(ActivityScanPrivacyErasure, func(_ context.Context, r DsrRef) (DsrOutcome, error) {
		f.record(dsrCall{Activity: ActivityScanPrivacyErasure})
		f.mu.Lock()
		defer f.mu.Unlock()
		clean := true
		if len(f.scans) > 0 {
			clean, f.scans = f.scans[0], f.scans[1:]
		}
		if clean {
			return DsrOutcome{Clean: true}, nil
		}
		return DsrOutcome{Findings: 1}, nil
	})
	return env, f
}

// stopsConversations answers the erasure's cancellations of conversation
// workflows and records them.
func stopsConversations(env *testsuite.TestWorkflowEnvironment) *[]string {
	var mu sync.Mutex
	var cancelled []string
	env.OnRequestCancelExternalWorkflow(mock.Anything, mock.Anything, mock.Anything).Return(nil).Run(func(args mock.Arguments) {
		mu.Lock()
		defer mu.Unlock()
		cancelled = append(cancelled, args.String(1))
	})
	return &cancelled
}

func dsrInput(typ string, verified bool) PrivacyRequestInput {
	return PrivacyRequestInput{RequestID: testRequest, OrganizationID: testOrganization, Type: typ, ReceivedAt: t0, Verified: verified}
}

func queryProgress(t *testing.T, env *testsuite.TestWorkflowEnvironment) DsrProgress {
	t.Helper()
	return query[DsrProgress](t, env, QueryDsrProgress)
}

func runDsr(t *testing.T, env *testsuite.TestWorkflowEnvironment, in PrivacyRequestInput) {
	t.Helper()
	env.ExecuteWorkflow(PrivacyRequestWorkflowType, in)
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
}

func lastStatus(f *dsrFakes) string {
	s := f.of(ActivityRecordPrivacyStatus)
	if len(s) == 0 {
		return ""
	}
	return s[len(s)-1].Kind
}

func TestDsrDueDateIsOneMonthAndAtMostThirtyDays(t *testing.T) {
	for _, tc := range []struct{ received, want string }{
		{"2026-01-10T09:00:00Z", "2026-02-09T09:00:00Z"}, // 31-day month: the thirty days come first
		{"2026-02-10T09:00:00Z", "2026-03-10T09:00:00Z"}, // February: one month (28 days)
		{"2026-04-10T09:00:00Z", "2026-05-10T09:00:00Z"}, // 30-day month: both agree
	} {
		r, _ := time.Parse(time.RFC3339, tc.received)
		want, _ := time.Parse(time.RFC3339, tc.want)
		require.Equal(t, want, obligations.DsrDueDate(r), tc.received)
	}
	require.Equal(t, "dsr-12", PrivacyRequestWorkflowID(12))
	opts := PrivacyRequestStartOptions(dsrInput(obligations.DsrErasure, false))
	require.Equal(t, "dsr-12", opts.ID)
	typ, _ := opts.TypedSearchAttributes.GetKeyword(DsrType)
	status, _ := opts.TypedSearchAttributes.GetKeyword(DsrStatus)
	deadline, _ := opts.TypedSearchAttributes.GetTime(DsrDeadline)
	org, _ := opts.TypedSearchAttributes.GetKeyword(ConvotOrgId)
	require.Equal(t, []string{obligations.DsrErasure, obligations.DsrReceived, "7"}, []string{typ, status, org})
	require.Equal(t, obligations.DsrDueDate(t0), deadline)
}

// An unverified request expires after the verification window, and the
// requester is told; the officer is never bothered.
func TestDsrUnverifiedRequestExpires(t *testing.T) {
	env, f := newDsrEnv(t)
	at(env, obligations.DsrVerificationWindow-time.Minute, func() {
		p := queryProgress(t, env)
		require.Equal(t, obligations.DsrAwaitingVerification, p.Status)
	})
	runDsr(t, env, dsrInput(obligations.DsrAccess, false))
	require.Equal(t, []string{obligations.DsrReceived, obligations.DsrAwaitingVerification, obligations.DsrExpired}, kinds(f.of(ActivityRecordPrivacyStatus)))
	expired := f.of(ActivityRecordPrivacyStatus)[2]
	require.Equal(t, t0.Add(obligations.DsrVerificationWindow), expired.At)
	require.Equal(t, []string{NoticeExpired}, kinds(f.of(ActivityNotifyPrivacyRequester)))
	require.Empty(t, f.of(ActivityNotifyPrivacyOfficer))
	require.Empty(t, f.of(ActivityExportPrivacySubject))
}

// A code entered in time verifies the request; the officer approves; the
// export is made and the requester told; the request completes.
func TestDsrVerifiedAndApprovedAccessCompletes(t *testing.T) {
	env, f := newDsrEnv(t)
	at(env, time.Hour, func() { env.SignalWorkflow(SignalDsrVerified, DsrVerifiedSignal{Method: "code"}) })
	at(env, 2*time.Hour, func() { require.Equal(t, obligations.DsrAwaitingApproval, queryProgress(t, env).Status) })
	at(env, 3*24*time.Hour, func() { env.SignalWorkflow(SignalDsrApprove, DsrDecisionSignal{ByAccountID: 3}) })
	runDsr(t, env, dsrInput(obligations.DsrAccess, false))
	require.Equal(t, []string{obligations.DsrReceived, obligations.DsrAwaitingVerification, obligations.DsrInProgress, obligations.DsrAwaitingApproval, obligations.DsrInProgress, obligations.DsrCompleted},
		kinds(f.of(ActivityRecordPrivacyStatus)))
	require.Len(t, f.of(ActivityExportPrivacySubject), 1)
	require.Equal(t, t0.Add(3*24*time.Hour), f.of(ActivityExportPrivacySubject)[0].At)
	require.Equal(t, []string{NoticeAwaitingApproval}, kinds(f.of(ActivityNotifyPrivacyOfficer)))
	require.Equal(t, []string{NoticeCompleted}, kinds(f.of(ActivityNotifyPrivacyRequester)))
	require.Len(t, f.of(ActivityFinishPrivacyRequest), 1)
	// The download link's file is deleted once the link has expired.
	expire := f.of(ActivityExpirePrivacyExports)
	require.Len(t, expire, 1)
	require.Equal(t, f.of(ActivityRecordPrivacyStatus)[5].At.Add(obligations.DsrExportLifetime+time.Hour), expire[0].At)
}

// While a request waits on the officer, reminders go seven and two days
// before the deadline, and a notice when it passes.
func TestDsrRemindersSevenAndTwoDaysBeforeDeadline(t *testing.T) {
	env, f := newDsrEnv(t)
	due := obligations.DsrDueDate(t0)
	at(env, due.Sub(t0)+24*time.Hour, func() {
		p := queryProgress(t, env)
		require.Equal(t, obligations.DsrAwaitingApproval, p.Status)
		require.Equal(t, due, p.Deadline)
		env.SignalWorkflow(SignalDsrReject, DsrDecisionSignal{ByAccountID: 3, Reason: "manifestly unfounded"})
	})
	runDsr(t, env, dsrInput(obligations.DsrErasure, true))
	officer := f.of(ActivityNotifyPrivacyOfficer)
	require.Equal(t, []string{NoticeAwaitingApproval, NoticeReminder7Days, NoticeReminder2Days, NoticeOverdue}, kinds(officer))
	require.Equal(t, t0, officer[0].At)
	require.Equal(t, due.Add(-7*24*time.Hour), officer[1].At)
	require.Equal(t, due.Add(-2*24*time.Hour), officer[2].At)
	require.Equal(t, due, officer[3].At)
	require.Equal(t, obligations.DsrRejected, lastStatus(f))
	require.Equal(t, []string{NoticeRejected}, kinds(f.of(ActivityNotifyPrivacyRequester)))
	require.Empty(t, f.of(ActivityErasePrivacySubject))
}

// The deadline is extended once, by at most two months, with a reason: the
// requester is told, the search attribute and the reminders move; a
// second extension and one of three months are refused.
func TestDsrExtensionMovesTheDeadlineOnce(t *testing.T) {
	env, f := newDsrEnv(t)
	due := obligations.DsrDueDate(t0)
	extended := due.AddDate(0, 2, 0)
	at(env, 20*24*time.Hour, func() {
		env.SignalWorkflow(SignalDsrExtend, DsrExtendSignal{Months: 3, Reason: "too long"})
	})
	at(env, 20*24*time.Hour+time.Minute, func() {
		require.False(t, queryProgress(t, env).Extended)
		env.SignalWorkflow(SignalDsrExtend, DsrExtendSignal{Months: 2, Reason: "many systems to search", ByAccountID: 3})
	})
	at(env, 20*24*time.Hour+2*time.Minute, func() {
		env.SignalWorkflow(SignalDsrExtend, DsrExtendSignal{Months: 1, Reason: "once more"})
	})
	at(env, extended.Sub(t0)-24*time.Hour, func() {
		p := queryProgress(t, env)
		require.True(t, p.Extended)
		require.Equal(t, extended, p.Deadline)
		require.Equal(t, "many systems to search", p.ExtensionReason)
		env.SignalWorkflow(SignalDsrApprove, DsrDecisionSignal{ByAccountID: 3})
	})
	runDsr(t, env, dsrInput(obligations.DsrPortability, true))
	require.Equal(t, []string{NoticeExtended, NoticeCompleted}, kinds(f.of(ActivityNotifyPrivacyRequester)))
	require.Equal(t, extended, f.of(ActivityNotifyPrivacyRequester)[0].Deadline)
	officer := f.of(ActivityNotifyPrivacyOfficer)
	require.Equal(t, []string{NoticeAwaitingApproval, NoticeReminder7Days, NoticeReminder2Days}, kinds(officer))
	require.Equal(t, extended.Add(-7*24*time.Hour), officer[1].At)
	require.Equal(t, extended.Add(-2*24*time.Hour), officer[2].At)
	// The recorded deadline (and DsrDeadline) moved with the extension.
	var recorded []time.Time
	for _, c := range f.of(ActivityRecordPrivacyStatus) {
		recorded = append(recorded, c.Deadline)
	}
	require.Equal(t, due, recorded[0])
	require.Equal(t, extended, recorded[len(recorded)-1])
	require.Equal(t, obligations.DsrCompleted, lastStatus(f))
}

// An erasure whose scan finds remnants fails the step, alerts the officer
// and waits; a retry erases and scans again, and the request completes.
// The subject's conversation workflows are cancelled.
func TestDsrErasureScanFailureAlertsTheOfficer(t *testing.T) {
	env, f := newDsrEnv(t)
	f.scans = []bool{false}
	at(env, time.Hour, func() { env.SignalWorkflow(SignalDsrApprove, DsrDecisionSignal{ByAccountID: 3}) })
	at(env, 2*time.Hour, func() {
		p := queryProgress(t, env)
		last := p.Steps[len(p.Steps)-1]
		require.Equal(t, "scan", last.Name)
		require.Equal(t, StepFailed, last.Status)
		env.SignalWorkflow(SignalDsrRetry, DsrDecisionSignal{ByAccountID: 3})
	})
	cancelled := stopsConversations(env)
	runDsr(t, env, dsrInput(obligations.DsrErasure, true))
	require.Len(t, f.of(ActivityErasePrivacySubject), 2)
	require.Len(t, f.of(ActivityScanPrivacyErasure), 2)
	require.Equal(t, []string{NoticeAwaitingApproval, NoticeStepFailed}, kinds(f.of(ActivityNotifyPrivacyOfficer)))
	require.Equal(t, []string{"conversation-5", "conversation-6", "conversation-5", "conversation-6"}, *cancelled)
	require.Equal(t, obligations.DsrCompleted, lastStatus(f))
	// Only the clean erasure shreds the backups' keys, after its scan.
	shred := f.of(ActivityShredBackupKeys)
	require.Len(t, shred, 1)
	scans := f.of(ActivityScanPrivacyErasure)
	require.False(t, shred[0].At.Before(scans[1].At))
}

// A completed erasure removes the subject's destroyed keys from the kept
// backups at once; when that cannot run, the request still completes and
// says the hourly shred will do it.
func TestDsrErasureShredsBackupKeysAtOnce(t *testing.T) {
	for _, fails := range []bool{false, true} {
		env, f := newDsrEnv(t)
		stopsConversations(env)
		f.shredFails = fails
		in := dsrInput(obligations.DsrErasure, true)
		in.Prompt = true
		runDsr(t, env, in)
		require.Len(t, f.of(ActivityShredBackupKeys), 1)
		require.Equal(t, obligations.DsrCompleted, lastStatus(f))
		var last DsrStep
		for _, st := range queryProgress(t, env).Steps {
			if st.Name == "shred_backup_keys" {
				last = st
			}
		}
		require.Equal(t, "shred_backup_keys", last.Name)
		if fails {
			require.Equal(t, StepSkipped, last.Status)
			require.Contains(t, last.Detail, "hourly shred")
		} else {
			require.Equal(t, StepDone, last.Status)
			require.Equal(t, "4 destroyed keys removed from the kept backups", last.Detail)
		}
	}
}

// A step that fails after its retries alerts the officer and runs again on
// the retry signal.
func TestDsrFailedStepWaitsForRetry(t *testing.T) {
	env, f := newDsrEnv(t)
	stopsConversations(env)
	f.failErase = 1
	at(env, time.Hour, func() { env.SignalWorkflow(SignalDsrRetry, DsrDecisionSignal{}) })
	in := dsrInput(obligations.DsrErasure, true)
	in.Prompt = true
	runDsr(t, env, in)
	require.Len(t, f.of(ActivityErasePrivacySubject), 2)
	require.Equal(t, []string{NoticeStepFailed}, kinds(f.of(ActivityNotifyPrivacyOfficer)))
	require.Equal(t, obligations.DsrCompleted, lastStatus(f))
}

// A child's data (policy §12) is erased at once: no approval, no month.
func TestDsrChildErasureIsPrompt(t *testing.T) {
	env, f := newDsrEnv(t)
	stopsConversations(env)
	in := dsrInput(obligations.DsrErasure, true)
	in.Prompt = true
	runDsr(t, env, in)
	erase := f.of(ActivityErasePrivacySubject)
	require.Len(t, erase, 1)
	require.Equal(t, t0, erase[0].At)
	require.Empty(t, f.of(ActivityNotifyPrivacyOfficer))
	require.Equal(t, obligations.DsrCompleted, lastStatus(f))
	require.Equal(t, t0, f.of(ActivityRecordPrivacyStatus)[len(f.of(ActivityRecordPrivacyStatus))-1].At)
}

// Restriction, consent withdrawal and an objection to direct marketing
// take effect without a decision; other objections wait for one.
func TestDsrPreferencesTakeEffectWithoutApproval(t *testing.T) {
	for _, tc := range []struct {
		typ, ground string
		approval    bool
	}{
		{obligations.DsrRestriction, "", false},
		{obligations.DsrConsentWithdrawal, "marketing_email", false},
		{obligations.DsrObjection, "direct_marketing", false},
		{obligations.DsrObjection, "legitimate_interests", true},
	} {
		env, f := newDsrEnv(t)
		in := dsrInput(tc.typ, true)
		in.Ground = tc.ground
		if tc.approval {
			at(env, time.Hour, func() { env.SignalWorkflow(SignalDsrApprove, DsrDecisionSignal{}) })
		}
		runDsr(t, env, in)
		require.Len(t, f.of(ActivityRecordPrivacyPreference), 1, tc.typ)
		want := t0
		if tc.approval {
			want = t0.Add(time.Hour)
		}
		require.Equal(t, want, f.of(ActivityRecordPrivacyPreference)[0].At, tc.typ+" "+tc.ground)
	}
}

// A rejection while the request awaits verification ends it too.
func TestDsrRejectWhileAwaitingVerification(t *testing.T) {
	env, f := newDsrEnv(t)
	at(env, time.Hour, func() { env.SignalWorkflow(SignalDsrReject, DsrDecisionSignal{Reason: "duplicate"}) })
	runDsr(t, env, dsrInput(obligations.DsrErasure, false))
	p := queryProgress(t, env)
	require.Equal(t, obligations.DsrRejected, p.Status)
	require.Equal(t, "duplicate", p.RejectionReason)
	require.Equal(t, obligations.DsrRejected, lastStatus(f))
	require.Equal(t, []string{NoticeRejected}, kinds(f.of(ActivityNotifyPrivacyRequester)))
	require.Empty(t, f.of(ActivityErasePrivacySubject))
}

// An unknown type fails the workflow at once, without retries.
func TestDsrUnknownTypeFails(t *testing.T) {
	env, _ := newDsrEnv(t)
	env.ExecuteWorkflow(PrivacyRequestWorkflowType, dsrInput("forget_me", true))
	require.True(t, env.IsWorkflowCompleted())
	var app *temporal.ApplicationError
	require.True(t, errors.As(env.GetWorkflowError(), &app))
	require.Equal(t, "InvalidInput", app.Type())
}

// DESIGN.md invariant 3: what the request workflow carries is identifiers,
// kinds, statuses, dates, counts and the officer's reasons; no field could
// hold an email, a name or a message.
func TestDsrPayloadsCarryIdentifiersOnly(t *testing.T) {
	allowedStrings := map[string]bool{
		"Type": true, "Ground": true, "Status": true, "Step": true, "Method": true, "Kind": true, "Name": true,
		"Reason": true, "ExtensionReason": true, "RejectionReason": true, "Detail": true,
	}
	var walk func(path string, t reflect.Type)
	walk = func(path string, typ reflect.Type) {
		switch typ.Kind() {
		case reflect.Struct:
			if typ == reflect.TypeFor[time.Time]() {
				return
			}
			for i := 0; i < typ.NumField(); i++ {
				f := typ.Field(i)
				if f.Type.Kind() == reflect.String && !allowedStrings[f.Name] {
					t.Errorf("%s.%s is a string that could carry personal data", path, f.Name)
				}
				walk(path+"."+f.Name, f.Type)
			}
		case reflect.Slice:
			if typ.Elem().Kind() == reflect.String && path[len(path)-len("NoticesSent"):] != "NoticesSent" {
				t.Errorf("%s is a list of strings", path)
			}
			walk(path+"[]", typ.Elem())
		case reflect.Map, reflect.Interface:
			t.Errorf("%s is a map or interface", path)
		}
	}
	for _, v := range []any{PrivacyRequestInput{}, DsrVerifiedSignal{}, DsrDecisionSignal{}, DsrExtendSignal{}, DsrStatusChange{},
		DsrNotice{}, DsrRef{}, DsrOutcome{}, DsrProgress{}} {
		walk(reflect.TypeOf(v).Name(), reflect.TypeOf(v))
	}
}
