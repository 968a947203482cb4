package workflows

import (
	"testing"
	"time"

	"github.com/convot/convot/internal/obligations"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/workflow"
)

// Each workflow.GetVersion branch, both ways: workflow.DefaultVersion is
// what a history recorded before the change replays (forced here with
// env.OnGetVersion), version 1 what new executions take.
// TestEveryGetVersionHasAnOldBranchTest checks every change ID has such a
// test.

// A lifecycle from before reply notifications keeps replaying without the
// notification timer: an operator's reply schedules no mail.
func TestReplyNotificationVersions(t *testing.T) {
	for _, tc := range []struct {
		name   string
		old    bool
		mailed []time.Duration
	}{
		{name: "DefaultVersion", old: true},
		{name: "version 1", mailed: []time.Duration{time.Hour + DefaultReplyNotificationDelay}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, n := newNotifyEnv(t)
			if tc.old {
				env.OnGetVersion(replyNotificationChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
			}
			at(env, time.Hour, func() { operatorMessage(env, 1) })
			at(env, time.Hour+time.Minute, func() {
				s := queryState(t, env)
				require.Equal(t, tc.old, s.NotifyRepliesAt.IsZero(), "notification due: %v", s.NotifyRepliesAt)
			})
			execute(t, env, input(0), 2*time.Hour)
			require.Equal(t, tc.mailed, n.times())
		})
	}
}

// An erasure from before the immediate backup key shred completes without
// it (the hourly schedule shreds); a new one shreds at once.
func TestShredBackupKeysAfterErasureVersions(t *testing.T) {
	for _, tc := range []struct {
		name string
		old  bool
	}{
		{name: "DefaultVersion", old: true},
		{name: "version 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, f := newDsrEnv(t)
			stopsConversations(env)
			if tc.old {
				env.OnGetVersion("shred-backup-keys-after-erasure", workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
			}
			in := dsrInput(obligations.DsrErasure, true)
			in.Prompt = true
			runDsr(t, env, in)
			require.Equal(t, obligations.DsrCompleted, lastStatus(f))
			require.Len(t, f.of(ActivityScanPrivacyErasure), 1)
			var steps []string
			for _, st := range queryProgress(t, env).Steps {
				steps = append(steps, st.Name)
			}
			if tc.old {
				require.Empty(t, f.of(ActivityShredBackupKeys))
				require.NotContains(t, steps, "shred_backup_keys")
			} else {
				require.Len(t, f.of(ActivityShredBackupKeys), 1)
				require.Contains(t, steps, "shred_backup_keys")
			}
		})
	}
}

// The outbox delivers at least once: a contact's message, a resolve, then
// both again (a node died before deleting the rows). A lifecycle from
// before the dedupe applies the second delivery (the old message reopens
// the resolved conversation, the old resolve closes it again: two changes
// that never happened); a new one ignores both repeats.
func TestOutboxDedupeVersions(t *testing.T) {
	for _, tc := range []struct {
		name   string
		old    bool
		status string
		causes []string
	}{
		{name: "DefaultVersion", old: true, status: ConversationResolved, causes: []string{CauseResolved, CauseContactMessage, CauseResolved}},
		{name: "version 1", status: ConversationResolved, causes: []string{CauseResolved}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, rec := newEnv(t)
			if tc.old {
				env.OnGetVersion(outboxDedupeChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
			}
			deliver := func() {
				env.SignalWorkflow(SignalMessage, MessageSignal{AuthorKind: AuthorContact, MessageID: 7, OutboxID: 1})
				env.SignalWorkflow(SignalResolve, StateSignal{OutboxID: 2})
			}
			at(env, time.Hour, deliver)
			at(env, 2*time.Hour, deliver)
			at(env, 2*time.Hour+time.Minute, func() {
				s := queryState(t, env)
				require.Equal(t, tc.status, s.Status)
				if !tc.old {
					require.Equal(t, []uint64{1, 2}, s.DeliveredOutboxIDs)
				}
			})
			execute(t, env, input(0), 3*time.Hour)
			var got []string
			for _, ch := range rec.recorded() {
				got = append(got, ch.Cause)
			}
			require.Equal(t, tc.causes, got)
		})
	}
}

// A batch from the outbox is applied signal by signal, in order, as if
// each had come alone; delivered again, it changes nothing.
func TestOutboxBatchAppliesEachSignalOnce(t *testing.T) {
	env, rec := newEnv(t)
	batch := OutboxBatch{Signals: []OutboxSignal{
		{Name: SignalResolve, State: &StateSignal{OutboxID: 1}},
		{Name: SignalMessage, Message: &MessageSignal{AuthorKind: AuthorContact, MessageID: 7, OutboxID: 2}},
		{Name: SignalPending, State: &StateSignal{OutboxID: 3}},
	}}
	deliver := func() { env.SignalWorkflow(SignalOutboxBatch, batch) }
	at(env, time.Hour, deliver)
	at(env, 2*time.Hour, deliver)
	at(env, 2*time.Hour+time.Minute, func() {
		s := queryState(t, env)
		require.Equal(t, ConversationPending, s.Status)
		require.Equal(t, []uint64{1, 2, 3}, s.DeliveredOutboxIDs)
	})
	execute(t, env, input(0), 3*time.Hour)
	var got []string
	for _, ch := range rec.recorded() {
		got = append(got, ch.Cause)
	}
	require.Equal(t, []string{CauseResolved, CauseContactMessage, CauseMarkedPending}, got)
}
