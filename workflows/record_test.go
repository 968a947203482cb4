package workflows_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/convot/convot/internal/obligations"
	. "github.com/convot/convot/workflows"
)

// TestRecordHistories (re-)records the histories TestReplayRecordedHistories
// replays: it runs each workflow type on a Temporal dev server, through
// its main branches (signals, fired and cancelled timers, activity
// failures), with fake activities of exactly the real activities' types,
// and writes each history as JSON. Record again after a deliberate,
// versioned change, and commit the files:
//
//	CONVOT_RECORD_HISTORIES=1 TEMPORAL_CLI=$(go env GOPATH)/bin/temporal \
//	  go test ./workflows -run TestRecordHistories -count=1
//
// Long waits (the 30-day grace of a cancellation, a backup's 90 days) are
// not waited out: inputs that carry a time (awareness, receipt, a backup's
// time taken, an effective date) are set so that their timers fire within
// seconds; the cancellation's grace period, counted from the workflow's own
// clock, is recorded up to the reactivation.
//
// The dev server's client uses the default data converter: the payloads are
// plain JSON of made-up IDs (production encrypts them; replay does not
// depend on the codec).
func TestRecordHistories(t *testing.T) {
	if os.Getenv("CONVOT_RECORD_HISTORIES") != "1" {
		t.Skip("set CONVOT_RECORD_HISTORIES=1 and TEMPORAL_CLI to record the replay histories")
	}
	cli := os.Getenv("TEMPORAL_CLI")
	if cli == "" {
		t.Fatal("recording needs TEMPORAL_CLI, the path of the temporal CLI (go install github.com/temporalio/cli/cmd/temporal@v1.5.1)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	logger := log.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	srv, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
		ExistingPath: cli,
		LogLevel:     "error",
		// A fixed identity keeps the host's name out of the histories.
		ClientOptions: &client.Options{Namespace: "default", Logger: logger, Identity: "convot-history-recorder"},
	})
	require.NoError(t, err)
	defer func() { require.NoError(t, srv.Stop()) }()
	c := srv.Client()
	require.NoError(t, RegisterSearchAttributes(ctx, c, "default"))

	w := worker.New(c, TaskQueue, worker.Options{})
	Register(w)
	fakes := newRecordingFakes()
	registered := workerRegistrations(t).activities
	require.Equal(t, sortedKeys(registered), sortedKeys(fakes.activities()), "a fake for every activity the worker registers")
	for name, fn := range fakes.activities() {
		require.Equal(t, registered[name], reflect.TypeOf(fn), "the fake %s has the real activity's type", name)
		w.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
	require.NoError(t, w.Start())
	defer w.Stop()

	// Histories of scenarios renamed or removed go too.
	old, err := filepath.Glob(filepath.Join(historiesDir, "*.json"))
	require.NoError(t, err)
	for _, f := range old {
		require.NoError(t, os.Remove(f))
	}
	require.NoError(t, os.MkdirAll(historiesDir, 0o755))

	r := &recording{ctx: ctx, c: c}
	for _, s := range []struct {
		name string
		run  func(*testing.T, *recording)
	}{
		{"ConversationLifecycle", recordConversation},
		{"ConversationLifecycleBot", recordConversationBot},
		{"AccountCancellation", recordCancellation},
		{"BreachNotification", recordBreach},
		{"PrivacyRequest", recordPrivacy},
		{"Retention", recordRetention},
		{"PolicyChange", recordPolicyChange},
		{"VulnerabilityReport", recordVulnerability},
		{"DisclosureRequest", recordDisclosure},
		{"ShopifyShopWebhook", recordShopifyWebhook},
		{"WebhookDelivery", recordWebhookDelivery},
	} {
		t.Run(s.name, func(t *testing.T) { s.run(t, r) })
	}
}

type recording struct {
	ctx context.Context
	c   client.Client
}

// save writes a workflow's history as the JSON the replayer (and the
// temporal CLI's `workflow show --output json`) reads.
func (r *recording) save(t *testing.T, file, workflowID, runID string) {
	t.Helper()
	h := &historypb.History{}
	iter := r.c.GetWorkflowHistory(r.ctx, workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		e, err := iter.Next()
		require.NoError(t, err)
		h.Events = append(h.Events, e)
	}
	data, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(h)
	require.NoError(t, err)
	path := filepath.Join(historiesDir, file+".json")
	require.NoError(t, os.WriteFile(path, append(data, '\n'), 0o644))
	t.Logf("%s: %d events", path, len(h.Events))
}

func (r *recording) start(t *testing.T, opts client.StartWorkflowOptions, workflowType string, args ...any) client.WorkflowRun {
	t.Helper()
	run, err := r.c.ExecuteWorkflow(r.ctx, opts, workflowType, args...)
	require.NoError(t, err)
	return run
}

func (r *recording) signal(t *testing.T, run client.WorkflowRun, name string, arg any) {
	t.Helper()
	require.NoError(t, r.c.SignalWorkflow(r.ctx, run.GetID(), run.GetRunID(), name, arg))
}

// await queries the workflow until cond holds of the answer.
func await[T any](t *testing.T, r *recording, run client.WorkflowRun, query, what string, cond func(T) bool) T {
	t.Helper()
	var last T
	require.Eventually(t, func() bool {
		v, err := r.c.QueryWorkflow(r.ctx, run.GetID(), run.GetRunID(), query)
		if err != nil {
			return false
		}
		var s T
		if v.Get(&s) != nil {
			return false
		}
		last = s
		return cond(s)
	}, 30*time.Second, 100*time.Millisecond, "waiting for %s", what)
	return last
}

func opts(id string) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{ID: id, TaskQueue: TaskQueue}
}

