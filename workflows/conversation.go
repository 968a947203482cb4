package workflows

import (
	"fmt"
	"strconv"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// TaskQueue is the task queue of every Convot workflow and activity.
const TaskQueue = "convot"

// Register registers every workflow of the package under its type name.
func Register(w worker.WorkflowRegistry) {
	w.RegisterWorkflowWithOptions(ConversationLifecycle, workflow.RegisterOptions{Name: ConversationWorkflowType})
	w.RegisterWorkflowWithOptions(AccountCancellation, workflow.RegisterOptions{Name: CancellationWorkflowType})
	w.RegisterWorkflowWithOptions(PrivacyRequest, workflow.RegisterOptions{Name: PrivacyRequestWorkflowType})
	registerRetention(w)
	w.RegisterWorkflowWithOptions(VulnerabilityReport, workflow.RegisterOptions{Name: VulnerabilityWorkflowType})
	w.RegisterWorkflowWithOptions(DisclosureRequest, workflow.RegisterOptions{Name: DisclosureWorkflowType})
	w.RegisterWorkflowWithOptions(ShopifyShopWebhook, workflow.RegisterOptions{Name: ShopifyWebhookWorkflowType})
}

// ConversationWorkflowType is the registered name of ConversationLifecycle.
const ConversationWorkflowType = "ConversationLifecycle"

// ConversationWorkflowID is the workflow ID of a conversation's lifecycle:
// one workflow per conversation. It holds the conversation ID only.
func ConversationWorkflowID(conversationID uint64) string {
	return "conversation-" + strconv.FormatUint(conversationID, 10)
}

// Conversation statuses, as stored in models.Conversation.Status.
const (
	ConversationOpen     = "open"
	ConversationPending  = "pending" // waiting on the contact; behaves as open otherwise
	ConversationSnoozed  = "snoozed"
	ConversationResolved = "resolved"
)

// DefaultInactivityPeriod is how long an open or pending conversation may
// go without a message before it is resolved automatically.
const DefaultInactivityPeriod = 24 * time.Hour

// Signal and query names of the conversation lifecycle.
const (
	SignalMessage = "message" // MessageSignal
	SignalAssign  = "assign"  // AssignSignal
	SignalSnooze  = "snooze"  // SnoozeSignal
	SignalResolve = "resolve" // no payload
	SignalReopen  = "reopen"  // no payload
	// SignalPending: an operator waits on the contact (no payload); the
	// contact's next message opens the conversation again.
	SignalPending = "pending"
	// SignalOutboxBatch carries several of the conversation's outbox
	// signals, in order (OutboxBatch): the drain sends one per
	// conversation and batch instead of one per row.
	SignalOutboxBatch = "outbox-batch"
	QueryStatus       = "status" // returns ConversationState
)

// Message author kinds, as stored in models.Message.AuthorType.
const (
	AuthorContact  = "contact"
	AuthorOperator = "operator"
	AuthorSystem   = "system"
)

// Causes of the transitions in ConversationState.History and
// ConversationStatusChange.Cause.
const (
	CauseStarted        = "started"
	CauseContactMessage = "contact_message"
	CauseAssigned       = "assigned"
	CauseUnassigned     = "unassigned"
	CauseSnoozed        = "snoozed"
	CauseSnoozeEnded    = "snooze_ended"
	CauseResolved       = "resolved"
	CauseReopened       = "reopened"
	CauseMarkedPending  = "marked_pending"
	CauseInactivity     = "inactivity"
)

// ActivityRecordConversationStatus persists a ConversationStatusChange; it
// is implemented in package activities and called here by name.
const ActivityRecordConversationStatus = "RecordConversationStatus"

// ConversationStatusChange is the argument of
// ActivityRecordConversationStatus. It carries the whole current state
// (status and assignee), not a delta, so recording it is idempotent and a
// later change supersedes an earlier one.
type ConversationStatusChange struct {
	ConversationID uint64
	OrganizationID uint64
	Status         string
	AssigneeID     uint64    // operator account ID; 0 when unassigned
	SnoozedUntil   time.Time `json:",omitzero"` // set while snoozed
	Cause          string
	At             time.Time
}

// ConversationInput starts the lifecycle of one conversation. Like every
// workflow input it holds identifiers only, never personal data (DESIGN.md
// invariant 3): the activities load what they need.
type ConversationInput struct {
	ConversationID uint64
	OrganizationID uint64
	// InactivityPeriod without messages after which an open or pending
	// conversation is resolved; DefaultInactivityPeriod when zero.
	InactivityPeriod time.Duration
	// Status to start in: open (when empty), pending or resolved.
	Status string
	// ReplyNotificationDelay after an operator's reply, the contact is
	// mailed the replies they have not read (conversation_notify.go);
	// DefaultReplyNotificationDelay when zero, never when negative.
	ReplyNotificationDelay time.Duration `json:",omitempty"`
	// Carried is the state of the previous run; set by continue-as-new only.
	Carried *ConversationState `json:",omitempty"`
}

// MessageSignal tells the lifecycle a message was posted. Any message resets
// the inactivity timer; a contact's message reopens a resolved, snoozed or
// pending conversation.
type MessageSignal struct {
	AuthorKind string // AuthorContact, AuthorOperator or AuthorSystem
	MessageID  uint64
	At         time.Time // when it was posted; the signal's arrival when zero
	OutboxID   uint64    `json:",omitempty"` // conversation_outbox.go
	// AnswersOff: the organization's automated answers were off when the
	// message was posted, so no answer is tried (an activity a message
	// otherwise). Signals from before carry false and try, as they did.
	AnswersOff bool `json:",omitempty"`
}

// AssignSignal assigns the conversation to an operator.
type AssignSignal struct {
	AssigneeID uint64 // the operator's account ID; 0 unassigns
	OutboxID   uint64 `json:",omitempty"` // conversation_outbox.go
}

// SnoozeSignal snoozes the conversation until a time, when it opens again.
type SnoozeSignal struct {
	Until    time.Time
	OutboxID uint64 `json:",omitempty"` // conversation_outbox.go
}

// ConversationState is the answer to QueryStatus, and what a run hands to
// the next on continue-as-new.
type ConversationState struct {
	ConversationID   uint64
	OrganizationID   uint64
	Status           string
	AssigneeID       uint64
	InactivityPeriod time.Duration
	SnoozedUntil     time.Time `json:",omitzero"`
	// LastActivityAt is when the inactivity period last started: the last
	// message, or the last time the conversation became open or pending.
	LastActivityAt time.Time
	LastMessageID  uint64    `json:",omitempty"`
	LastMessageAt  time.Time `json:",omitzero"`
	AutoResolveAt  time.Time `json:",omitzero"` // while open or pending
	ResolvedAt     time.Time `json:",omitzero"` // while resolved
	// ReplyNotificationDelay is the input's, its default applied;
	// NotifyRepliesAt is when the contact is next mailed their unread
	// replies (zero when no reply waits), and RepliesNotified counts the
	// replies mailed so far.
	ReplyNotificationDelay time.Duration
	NotifyRepliesAt        time.Time `json:",omitzero"`
	// Routed: the routing rules were applied (once, at the contact's
	// first message while unassigned; conversation_ai.go).
	Routed          bool `json:",omitempty"`
	RepliesNotified int  `json:",omitempty"`
	// BotStopped: the automated answers no longer answer this
	// conversation (handed over, or an operator replied);
	// LanguageKnown: the contact's language is detected; Indexed: the
	// conversation was indexed at its first message (conversation_bot.go).
	BotStopped    bool `json:",omitempty"`
	LanguageKnown bool `json:",omitempty"`
	Indexed       bool `json:",omitempty"`
	// History holds the latest transitions, oldest first; HistoryDropped
	// counts the older ones left out to keep the state small.
	History        []ConversationTransition
	HistoryDropped int `json:",omitempty"`
	// DeliveredOutboxIDs are the latest outbox rows applied, to ignore a
	// second delivery (conversation_outbox.go).
	DeliveredOutboxIDs []uint64 `json:",omitempty"`
}

// ConversationTransition is one change of status or assignee.
type ConversationTransition struct {
	At         time.Time
	From       string `json:",omitempty"`
	To         string
	AssigneeID uint64 `json:",omitempty"`
	Cause      string
}

const (
	// maxSignalsPerRun bounds the history of one run; the next run carries
	// the state on (continue-as-new).
	maxSignalsPerRun = 1000
	// maxTransitions bounds ConversationState.History.
	maxTransitions = 100
)

// ConversationStartOptions are the options to start (or signal-with-start)
// the lifecycle of a conversation: its workflow ID, the task queue, its
// search attributes, and at most one running lifecycle per conversation.
func ConversationStartOptions(in ConversationInput) client.StartWorkflowOptions {
	status := in.Status
	if status == "" {
		status = ConversationOpen
	}
	return client.StartWorkflowOptions{
		ID:                       ConversationWorkflowID(in.ConversationID),
		TaskQueue:                TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			ConvotOrgId.ValueSet(strconv.FormatUint(in.OrganizationID, 10)),
			ConversationStatus.ValueSet(status),
		),
	}
}

