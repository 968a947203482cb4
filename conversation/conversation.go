// Package conversation is the conversation core the widget, the inbox and
// the inbound-mail webhook share: starting a conversation, posting and
// reading messages, storing attachments, changing a conversation's state,
// and telling the live sockets and the lifecycle workflow. It speaks in
// contexts and models, never HTTP: each surface answers the errors it
// returns (ErrBadMessage, ErrBadAttachment) in its own way.
//
// A message is committed before anyone hears of it (the sender's
// acknowledgement, the live event, the lifecycle signal).
package conversation

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/convot/convot/internal/blob"
	"github.com/convot/convot/internal/realtime"
	"github.com/convot/convot/models"
	"github.com/convot/convot/plans"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// Service runs conversations. Build it with its fields set and use it by
// pointer: it keeps a per-node cache of contacts' subject contexts.
type Service struct {
	// Store is every query; Keys seals attachments under the contact's
	// data key.
	Store *store.Store
	Keys  *models.KeyStore
	// Hub carries live events to sockets; nil publishes nothing.
	Hub realtime.Hub
	// Blobs keeps sealed attachments (disk or S3).
	Blobs blob.Store
	// Lifecycles signals conversation workflows after each commit; nil
	// signals nothing (tests without Temporal).
	Lifecycles Lifecycles
	// LifecycleOutbox writes the signals to the lifecycle outbox in the
	// change's own transaction instead (outbox.go); an OutboxDrainer
	// delivers them.
	LifecycleOutbox bool
	// Plans counts widget conversations against the plan; nil applies no
	// limit.
	Plans *plans.Limits
	// Now is the clock of every timestamp written.
	Now func() time.Time

	subjects liveSubjects

	commitsOnce sync.Once
	group       *groupCommit
}

// MaxMessageRunes bounds a message's text.
const MaxMessageRunes = 10000

// Author is who posts a message: the contact, an operator, or the system.
type Author struct {
	Kind string // workflows.AuthorContact, AuthorOperator, AuthorSystem or AuthorBot
	ID   uint64 // the contact's or the operator's ID
}

// ErrBadMessage is a message the sender must fix; Msg says how, in words
// for the sender.
type ErrBadMessage struct{ Msg string }

func (e ErrBadMessage) Error() string { return e.Msg }

// CleanBody trims a message and checks its length; attachments is the
// number of files sent with it (a message of files alone may be empty).
func CleanBody(body string, attachments int) (string, error) {
	body = strings.TrimSpace(body)
	if !utf8.ValidString(body) || strings.ContainsRune(body, 0) {
		return "", ErrBadMessage{"The message is not valid UTF-8 text, or holds a NUL character."}
	}
	if body == "" && attachments == 0 {
		return "", ErrBadMessage{"The message is empty."}
	}
	if utf8.RuneCountInString(body) > MaxMessageRunes {
		return "", ErrBadMessage{fmt.Sprintf("The message is longer than %d characters.", MaxMessageRunes)}
	}
	return body, nil
}

// Start opens a conversation for a contact and counts it against the
// plan's conversations this month: past the limit, a widget conversation
// is refused (models.ErrConversationLimit, nothing written). Its lifecycle
// workflow starts with the first message (signal-with-start). st is
// s.Store, or the caller's transaction.
func (s *Service) Start(ctx context.Context, st *store.Store, org *models.Organization, contact *models.Contact, channel string) (*models.Conversation, error) {
	now := s.Now().UTC()
	conv := &models.Conversation{
		OrganizationID: org.ID, ContactID: contact.ID, DataKeyID: contact.DataKeyID,
		Channel: channel, Status: models.ConversationOpen, LastMessageAt: now, CreatedAt: now,
	}
	limit, err := s.Plans.ConversationLimit(ctx, st, org, channel)
	if err != nil {
		return nil, err
	}
	nested := st.InTransaction() // inside a caller's transaction
	err = st.Tx(ctx, func(tx *store.Store) error {
		if !nested {
			// The month's counter row is locked from its update to the
			// commit: without waiting for the disk there, an
			// organization's conversations start side by side. Nothing is
			// acknowledged on this commit; the first message's commit,
			// which waits, makes the conversation durable with it.
			if err := tx.AsynchronousCommit(ctx); err != nil {
				return err
			}
		}
		if err := tx.CreateConversation(ctx, conv); err != nil {
			return err
		}
		if err := tx.EmitConversationEvent(ctx, org.ID, conv.ID, conv.ContactID, models.WebhookConversationCreated); err != nil {
			return err
		}
		// Counted last, so that the counter row stays locked for the
		// commit alone: starts queued on it for whole transactions (1.0 to
		// 1.5 s at 600 starts at once), and now pass one by one in a
		// round trip each. Past the limit, the rollback takes back the
		// conversation and its event.
		return tx.CountConversationStart(ctx, org.ID, now, limit, conv.ID)
	})
	if err != nil {
		return nil, err
	}
	return conv, nil
}