// --- scenarios -----------------------------------------------------------------

func causesOf(s ConversationState) []string {
	var out []string
	for _, tr := range s.History {
		out = append(out, tr.Cause)
	}
	return out
}

// A conversation through every signal, the reply notification timer, a
// snooze's wake-up and the inactivity timer, until it is cancelled (as an
// erasure does).
func recordConversation(t *testing.T, r *recording) {
	in := ConversationInput{ConversationID: 901, OrganizationID: 5, InactivityPeriod: 4 * time.Second, ReplyNotificationDelay: time.Second}
	run := r.start(t, ConversationStartOptions(in), ConversationWorkflowType, in)
	has := func(cause string) func(ConversationState) bool {
		return func(s ConversationState) bool { return slices.Contains(causesOf(s), cause) }
	}
	r.signal(t, run, SignalAssign, AssignSignal{AssigneeID: 3})
	r.signal(t, run, SignalMessage, MessageSignal{AuthorKind: AuthorOperator, MessageID: 1})
	await(t, r, run, QueryStatus, "the reply notification", func(s ConversationState) bool { return s.RepliesNotified > 0 })
	r.signal(t, run, SignalSnooze, SnoozeSignal{Until: time.Now().Add(2 * time.Second)})
	await(t, r, run, QueryStatus, "the snooze's end", has(CauseSnoozeEnded))
	r.signal(t, run, SignalPending, nil)
	await(t, r, run, QueryStatus, "the auto-resolve", has(CauseInactivity))
	r.signal(t, run, SignalMessage, MessageSignal{AuthorKind: AuthorContact, MessageID: 2})
	await(t, r, run, QueryStatus, "the contact's reopening", has(CauseContactMessage))
	r.signal(t, run, SignalResolve, nil)
	r.signal(t, run, SignalReopen, nil)
	await(t, r, run, QueryStatus, "the reopening", has(CauseReopened))
	require.NoError(t, r.c.CancelWorkflow(r.ctx, run.GetID(), run.GetRunID()))
	err := run.Get(r.ctx, nil)
	var cancelled *temporal.CanceledError
	require.ErrorAs(t, err, &cancelled)
	r.save(t, "ConversationLifecycle-signals-timers-cancel", run.GetID(), run.GetRunID())
}