// ConversationLifecycle runs one conversation from creation on: it resolves
// the conversation after InactivityPeriod without messages, wakes it from a
// snooze, follows the message, assign, snooze, resolve and reopen signals,
// records each change through ActivityRecordConversationStatus, and answers
// QueryStatus. It runs until cancelled (when the conversation is erased),
// continuing as new every maxSignalsPerRun signals.
func ConversationLifecycle(ctx workflow.Context, in ConversationInput) error {
	c := &conversation{}
	if err := c.setup(ctx, in); err != nil {
		return err
	}
	return c.run(ctx)
}

type conversation struct {
	state   ConversationState
	signals int // handled in this run

	message, assign, snooze, resolve, reopen, pending, outboxBatch workflow.ReceiveChannel

	timer       workflow.Future // fires at timerAt; nil when none is running
	timerAt     time.Time
	cancelTimer workflow.CancelFunc

	// notifyTimer fires at state.NotifyRepliesAt; notifying is the reply
	// notification activity on its way (conversation_notify.go).
	notifyTimer, notifying workflow.Future

	// detecting: a language detection is on its way (conversation_bot.go).
	detecting bool
}

func (c *conversation) setup(ctx workflow.Context, in ConversationInput) error {
	if in.ConversationID == 0 || in.OrganizationID == 0 {
		return temporal.NewNonRetryableApplicationError("conversation and organization IDs are required", "InvalidInput", nil)
	}
	period := in.InactivityPeriod
	if period == 0 {
		period = DefaultInactivityPeriod
	}
	if period < 0 {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("negative inactivity period %s", period), "InvalidInput", nil)
	}
	now := workflow.Now(ctx)
	if in.Carried != nil {
		c.state = *in.Carried
		if c.state.ConversationID != in.ConversationID || c.state.OrganizationID != in.OrganizationID {
			return temporal.NewNonRetryableApplicationError("carried state belongs to another conversation", "InvalidInput", nil)
		}
	} else {
		status := in.Status
		switch status {
		case "":
			status = ConversationOpen
		case ConversationOpen, ConversationPending, ConversationResolved:
		default:
			// Snoozed needs a wake-up time: start open and signal snooze.
			return temporal.NewNonRetryableApplicationError(fmt.Sprintf("cannot start in status %q", in.Status), "InvalidInput", nil)
		}
		c.state = ConversationState{
			ConversationID: in.ConversationID,
			OrganizationID: in.OrganizationID,
			Status:         status,
			LastActivityAt: now,
		}
		c.appendHistory(ConversationTransition{At: now, To: status, Cause: CauseStarted})
	}
	c.state.InactivityPeriod = period
	c.state.ReplyNotificationDelay = replyNotificationDelay(in)

	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (ConversationState, error) {
		return c.snapshot(), nil
	}); err != nil {
		return err
	}
	c.message = workflow.GetSignalChannel(ctx, SignalMessage)
	c.assign = workflow.GetSignalChannel(ctx, SignalAssign)
	c.snooze = workflow.GetSignalChannel(ctx, SignalSnooze)
	c.resolve = workflow.GetSignalChannel(ctx, SignalResolve)
	c.reopen = workflow.GetSignalChannel(ctx, SignalReopen)
	c.pending = workflow.GetSignalChannel(ctx, SignalPending)
	c.outboxBatch = workflow.GetSignalChannel(ctx, SignalOutboxBatch)
	c.upsertSearchAttributes(ctx)
	return nil
}