// Post commits a message (with attachments already stored for this
// conversation by StoreAttachment), then publishes it live and tells the
// lifecycle workflow. The returned message is committed: only now may the
// sender be told.
func (s *Service) Post(ctx context.Context, org *models.Organization, conv *models.Conversation, by Author, body string, private bool, attachmentIDs []uint64) (*models.Message, []models.Attachment, error) {
	msg, atts, announce, err := s.PostIn(ctx, s.Store, org, conv, by, body, private, attachmentIDs)
	if err != nil {
		return nil, nil, err
	}
	announce()
	return msg, atts, nil
}

// PostIn writes a message like Post, in st (the caller's transaction, or
// s.Store), and returns announce: the live event and the lifecycle signal,
// for the caller to call once st's transaction committed, never before.
func (s *Service) PostIn(ctx context.Context, st *store.Store, org *models.Organization, conv *models.Conversation, by Author, body string, private bool, attachmentIDs []uint64) (*models.Message, []models.Attachment, func(), error) {
	body, err := CleanBody(body, len(attachmentIDs))
	if err != nil {
		return nil, nil, nil, err
	}
	if private && by.Kind != workflows.AuthorOperator && by.Kind != workflows.AuthorSystem {
		return nil, nil, nil, ErrBadMessage{"Only operators write private notes."}
	}
	now := s.Now().UTC()
	msg := &models.Message{
		OrganizationID: org.ID, ConversationID: conv.ID, DataKeyID: conv.DataKeyID,
		AuthorType: by.Kind, AuthorID: by.ID, Body: body, Private: private,
		Automated: by.Kind == workflows.AuthorBot, DeliveryStatus: "sent", CreatedAt: now,
	}
	// The lifecycle hears of every public message but the bot's (the bot
	// runs inside it).
	signalled := !private && by.Kind != workflows.AuthorBot
	// A contact's message reopens the conversation at once; the lifecycle
	// workflow records the same when it hears of it.
	reopened := by.Kind == workflows.AuthorContact && conv.Status != models.ConversationOpen
	var atts []models.Attachment
	signal := func(tx *store.Store) error {
		// The webhook event of the message (a note's only for endpoints
		// that chose notes), and of the reopening, in the message's
		// transaction.
		if err := tx.EmitMessageEvent(ctx, org.ID, msg, conv.ContactID); err != nil {
			return err
		}
		if reopened {
			if err := tx.EmitConversationEvent(ctx, org.ID, conv.ID, conv.ContactID, models.WebhookConversationReopened); err != nil {
				return err
			}
		}
		if !signalled {
			return nil
		}
		return s.recordLifecycle(ctx, tx, org, conv, workflows.SignalMessage, workflows.MessageSignal{AuthorKind: by.Kind, MessageID: msg.ID, At: now, AnswersOff: answersOff(org)})
	}
	if s.groupable(st, msg, reopened, len(attachmentIDs)) {
		err = s.commits().post(s.batchMessage(org, msg, signalled))
	} else {
		err = st.Tx(ctx, func(tx *store.Store) error {
			if err := tx.InsertMessage(ctx, msg, reopened); err != nil {
				return err
			}
			if len(attachmentIDs) > 0 {
				linked, err := tx.AttachToMessage(ctx, org.ID, conv.ID, msg.ID, attachmentIDs)
				if err != nil {
					return err
				}
				if int(linked) != len(attachmentIDs) {
					return ErrBadMessage{"An attachment is unknown or already sent."}
				}
				if atts, err = tx.MessageAttachments(ctx, org.ID, msg.ID); err != nil {
					return err
				}
			}
			return signal(tx)
		})
	}
	if err != nil {
		return nil, nil, nil, err
	}
	conv.LastMessageAt = now
	if reopened {
		conv.Status, conv.ResolvedAt, conv.SnoozedUntil = models.ConversationOpen, nil, nil
	}
	announce := func() {
		if signalled {
			s.notifyLifecycle(org, conv, workflows.SignalMessage, workflows.MessageSignal{AuthorKind: by.Kind, MessageID: msg.ID, At: now, AnswersOff: answersOff(org)})
		}
		view := s.MessageView(ctx, msg, atts)
		s.publish(ctx, org, conv, realtime.LiveEvent{Type: "message", ConversationID: conv.ID, Message: &view}, !private, messageCategories)
		if reopened {
			s.PublishConversation(ctx, org, conv)
		}
	}
	return msg, atts, announce, nil
}