// The AI work of a lifecycle (ai-automated-answer, ai-language-once,
// ai-index): the contact's first message is indexed, its language
// detected off the message path, and the bot (not confident here) hands
// the conversation over; the next message is not answered; resolving
// summarizes and indexes.
func recordConversationBot(t *testing.T, r *recording) {
	in := ConversationInput{ConversationID: 904, OrganizationID: 5, InactivityPeriod: time.Hour}
	run := r.start(t, ConversationStartOptions(in), ConversationWorkflowType, in)
	r.signal(t, run, SignalMessage, MessageSignal{AuthorKind: AuthorContact, MessageID: 1})
	await(t, r, run, QueryStatus, "the handover", func(s ConversationState) bool { return s.BotStopped && s.LanguageKnown })
	r.signal(t, run, SignalMessage, MessageSignal{AuthorKind: AuthorContact, MessageID: 2})
	r.signal(t, run, SignalResolve, nil)
	await(t, r, run, QueryStatus, "the resolution", func(s ConversationState) bool { return s.Status == ConversationResolved })
	require.NoError(t, r.c.CancelWorkflow(r.ctx, run.GetID(), run.GetRunID()))
	err := run.Get(r.ctx, nil)
	var cancelled *temporal.CanceledError
	require.ErrorAs(t, err, &cancelled)
	r.save(t, "ConversationLifecycle-bot-handover-resolved", run.GetID(), run.GetRunID())
}

// A cancellation reactivated within its grace period. (The deletion after
// 30 days is counted from the workflow's clock: not recordable in seconds;
// the testsuite's cancellation tests cover it.)
func recordCancellation(t *testing.T, r *recording) {
	in := CancellationInput{OrganizationID: 902, Reason: CancellationClosedByOwner, ActorID: 2}
	run := r.start(t, CancellationStartOptions(in, time.Now()), CancellationWorkflowType, in)
	await(t, r, run, QueryStatus, "the cancellation notice", func(s CancellationState) bool { return s.NoticeSent })
	r.signal(t, run, SignalReactivate, ReactivateSignal{ActorID: 2})
	var s CancellationState
	require.NoError(t, run.Get(r.ctx, &s))
	require.Equal(t, CancellationReactivated, s.Status)
	r.save(t, "AccountCancellation-reactivated", run.GetID(), run.GetRunID())
}

// An incident the officer learns of 72 hours minus seconds ago: every
// escalation, overdue, a high risk (users notified), a late notice refused
// without reasons, then accepted.
func recordBreach(t *testing.T, r *recording) {
	in := BreachInput{IncidentID: 903, OrganizationID: 5, AwareAt: time.Now().UTC().Add(-BreachNoticeWindow + 4*time.Second)}
	run := r.start(t, opts(BreachWorkflowID(in.IncidentID)), BreachWorkflowType, in)
	await(t, r, run, QueryBreachStatus, "overdue", func(s BreachState) bool { return s.Status == BreachOverdue })
	r.signal(t, run, SignalBreachAssess, BreachAssessSignal{Risk: RiskHigh, ActorID: 2})
	await(t, r, run, QueryBreachStatus, "the users' notice", func(s BreachState) bool { return s.UsersNotified > 0 })
	r.signal(t, run, SignalBreachNotified, BreachNoticeSentSignal{ActorID: 2})
	await(t, r, run, QueryBreachStatus, "the refusal", func(s BreachState) bool {
		return slices.ContainsFunc(s.Steps, func(st BreachStep) bool { return st.Step == StepNoticeRefused })
	})
	r.signal(t, run, SignalBreachNotified, BreachNoticeSentSignal{ActorID: 2})
	var s BreachState
	require.NoError(t, run.Get(r.ctx, &s))
	require.Equal(t, BreachClosed, s.Status)
	require.True(t, s.NoticeLate)
	r.save(t, "BreachNotification-overdue-high-risk-late-notice", run.GetID(), run.GetRunID())
}

func hasStep(p DsrProgress, name, status string) bool {
	return slices.ContainsFunc(p.Steps, func(s DsrStep) bool { return s.Name == name && s.Status == status })
}