func (c *conversation) run(ctx workflow.Context) error {
	for {
		if err := ctx.Err(); err != nil {
			return err // cancelled: the conversation is gone
		}
		c.armTimer(ctx)
		c.armReplyNotification(ctx)
		s := c.selector(ctx)
		s.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
		s.Select(ctx)

		if c.signals >= maxSignalsPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			// Handle what has arrived, so that no signal is lost, then
			// carry the state into a fresh run.
			for s := c.selector(ctx); s.HasPending(); s = c.selector(ctx) {
				s.Select(ctx)
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			state := c.snapshot()
			if c.notifying != nil {
				// Left unfinished by this run: the next one notifies
				// again at once (the activity never mails a reply twice).
				state.NotifyRepliesAt = workflow.Now(ctx)
			}
			return workflow.NewContinueAsNewError(ctx, ConversationWorkflowType, ConversationInput{
				ConversationID:         state.ConversationID,
				OrganizationID:         state.OrganizationID,
				InactivityPeriod:       state.InactivityPeriod,
				Status:                 state.Status,
				ReplyNotificationDelay: state.ReplyNotificationDelay,
				Carried:                &state,
			})
		}
	}
}

// selector waits for any signal and for the running timer.
func (c *conversation) selector(ctx workflow.Context) workflow.Selector {
	s := workflow.NewSelector(ctx)
	onSignal(ctx, s, c.message, func(m MessageSignal) { c.applyMessage(ctx, m) })
	onSignal(ctx, s, c.assign, func(a AssignSignal) { c.applyAssign(ctx, a) })
	onSignal(ctx, s, c.snooze, func(sn SnoozeSignal) { c.applySnooze(ctx, sn) })
	onSignal(ctx, s, c.resolve, func(sig StateSignal) { c.applyState(ctx, sig, ConversationResolved, CauseResolved) })
	onSignal(ctx, s, c.reopen, func(sig StateSignal) { c.applyState(ctx, sig, ConversationOpen, CauseReopened) })
	onSignal(ctx, s, c.pending, func(sig StateSignal) { c.applyState(ctx, sig, ConversationPending, CauseMarkedPending) })
	onSignal(ctx, s, c.outboxBatch, func(b OutboxBatch) {
		for _, sig := range b.Signals {
			c.applyOutbox(ctx, sig)
		}
	})
	if c.timer != nil {
		s.AddFuture(c.timer, func(f workflow.Future) {
			c.timer, c.cancelTimer = nil, nil
			if err := f.Get(ctx, nil); err != nil {
				return // cancelled along with the workflow
			}
			c.onDeadline(ctx)
		})
	}
	c.addReplyNotification(ctx, s)
	return s
}