// groupable reports whether a message may be written by the group commit
// (group_commit.go): on PostgreSQL, outside a caller's transaction, with
// a body and no attachments, and not reopening its conversation (which
// writes a state change and its event besides).
func (s *Service) groupable(st *store.Store, msg *models.Message, reopened bool, attachments int) bool {
	return st == s.Store && !st.InTransaction() && st.Postgres() && msg.Body != "" && attachments == 0 && !reopened
}

func (s *Service) commits() *groupCommit {
	s.commitsOnce.Do(func() { s.group = &groupCommit{store: s.Store} })
	return s.group
}

// batchMessage is a message as the group commit writes it: with its
// webhook event, and its lifecycle signal when the outbox carries them
// (the ID is added by the statement that draws it).
func (s *Service) batchMessage(org *models.Organization, msg *models.Message, signalled bool) store.BatchMessage {
	b := store.BatchMessage{Message: msg, EventType: models.WebhookMessageCreated}
	if msg.Private {
		b.EventType = models.WebhookNoteCreated
	}
	if signalled && s.LifecycleOutbox {
		off := answersOff(org)
		arg, _ := json.Marshal(workflows.MessageSignal{AuthorKind: msg.AuthorType, At: msg.CreatedAt, AnswersOff: off}) // a struct of strings and a time
		b.LifecycleSignal, b.LifecycleArg, b.InactivityHours = workflows.SignalMessage, string(arg), int64(inactivityHours(org))
		// A contact's message in an open conversation, with no answer to
		// try, only moves the inactivity deadline (hours away): the
		// lifecycle may hear of it late, unless it is the conversation's
		// first (routing, indexing), which the statement checks.
		b.LifecycleMayWait = off && msg.AuthorType == workflows.AuthorContact
	}
	return b
}

// answersOff reports whether the organization's automated answers are
// off (no provider chosen for them).
func answersOff(org *models.Organization) bool {
	return models.AIFeatureProviders(org.AISettings)[models.AIFeatureAutomatedAnswer] == ""
}

// notifyLifecycle signals the conversation's workflow, starting it if
// needed. Signals queue per conversation, in order, off the request path.
// With the outbox, the transaction wrote the signal: nothing to do here.
func (s *Service) notifyLifecycle(org *models.Organization, conv *models.Conversation, signal string, arg any) {
	if s.Lifecycles == nil || s.LifecycleOutbox {
		return
	}
	s.Lifecycles.Notify(LifecycleSignal{
		Input: workflows.ConversationInput{
			ConversationID: conv.ID, OrganizationID: org.ID,
			InactivityPeriod: time.Duration(inactivityHours(org)) * time.Hour,
		},
		Name: signal, Arg: arg,
	})
}

// inactivityHours is the organization's inactivity period, its default
// applied.
func inactivityHours(org *models.Organization) int {
	if org.InactivityHours <= 0 {
		return models.DefaultInactivityHours
	}
	return int(org.InactivityHours)
}

// MarkRead records that a reader (workflows.AuthorContact or
// AuthorOperator) saw a conversation up to a message: the other party's
// messages get their read time, and the other side is told.
func (s *Service) MarkRead(ctx context.Context, org *models.Organization, conv *models.Conversation, readerKind string, upTo uint64) error {
	marked, err := s.Store.MarkRead(ctx, org.ID, conv.ID, upTo, readerKind == workflows.AuthorContact, s.Now().UTC())
	if err != nil {
		return err
	}
	if marked > 0 {
		s.Publish(ctx, org, conv, realtime.LiveEvent{Type: "read", ConversationID: conv.ID, AuthorType: readerKind, MessageID: upTo}, true)
	}
	return nil
}