func recordPrivacy(t *testing.T, r *recording) {
	t.Run("erasure", func(t *testing.T) {
		// The subject's conversation, which the erasure cancels.
		conv := ConversationInput{ConversationID: 905, OrganizationID: 5}
		convRun := r.start(t, ConversationStartOptions(conv), ConversationWorkflowType, conv)

		// Received so that the officer's 7-day reminder falls due in
		// seconds; verification is open for longer.
		remindAt := time.Now().UTC().Add(5 * time.Second).Truncate(time.Second)
		received := remindAt.Add(7*24*time.Hour - 30*24*time.Hour)
		in := PrivacyRequestInput{RequestID: 904, OrganizationID: 5, Type: obligations.DsrErasure, ReceivedAt: received, VerificationWindow: 24 * 24 * time.Hour}
		run := r.start(t, PrivacyRequestStartOptions(in), PrivacyRequestWorkflowType, in)
		await(t, r, run, QueryDsrProgress, "awaiting verification", func(p DsrProgress) bool { return p.Status == obligations.DsrAwaitingVerification })
		r.signal(t, run, SignalDsrVerified, DsrVerifiedSignal{Method: "code"})
		await(t, r, run, QueryDsrProgress, "the officer's 7-day reminder", func(p DsrProgress) bool {
			return p.Status == obligations.DsrAwaitingApproval && slices.ContainsFunc(p.NoticesSent, func(n string) bool { return strings.HasPrefix(n, NoticeReminder7Days) })
		})
		r.signal(t, run, SignalDsrExtend, DsrExtendSignal{Months: 1, Reason: "many systems to search", ByAccountID: 3})
		await(t, r, run, QueryDsrProgress, "the extension", func(p DsrProgress) bool { return p.Extended })
		r.signal(t, run, SignalDsrApprove, DsrDecisionSignal{ByAccountID: 3})
		await(t, r, run, QueryDsrProgress, "the failed scan", func(p DsrProgress) bool { return hasStep(p, "scan", StepFailed) })
		r.signal(t, run, SignalDsrRetry, DsrDecisionSignal{ByAccountID: 3})
		require.NoError(t, run.Get(r.ctx, nil))
		p := await(t, r, run, QueryDsrProgress, "completion", func(p DsrProgress) bool { return p.Status == obligations.DsrCompleted })
		require.True(t, hasStep(p, "shred_backup_keys", StepDone))
		var cancelled *temporal.CanceledError
		require.ErrorAs(t, convRun.Get(r.ctx, nil), &cancelled, "the erasure cancels the subject's conversation")
		r.save(t, "PrivacyRequest-erasure-reminder-extension-scan-retry", run.GetID(), run.GetRunID())
	})

	t.Run("unverified", func(t *testing.T) {
		in := PrivacyRequestInput{RequestID: 906, OrganizationID: 5, Type: obligations.DsrAccess, ReceivedAt: time.Now().UTC(), VerificationWindow: 2 * time.Second}
		run := r.start(t, PrivacyRequestStartOptions(in), PrivacyRequestWorkflowType, in)
		require.NoError(t, run.Get(r.ctx, nil))
		await(t, r, run, QueryDsrProgress, "expiry", func(p DsrProgress) bool { return p.Status == obligations.DsrExpired })
		r.save(t, "PrivacyRequest-unverified-expires", run.GetID(), run.GetRunID())
	})

	t.Run("access", func(t *testing.T) {
		// Completed, then waiting out the download link's 7 days: recorded
		// up to that timer, then terminated.
		in := PrivacyRequestInput{RequestID: 907, OrganizationID: 5, Type: obligations.DsrAccess, ReceivedAt: time.Now().UTC(), Verified: true}
		run := r.start(t, PrivacyRequestStartOptions(in), PrivacyRequestWorkflowType, in)
		await(t, r, run, QueryDsrProgress, "awaiting approval", func(p DsrProgress) bool { return p.Status == obligations.DsrAwaitingApproval })
		r.signal(t, run, SignalDsrApprove, DsrDecisionSignal{ByAccountID: 3})
		await(t, r, run, QueryDsrProgress, "completion", func(p DsrProgress) bool { return p.Status == obligations.DsrCompleted })
		require.NoError(t, r.c.TerminateWorkflow(r.ctx, run.GetID(), run.GetRunID(), "recording over: the export link expires in 7 days"))
		var terminated *temporal.TerminatedError
		require.ErrorAs(t, run.Get(r.ctx, nil), &terminated)
		r.save(t, "PrivacyRequest-access-approved", run.GetID(), run.GetRunID())
	})
}