func (c *conversation) onMessage(ctx workflow.Context, m MessageSignal) {
	switch m.AuthorKind {
	case AuthorContact, AuthorOperator, AuthorSystem:
	default:
		workflow.GetLogger(ctx).Warn("message signal with unknown author kind ignored", "AuthorKind", m.AuthorKind)
		return
	}
	now := workflow.Now(ctx)
	c.state.LastActivityAt = now
	c.state.LastMessageID = m.MessageID
	c.state.LastMessageAt = m.At
	if m.At.IsZero() {
		c.state.LastMessageAt = now
	}
	if m.AuthorKind == AuthorContact && c.state.Status != ConversationOpen {
		c.transition(ctx, ConversationOpen, CauseContactMessage)
	}
	if m.AuthorKind == AuthorOperator {
		c.onOperatorReply(ctx)
		// An operator took the conversation: the bot stays out of it.
		c.state.BotStopped = true
	}
	if m.AuthorKind == AuthorContact {
		if !c.detectLanguage(ctx) {
			c.runAI(ctx, ActivityDetectContactLanguage)
		}
		c.route(ctx)
		if !c.state.Indexed {
			c.state.Indexed = true
			c.index(ctx, false)
		}
		if !m.AnswersOff {
			c.answer(ctx, m)
		}
	}
}