// SetState changes status or assignee (signal is workflows.SignalResolve,
// SignalReopen, SignalPending, SignalSnooze or SignalAssign, with its
// argument): the row first (so every reader sees it at once), then the
// lifecycle workflow, which owns the timers and records the same state.
// conv is reloaded.
func (s *Service) SetState(ctx context.Context, org *models.Organization, conv *models.Conversation, signal string, arg any) error {
	now := s.Now().UTC()
	updates := map[string]any{"updated_at": now}
	switch signal {
	case workflows.SignalResolve:
		updates["status"], updates["resolved_at"], updates["snoozed_until"] = models.ConversationResolved, now, nil
	case workflows.SignalReopen:
		updates["status"], updates["resolved_at"], updates["snoozed_until"] = models.ConversationOpen, nil, nil
	case workflows.SignalPending:
		updates["status"], updates["resolved_at"], updates["snoozed_until"] = models.ConversationPending, nil, nil
	case workflows.SignalSnooze:
		sn := arg.(workflows.SnoozeSignal)
		updates["status"], updates["snoozed_until"], updates["resolved_at"] = models.ConversationSnoozed, sn.Until, nil
	case workflows.SignalAssign:
		a := arg.(workflows.AssignSignal)
		if a.AssigneeID == 0 {
			updates["assignee_id"] = nil
		} else {
			updates["assignee_id"] = a.AssigneeID
		}
	default:
		return fmt.Errorf("unknown conversation signal %q", signal)
	}
	err := s.Store.Tx(ctx, func(tx *store.Store) error {
		if err := tx.UpdateConversation(ctx, org.ID, conv.ID, updates); err != nil {
			return err
		}
		if typ := stateEvent(signal); typ != "" {
			if err := tx.EmitConversationEvent(ctx, org.ID, conv.ID, conv.ContactID, typ); err != nil {
				return err
			}
		}
		return s.recordLifecycle(ctx, tx, org, conv, signal, arg)
	})
	if err != nil {
		return err
	}
	// Read into a fresh row: scanning into conv would leave a field the
	// update set to NULL (snoozed_until, resolved_at) as it was.
	fresh, err := s.Store.Conversation(ctx, org.ID, conv.ID)
	if err != nil {
		return err
	}
	*conv = *fresh
	s.notifyLifecycle(org, conv, signal, arg)
	s.PublishConversation(ctx, org, conv)
	return nil
}

// AssignIfUnassigned assigns the conversation to accountID when nobody
// has it (the organization's auto-assign on first reply): the claim is
// one conditional statement, recorded for the lifecycle in the same
// transaction; assigned is false when someone already had it.
func (s *Service) AssignIfUnassigned(ctx context.Context, org *models.Organization, conv *models.Conversation, accountID uint64) (assigned bool, err error) {
	arg := workflows.AssignSignal{AssigneeID: accountID}
	err = s.Store.Tx(ctx, func(tx *store.Store) error {
		claimed, err := tx.ClaimConversation(ctx, org.ID, conv.ID, accountID, s.Now().UTC())
		if err != nil || !claimed {
			return err
		}
		assigned = true
		return s.recordLifecycle(ctx, tx, org, conv, workflows.SignalAssign, arg)
	})
	if err != nil || !assigned {
		return false, err
	}
	fresh, err := s.Store.Conversation(ctx, org.ID, conv.ID)
	if err != nil {
		return true, err
	}
	*conv = *fresh
	s.notifyLifecycle(org, conv, workflows.SignalAssign, arg)
	s.PublishConversation(ctx, org, conv)
	return true, nil
}

// stateEvent is the webhook event of a state change ("" for none: waiting
// on the contact is no event of the catalogue).
func stateEvent(signal string) string {
	switch signal {
	case workflows.SignalResolve:
		return models.WebhookConversationResolved
	case workflows.SignalReopen:
		return models.WebhookConversationReopened
	case workflows.SignalSnooze:
		return models.WebhookConversationSnoozed
	case workflows.SignalAssign:
		return models.WebhookConversationAssigned
	}
	return ""
}