// The retention workflows: a sweep, the daily backup and the expiry it
// starts (the backup is taken 90 days minus seconds ago, so its expiry
// timer fires), and the key shred.
func recordRetention(t *testing.T, r *recording) {
	sweep := r.start(t, opts("retention-support-recorded"), RetentionSweepWorkflowType, SweepInput{Class: obligations.RetentionSupport})
	require.NoError(t, sweep.Get(r.ctx, nil))
	r.save(t, "RetentionSweep-support", sweep.GetID(), sweep.GetRunID())

	backup := r.start(t, opts("daily-backup-recorded"), DailyBackupWorkflowType)
	var res BackupResult
	require.NoError(t, backup.Get(r.ctx, &res))
	r.save(t, "DailyBackup-takes-and-starts-expiry", backup.GetID(), backup.GetRunID())

	expiry := r.c.GetWorkflow(r.ctx, BackupExpiryWorkflowID(res.BackupID), "")
	require.NoError(t, expiry.Get(r.ctx, nil))
	r.save(t, "BackupExpiry-timer-fired", expiry.GetID(), expiry.GetRunID())

	shred := r.start(t, opts("shred-backup-keys-recorded"), ShredBackupKeysWorkflowType)
	require.NoError(t, shred.Get(r.ctx, nil))
	r.save(t, "ShredBackupKeys", shred.GetID(), shred.GetRunID())
}

// A policy version taking effect (its timer fires), and a material change
// refused for too short a notice.
func recordPolicyChange(t *testing.T, r *recording) {
	in := PolicyChangeInput{Version: 7, EffectiveAt: time.Now().UTC().Add(3 * time.Second)}
	run := r.start(t, opts(PolicyChangeWorkflowID(in.Version)), PolicyChangeWorkflowType, in)
	var s PolicyChangeState
	require.NoError(t, run.Get(r.ctx, &s))
	require.True(t, s.Effective)
	r.save(t, "PolicyChange-takes-effect", run.GetID(), run.GetRunID())

	in = PolicyChangeInput{Version: 8, Material: true, EffectiveAt: time.Now().UTC().Add(24 * time.Hour)}
	run = r.start(t, opts(PolicyChangeWorkflowID(in.Version)), PolicyChangeWorkflowType, in)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, run.Get(r.ctx, nil), &appErr)
	require.Equal(t, "NoticeTooShort", appErr.Type())
	r.save(t, "PolicyChange-material-notice-too-short", run.GetID(), run.GetRunID())
}

// A vulnerability report received so that its triage deadline passes in
// seconds: acknowledged, escalated, triaged, fixed, closed, the reporter
// informed.
func recordVulnerability(t *testing.T, r *recording) {
	// Two business days before now, plus a few seconds: the timer fires.
	received := time.Now().UTC().Add(4 * time.Second)
	for AddBusinessDays(received, VulnAckBusinessDays).After(time.Now().UTC().Add(4 * time.Second)) {
		received = received.Add(-time.Hour)
	}
	in := VulnerabilityInput{ReportID: 907, ReceivedAt: received}
	run := r.start(t, VulnerabilityStartOptions(in), VulnerabilityWorkflowType, in)
	await(t, r, run, QueryVulnStatus, "overdue", func(s VulnState) bool { return s.Status == VulnOverdue })
	r.signal(t, run, SignalVulnTriaged, VulnSignal{ActorID: 4, Severity: "high"})
	await(t, r, run, QueryVulnStatus, "triaged", func(s VulnState) bool { return s.Status == VulnTriaged })
	r.signal(t, run, SignalVulnFixed, VulnSignal{ActorID: 4})
	r.signal(t, run, SignalVulnClosed, VulnSignal{ActorID: 4, Outcome: "fixed"})
	var s VulnState
	require.NoError(t, run.Get(r.ctx, &s))
	require.Equal(t, VulnClosed, s.Status)
	r.save(t, "VulnerabilityReport-escalated-triaged-closed", run.GetID(), run.GetRunID())
}

