package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Reply notifications: when an operator answers, the lifecycle waits a
// short while (ReplyNotificationDelay, so that a contact who is still on
// the page reads the answer there), then asks ActivityNotifyContactOfReplies
// to mail the contact the operator messages they have not read. The
// activity decides from the database (read state, email address,
// suppression, messages already notified); the workflow only keeps the
// durable timer, visible in the Temporal UI.

// replyNotificationChange versions the reply notification timer.
const replyNotificationChange = "reply-notification"

// DefaultReplyNotificationDelay is how long after an operator's reply the
// contact is mailed the replies they have not read.
const DefaultReplyNotificationDelay = 2 * time.Minute

// ActivityNotifyContactOfReplies mails a contact the operator messages of
// a conversation they have not read; implemented in package activities.
const ActivityNotifyContactOfReplies = "NotifyContactOfReplies"

// ReplyNotification is the argument of ActivityNotifyContactOfReplies:
// identifiers only.
type ReplyNotification struct {
	ConversationID uint64
	OrganizationID uint64
}

// ReplyNotificationResult is what the activity did: whether a mail left,
// how many messages it carried, or why none was sent (a fixed phrase:
// nothing_unread, no_email, suppressed, refused, conversation_gone).
type ReplyNotificationResult struct {
	Sent     bool
	Messages int
	Skipped  string `json:",omitempty"`
}

// replyNotificationDelay is the input's delay: the default when zero, off
// when negative.
func replyNotificationDelay(in ConversationInput) time.Duration {
	if in.ReplyNotificationDelay == 0 {
		return DefaultReplyNotificationDelay
	}
	return in.ReplyNotificationDelay
}

// onOperatorReply makes a notification due, unless one already is: the
// mail then carries every reply of the meantime.
func (c *conversation) onOperatorReply(ctx workflow.Context) {
	if c.state.ReplyNotificationDelay < 0 || !c.state.NotifyRepliesAt.IsZero() {
		return
	}
	// Lifecycles that began before reply notifications existed replay
	// their history without this timer.
	if workflow.GetVersion(ctx, replyNotificationChange, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	c.state.NotifyRepliesAt = workflow.Now(ctx).Add(c.state.ReplyNotificationDelay)
}

// armReplyNotification runs the notification timer while one is due and
// no notification is on its way.
func (c *conversation) armReplyNotification(ctx workflow.Context) {
	if c.notifyTimer != nil || c.notifying != nil || c.state.NotifyRepliesAt.IsZero() {
		return
	}
	c.notifyTimer = workflow.NewTimerWithOptions(ctx, c.state.NotifyRepliesAt.Sub(workflow.Now(ctx)),
		workflow.TimerOptions{Summary: "mail unread replies to the contact"})
}

// addReplyNotification waits for the notification timer and for the
// notification activity.
func (c *conversation) addReplyNotification(ctx workflow.Context, s workflow.Selector) {
	if c.notifyTimer != nil {
		s.AddFuture(c.notifyTimer, func(f workflow.Future) {
			c.notifyTimer = nil
			if err := f.Get(ctx, nil); err != nil {
				return // cancelled along with the workflow
			}
			c.state.NotifyRepliesAt = time.Time{}
			actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
				StartToCloseTimeout: time.Minute,
				RetryPolicy: &temporal.RetryPolicy{
					InitialInterval:    10 * time.Second,
					BackoffCoefficient: 2,
					MaximumInterval:    5 * time.Minute,
					MaximumAttempts:    10,
				},
			})
			c.notifying = workflow.ExecuteActivity(actx, ActivityNotifyContactOfReplies, ReplyNotification{
				ConversationID: c.state.ConversationID, OrganizationID: c.state.OrganizationID,
			})
		})
	}
	if c.notifying != nil {
		s.AddFuture(c.notifying, func(f workflow.Future) {
			c.notifying = nil
			var res ReplyNotificationResult
			if err := f.Get(ctx, &res); err != nil {
				// Retries are spent: the next reply makes a new attempt,
				// which carries these messages too while they are unread.
				workflow.GetLogger(ctx).Warn("reply notification failed", "ConversationID", c.state.ConversationID, "Error", err)
				return
			}
			c.state.RepliesNotified += res.Messages
		})
	}
}