func (c *conversation) onAssign(ctx workflow.Context, a AssignSignal) {
	if a.AssigneeID == c.state.AssigneeID {
		return
	}
	c.state.AssigneeID = a.AssigneeID
	cause := CauseAssigned
	if a.AssigneeID == 0 {
		cause = CauseUnassigned
	}
	c.record(ctx, c.state.Status, cause)
}

func (c *conversation) onSnooze(ctx workflow.Context, sn SnoozeSignal) {
	switch {
	case !sn.Until.After(workflow.Now(ctx)):
		workflow.GetLogger(ctx).Warn("snooze into the past ignored", "Until", sn.Until)
		return
	case c.state.Status == ConversationResolved:
		workflow.GetLogger(ctx).Warn("snooze of a resolved conversation ignored")
		return
	case c.state.Status == ConversationSnoozed && sn.Until.Equal(c.state.SnoozedUntil):
		return
	}
	c.state.SnoozedUntil = sn.Until
	c.transition(ctx, ConversationSnoozed, CauseSnoozed)
}

// onDeadline handles the timer: the inactivity period has passed, or the
// snooze is over. It checks the state again, since a signal handled in the
// same workflow task may have moved the deadline.
func (c *conversation) onDeadline(ctx workflow.Context) {
	now := workflow.Now(ctx)
	switch c.state.Status {
	case ConversationOpen, ConversationPending:
		if !now.Before(c.state.LastActivityAt.Add(c.state.InactivityPeriod)) {
			c.transition(ctx, ConversationResolved, CauseInactivity)
		}
	case ConversationSnoozed:
		if !now.Before(c.state.SnoozedUntil) {
			c.transition(ctx, ConversationOpen, CauseSnoozeEnded)
		}
	}
}

// transition moves the conversation to another status (or snoozes it again)
// and records the change.
func (c *conversation) transition(ctx workflow.Context, to, cause string) {
	now := workflow.Now(ctx)
	from := c.state.Status
	c.state.Status = to
	switch to {
	case ConversationOpen, ConversationPending:
		// The inactivity period starts over: a conversation woken from a
		// snooze or reopened is not resolved at once for its old silence.
		c.state.LastActivityAt = now
		c.state.SnoozedUntil = time.Time{}
		c.state.ResolvedAt = time.Time{}
	case ConversationSnoozed:
		c.state.ResolvedAt = time.Time{}
	case ConversationResolved:
		c.state.ResolvedAt = now
		c.state.SnoozedUntil = time.Time{}
	}
	c.record(ctx, from, cause)
	if to == ConversationResolved && from != ConversationResolved {
		c.runAI(ctx, ActivitySummarizeConversation)
		c.index(ctx, true)
	}
}