// A disclosure request past its deadline (escalated), approved, disclosed
// and notified; and one refused.
func recordDisclosure(t *testing.T, r *recording) {
	in := DisclosureInput{DisclosureID: 908, OrganizationID: 5, DueAt: time.Now().UTC().Add(3 * time.Second)}
	run := r.start(t, DisclosureStartOptions(in), DisclosureWorkflowType, in)
	await(t, r, run, QueryDisclosureStatus, "overdue", func(s DisclosureState) bool { return s.Status == DisclosureOverdue })
	r.signal(t, run, SignalDisclosureApprove, DisclosureDecision{ActorID: 6})
	var s DisclosureState
	require.NoError(t, run.Get(r.ctx, &s))
	require.Equal(t, DisclosureClosed, s.Status)
	r.save(t, "DisclosureRequest-overdue-approved-notified", run.GetID(), run.GetRunID())

	in = DisclosureInput{DisclosureID: 909, OrganizationID: 5, DueAt: time.Now().UTC().Add(time.Hour)}
	run = r.start(t, DisclosureStartOptions(in), DisclosureWorkflowType, in)
	r.signal(t, run, SignalDisclosureRefuse, DisclosureDecision{ActorID: 6})
	require.NoError(t, run.Get(r.ctx, &s))
	require.Equal(t, DisclosureRefused, s.Status)
	r.save(t, "DisclosureRequest-refused", run.GetID(), run.GetRunID())
}

// A shop redaction whose activity fails once before it succeeds, and an
// uninstall.
func recordShopifyWebhook(t *testing.T, r *recording) {
	in := ShopifyWebhookInput{OrganizationID: 7, WebhookRecordID: 41, Topic: ShopifyTopicShopRedact, Shop: "recorded.myshopify.com"}
	run := r.start(t, ShopifyWebhookStartOptions(in), ShopifyWebhookWorkflowType, in)
	var res ShopifyWebhookResult
	require.NoError(t, run.Get(r.ctx, &res))
	require.EqualValues(t, 3, res.Rows)
	r.save(t, "ShopifyShopWebhook-shop-redact-retried", run.GetID(), run.GetRunID())

	in = ShopifyWebhookInput{OrganizationID: 7, WebhookRecordID: 42, Topic: ShopifyTopicUninstalled, Shop: "recorded.myshopify.com"}
	run = r.start(t, ShopifyWebhookStartOptions(in), ShopifyWebhookWorkflowType, in)
	require.NoError(t, run.Get(r.ctx, &res))
	require.True(t, res.TokenDestroyed)
	r.save(t, "ShopifyShopWebhook-uninstalled", run.GetID(), run.GetRunID())
}

// A webhook delivery failing twice (the fake endpoint answers 500), then
// delivered; the waits shortened to a second.
func recordWebhookDelivery(t *testing.T, r *recording) {
	in := WebhookDeliveryInput{DeliveryID: 908, OrganizationID: 5, EndpointID: 3, RetryWaits: []time.Duration{time.Second, time.Second, time.Second}}
	run := r.start(t, WebhookDeliveryStartOptions(in, 0), WebhookDeliveryWorkflowType, in)
	var s WebhookDeliveryState
	require.NoError(t, run.Get(r.ctx, &s))
	require.Equal(t, WebhookOutcomeDelivered, s.Outcome)
	require.Len(t, s.Attempts, 3)
	r.save(t, "WebhookDelivery-failed-twice-delivered", run.GetID(), run.GetRunID())
}

// --- fake activities ---------------------------------------------------------------

// recordingFakes answer as the real activities would, without a database;
// a few fail once, so the histories hold the workflows' failure branches.
type recordingFakes struct {
	mu      sync.Mutex
	scanned map[uint64]int // scans per request: the first finds a remnant
	hooks   map[uint64]int // attempts per delivery: the first two fail
	refused map[uint64]int // late notices per incident: the first lacks reasons
	shops   map[uint64]int // attempts per Shopify webhook: a shop redaction's first fails
}

func newRecordingFakes() *recordingFakes {
	return &recordingFakes{scanned: map[uint64]int{}, refused: map[uint64]int{}, shops: map[uint64]int{}, hooks: map[uint64]int{}}
}

func (f *recordingFakes) activities() map[string]any {
	done := func(context.Context, DsrRef) (DsrOutcome, error) {
		return DsrOutcome{Found: true, Rows: 3, Detail: "done"}, nil
	}
	return map[string]any{
		ActivityRecordConversationStatus: func(context.Context, ConversationStatusChange) error { return nil },
		ActivityNotifyContactOfReplies: func(context.Context, ReplyNotification) (ReplyNotificationResult, error) {
			return ReplyNotificationResult{Sent: true, Messages: 1}, nil
		},
		ActivitySummarizeConversation: func(context.Context, ConversationAIRequest) error { return nil },
		ActivityDetectContactLanguage: func(context.Context, ConversationAIRequest) error { return nil },
		ActivityRouteConversation: func(context.Context, ConversationAIRequest) (RouteResult, error) {
			return RouteResult{AssigneeID: 3}, nil
		},
		ActivityAnswerVisitor: func(_ context.Context, r AnswerRequest) (AnswerResult, error) {
			return AnswerResult{HandOver: "not_confident"}, nil
		},
		ActivityHandOverConversation: func(context.Context, HandOverRequest) error { return nil },
		ActivityDetectLanguageOnce: func(context.Context, ConversationAIRequest) (LanguageResult, error) {
			return LanguageResult{Known: true}, nil
		},
		ActivityIndexConversation: func(context.Context, ConversationAIRequest) error { return nil },

		ActivityMarkOrganizationCancelled: func(context.Context, CancellationChange) error { return nil },
		ActivitySendCancellationNotice:    func(context.Context, CancellationNotice) error { return nil },
		ActivityReactivateOrganization:    func(context.Context, CancellationChange) error { return nil },
		ActivityDeleteOrganizationData: func(_ context.Context, req DeletionRequest) (DeletionReport, error) {
			return DeletionReport{Deleted: map[string]int64{"conversations": 2}}, nil
		},

		ActivitySweepRetention: func(_ context.Context, req SweepRequest) (SweepResult, error) {
			return SweepResult{Class: req.Class, Cutoff: req.Cutoff, Counts: map[string]int64{"support_tickets": 1}, Rows: 1, Batches: 1}, nil
		},
		ActivityRecordRetentionSweep: func(context.Context, SweepResult) error { return nil },
		ActivityTakeBackup: func(context.Context) (BackupResult, error) {
			taken := time.Now().UTC().Add(-obligations.BackupRetention + 3*time.Second)
			return BackupResult{BackupID: 31, TakenAt: taken, ExpiresAt: taken.Add(obligations.BackupRetention), Tables: 20, Rows: 100, Bytes: 4096}, nil
		},
		ActivityDeleteBackup:    func(context.Context, uint64) error { return nil },
		ActivityShredBackupKeys: func(context.Context) (int, error) { return 2, nil },

		ActivityActOnShopifyWebhook: func(_ context.Context, in ShopifyWebhookInput) (ShopifyWebhookResult, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.shops[in.WebhookRecordID]++; in.Topic == ShopifyTopicShopRedact && f.shops[in.WebhookRecordID] == 1 {
				return ShopifyWebhookResult{}, errors.New("database unavailable")
			}
			if in.Topic == ShopifyTopicUninstalled {
				return ShopifyWebhookResult{TokenDestroyed: true}, nil
			}
			return ShopifyWebhookResult{Rows: 3}, nil
		},

		ActivityRecordIncidentStep:   func(context.Context, IncidentStepInput) error { return nil },
		ActivityEscalateIncident:     func(context.Context, EscalationInput) error { return nil },
		ActivityDraftAuthorityNotice: func(context.Context, uint64) error { return nil },
		ActivityRecordNoticeSent: func(_ context.Context, in NoticeSentInput) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.refused[in.IncidentID]++; in.Late && f.refused[in.IncidentID] == 1 {
				return temporal.NewNonRetryableApplicationError("reasons for the delay are required", ErrDelayReasonsRequired, nil)
			}
			return nil
		},
		ActivityNotifyAffectedUsers: func(context.Context, uint64) (int64, error) { return 12, nil },

		ActivityAcknowledgeVulnerability:    func(context.Context, VulnStepInput) error { return nil },
		ActivityEscalateVulnerability:       func(context.Context, VulnStepInput) error { return nil },
		ActivityRecordVulnerabilityStep:     func(context.Context, VulnStepInput) error { return nil },
		ActivityInformVulnerabilityReporter: func(context.Context, VulnStepInput) error { return nil },

		ActivityRecordDisclosureStep: func(context.Context, DisclosureStepInput) error { return nil },
		ActivityEscalateDisclosure:   func(context.Context, DisclosureStepInput) error { return nil },
		ActivityDiscloseData: func(context.Context, DisclosureStepInput) (DisclosureOutcome, error) {
			return DisclosureOutcome{Allowed: true, Fields: 2, Digest: "0f"}, nil
		},
		ActivityNotifyDisclosureSubjects: func(context.Context, DisclosureStepInput) (DisclosureOutcome, error) {
			return DisclosureOutcome{Notified: 1}, nil
		},
		ActivityAttemptWebhookDelivery: func(_ context.Context, in WebhookAttemptInput) (WebhookAttemptResult, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.hooks[in.DeliveryID]++; f.hooks[in.DeliveryID] <= 2 {
				return WebhookAttemptResult{Outcome: WebhookOutcomeFailed, StatusCode: 500}, nil
			}
			return WebhookAttemptResult{Outcome: WebhookOutcomeDelivered, StatusCode: 204}, nil
		},
		ActivityDisableWebhookEndpoint: func(context.Context, WebhookEndpointRef) error { return nil },

		ActivitySendPolicyNotices: func(context.Context, int) (int64, error) { return 3, nil },
		ActivityRecordPolicyStep:  func(context.Context, PolicyStepInput) error { return nil },

		ActivityRecordPrivacyStatus:     func(context.Context, DsrStatusChange) error { return nil },
		ActivityNotifyPrivacyOfficer:    func(context.Context, DsrNotice) error { return nil },
		ActivityNotifyPrivacyRequester:  func(context.Context, DsrNotice) (DsrOutcome, error) { return DsrOutcome{}, nil },
		ActivityLocatePrivacySubject:    done,
		ActivityExportPrivacySubject:    done,
		ActivityRectifyPrivacySubject:   done,
		ActivityRecordPrivacyPreference: done,
		ActivityFinishPrivacyRequest:    done,
		ActivityExpirePrivacyExports:    func(_ context.Context, ref DsrRef) (DsrOutcome, error) { return DsrOutcome{Files: 1}, nil },
		ActivityErasePrivacySubject: func(_ context.Context, ref DsrRef) (DsrOutcome, error) {
			// Conversation 905's workflow: the recording starts it.
			return DsrOutcome{Rows: 10, ConversationIDs: []uint64{905}, Detail: "10 rows erased"}, nil
		},
		ActivityScanPrivacyErasure: func(_ context.Context, ref DsrRef) (DsrOutcome, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.scanned[ref.RequestID]++; f.scanned[ref.RequestID] == 1 {
				return DsrOutcome{Findings: 1}, nil
			}
			return DsrOutcome{Clean: true}, nil
		},
	}
}