// record notes a change in the history, the search attributes and, through
// the activity, the database.
func (c *conversation) record(ctx workflow.Context, from, cause string) {
	now := workflow.Now(ctx)
	c.appendHistory(ConversationTransition{At: now, From: from, To: c.state.Status, AssigneeID: c.state.AssigneeID, Cause: cause})
	c.upsertSearchAttributes(ctx)

	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		// Retried until the database is back: changes are recorded one
		// at a time, in order, and signals queue up meanwhile.
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
		},
	})
	change := ConversationStatusChange{
		ConversationID: c.state.ConversationID,
		OrganizationID: c.state.OrganizationID,
		Status:         c.state.Status,
		AssigneeID:     c.state.AssigneeID,
		SnoozedUntil:   c.state.SnoozedUntil,
		Cause:          cause,
		At:             now,
	}
	if err := workflow.ExecuteActivity(actx, ActivityRecordConversationStatus, change).Get(actx, nil); err != nil {
		// Only a non-retryable error or cancellation gets here. The next
		// change carries the whole state again and repairs the record.
		workflow.GetLogger(ctx).Error("recording conversation status failed",
			"ConversationID", c.state.ConversationID, "Status", c.state.Status, "Error", err)
	}
}

func (c *conversation) appendHistory(t ConversationTransition) {
	c.state.History = append(c.state.History, t)
	if extra := len(c.state.History) - maxTransitions; extra > 0 {
		c.state.History = append([]ConversationTransition(nil), c.state.History[extra:]...)
		c.state.HistoryDropped += extra
	}
}

// upsertSearchAttributes publishes the organization ID and the status: an
// identifier and a keyword, nothing personal.
func (c *conversation) upsertSearchAttributes(ctx workflow.Context) {
	err := workflow.UpsertTypedSearchAttributes(ctx,
		ConvotOrgId.ValueSet(strconv.FormatUint(c.state.OrganizationID, 10)),
		ConversationStatus.ValueSet(c.state.Status),
	)
	if err != nil {
		workflow.GetLogger(ctx).Warn("upserting search attributes failed", "Error", err)
	}
}

// deadline is when the timer must fire next: the end of the inactivity
// period while open or pending, the end of the snooze while snoozed.
func (c *conversation) deadline() time.Time {
	switch c.state.Status {
	case ConversationOpen, ConversationPending:
		return c.state.LastActivityAt.Add(c.state.InactivityPeriod)
	case ConversationSnoozed:
		return c.state.SnoozedUntil
	}
	return time.Time{}
}

// armTimer keeps exactly one timer running, at deadline(); a timer for a
// deadline that moved is cancelled, so the Temporal UI shows the real one.
func (c *conversation) armTimer(ctx workflow.Context) {
	at := c.deadline()
	if c.timer != nil && at.Equal(c.timerAt) {
		return
	}
	if c.cancelTimer != nil {
		c.cancelTimer()
	}
	c.timer, c.cancelTimer, c.timerAt = nil, nil, time.Time{}
	if at.IsZero() {
		return
	}
	summary := "auto-resolve after inactivity"
	if c.state.Status == ConversationSnoozed {
		summary = "snooze wake-up"
	}
	tctx, cancel := workflow.WithCancel(ctx)
	c.timer = workflow.NewTimerWithOptions(tctx, at.Sub(workflow.Now(ctx)), workflow.TimerOptions{Summary: summary})
	c.timerAt, c.cancelTimer = at, cancel
}

// snapshot is the state as queried and as carried to the next run.
func (c *conversation) snapshot() ConversationState {
	s := c.state
	s.History = append([]ConversationTransition(nil), c.state.History...)
	s.DeliveredOutboxIDs = append([]uint64(nil), c.state.DeliveredOutboxIDs...)
	s.AutoResolveAt = time.Time{}
	if s.Status == ConversationOpen || s.Status == ConversationPending {
		s.AutoResolveAt = s.LastActivityAt.Add(s.InactivityPeriod)
	}
	return s
}
