// Package plans applies the limits of a customer's plan. A plan includes
// seats (active accounts; auditors take none) and conversations a month.
// They apply where billing is on: a deployment without Stripe sells no
// plans, so nothing could lift a limit there.
//
//   - Seats: an invitation past the plan's seats (members and live
//     invitations) is refused, and so is accepting one when the plan has no
//     free seat left (after a downgrade); a plan with fewer seats than the
//     team has members cannot be chosen.
//   - Conversations: the widget refuses a new conversation past the month's
//     limit (models.ErrConversationLimit); conversations already started go
//     on, and email is never refused (the mail was accepted already:
//     refusing it would lose it) but counts. The owners are told by mail the
//     first time in a month.
package plans

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/convot/convot/internal/mail"
	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/store"
)

// Limits checks actions against the organization's plan. A nil *Limits, or
// one with Apply false, limits nothing.
type Limits struct {
	Store *store.Store
	// Apply is whether the deployment enforces plan limits: billing is on.
	Apply bool
	// Now is the clock of the month and of invitations' expiry.
	Now func() time.Time
	// Mail sends the owners' notice (nil: none is sent), from MailFrom.
	Mail     mail.Sender
	MailFrom string
	// BillingURL is the billing page's address, read when a notice is
	// written (the base URL may be known only once the server listens).
	BillingURL func() string
}

func (l *Limits) applies() bool { return l != nil && l.Apply }

// ErrLimit is a limit an action ran into; Msg says what to do about it, in
// words for the person who tried.
type ErrLimit struct{ Msg string }

func (e ErrLimit) Error() string { return e.Msg }

// LimitMessage is the message of a plan limit err ran into, or "" when err
// is something else.
func LimitMessage(err error) string {
	var pl ErrLimit
	if errors.As(err, &pl) {
		return pl.Msg
	}
	return ""
}

// SeatForInvitation checks that the plan has a seat for one more
// invitation of role, counting members and live invitations.
func (l *Limits) SeatForInvitation(ctx context.Context, org *models.Organization, role string) error {
	if !l.applies() || !models.TakesSeat(role) {
		return nil
	}
	plan, err := l.Store.PlanOf(ctx, org.ID)
	if err != nil {
		return err
	}
	members, invited, err := l.Store.SeatsUsed(ctx, org.ID, l.Now())
	if err != nil {
		return err
	}
	if members+invited < int64(plan.Seats) {
		return nil
	}
	return ErrLimit{fmt.Sprintf("The %s plan includes %s, and all are taken (%d %s, %d pending %s). "+
		"An owner can choose a larger plan on the billing page; or remove a member, or wait for an invitation to expire. Auditors take no seat.",
		plan.Name, plural(plan.Seats, "seat"), members, pluralWord(members, "member"), invited, pluralWord(invited, "invitation"))}
}

// SeatForMember checks, in the transaction tx that creates the account,
// that the plan has a seat for a new member of role.
func (l *Limits) SeatForMember(ctx context.Context, tx *store.Store, orgID uint64, role string) error {
	if !l.applies() || !models.TakesSeat(role) {
		return nil
	}
	plan, free, err := l.freeSeat(ctx, tx, orgID)
	if err != nil || free {
		return err
	}
	return ErrLimit{fmt.Sprintf("The team's %s plan has no free seat right now (it includes %s). "+
		"Ask the person who invited you to free a seat or to choose a larger plan, then open the link again: it stays valid until it expires.",
		plan.Name, plural(plan.Seats, "seat"))}
}

// SeatForRole checks, in the transaction tx that changes a member's role,
// that the plan has a seat when the change makes the member take one (an
// auditor becoming an agent).
func (l *Limits) SeatForRole(ctx context.Context, tx *store.Store, orgID uint64, from, to string) error {
	if !l.applies() || models.TakesSeat(from) || !models.TakesSeat(to) {
		return nil
	}
	plan, free, err := l.freeSeat(ctx, tx, orgID)
	if err != nil || free {
		return err
	}
	return ErrLimit{fmt.Sprintf("An auditor takes no seat, but an %s does, and all %s of the %s plan are taken. "+
		"An owner can choose a larger plan on the billing page, or remove a member first.", to, plural(plan.Seats, "seat"), plan.Name)}
}

// freeSeat reports whether the organization's plan has a seat left for one
// more member, holding the organization's row until the transaction ends
// so that two requests cannot take the last seat.
func (l *Limits) freeSeat(ctx context.Context, tx *store.Store, orgID uint64) (models.Plan, bool, error) {
	if err := tx.LockOrganization(ctx, orgID); err != nil {
		return models.Plan{}, false, err
	}
	plan, err := tx.PlanOf(ctx, orgID)
	if err != nil {
		return plan, false, err
	}
	members, _, err := tx.SeatsUsed(ctx, orgID, l.Now())
	return plan, members < int64(plan.Seats), err
}

// SeatsForPlan checks that the team fits in plan before changing to it.
// Only billing changes plans, so it applies whenever it is asked.
func (l *Limits) SeatsForPlan(ctx context.Context, org *models.Organization, plan models.Plan) error {
	members, _, err := l.Store.SeatsUsed(ctx, org.ID, l.Now())
	if err != nil {
		return err
	}
	if members <= int64(plan.Seats) {
		return nil
	}
	return ErrLimit{fmt.Sprintf("The %s plan includes %s, but %d members of the team take one. Remove members on the Team page first, or choose a larger plan.",
		plan.Name, plural(plan.Seats, "seat"), members)}
}

// ConversationLimit is the number of conversations the widget may start
// this month for the organization, read on st (the store or a
// transaction); -1 when no limit applies (other channels, billing off).
func (l *Limits) ConversationLimit(ctx context.Context, st *store.Store, org *models.Organization, channel string) (int64, error) {
	if !l.applies() || channel != "widget" {
		return -1, nil
	}
	plan, err := st.PlanOf(ctx, org.ID)
	if err != nil {
		return 0, err
	}
	return int64(plan.ConversationsPerMonth), nil
}

// AcceptingConversations reports whether the widget may start a
// conversation for the organization now.
func (l *Limits) AcceptingConversations(ctx context.Context, org *models.Organization) (bool, error) {
	_, usedUp, err := l.ConversationsUsedUp(ctx, org)
	return !usedUp, err
}

// ConversationsUsedUp reports whether the organization has started as
// many conversations this month as its plan includes (never where plan
// limits do not apply), with the plan.
func (l *Limits) ConversationsUsedUp(ctx context.Context, org *models.Organization) (models.Plan, bool, error) {
	if !l.applies() {
		return models.Plan{}, false, nil
	}
	plan, err := l.Store.PlanOf(ctx, org.ID)
	if err != nil {
		return plan, false, err
	}
	started, err := l.Store.ConversationsStarted(ctx, org.ID, l.Now())
	return plan, err == nil && started >= int64(plan.ConversationsPerMonth), err
}

// ConversationLimitNotice is what the inbox says while the widget refuses
// new conversations; "" when it does not.
func (l *Limits) ConversationLimitNotice(ctx context.Context, org *models.Organization) string {
	plan, usedUp, err := l.ConversationsUsedUp(ctx, org)
	if err != nil || !usedUp {
		return ""
	}
	return fmt.Sprintf("This month's %d conversations of the %s plan are used: visitors can't start new chats in the widget until %s. Conversations already started and email go on. An owner can choose a larger plan on the billing page.",
		plan.ConversationsPerMonth, plan.Name, models.NextMonth(l.Now()).Format("2 January"))
}

// ConversationLimitReached records that the widget refused a conversation
// for the plan's limit and, the first time in a month, tells the
// organization's owners by mail (sent in the background). Failures are
// logged: the visitor's answer does not wait on them.
func (l *Limits) ConversationLimitReached(ctx context.Context, org *models.Organization) {
	now := l.Now()
	first, err := l.Store.MarkConversationLimitReached(ctx, org.ID, now)
	if err != nil {
		slog.Warn("conversation limit not recorded", "org", org.ID, "err", err)
		return
	}
	if !first {
		return
	}
	plan, err := l.Store.PlanOf(ctx, org.ID)
	if err != nil {
		slog.Warn("conversation limit notice not sent", "org", org.ID, "err", err)
		return
	}
	owners, err := l.Store.ActiveOwners(ctx, org.ID)
	if err != nil {
		slog.Warn("conversation limit notice not sent", "org", org.ID, "err", err)
		return
	}
	resumes := models.NextMonth(now).Format("2 January")
	link := l.BillingURL()
	for _, o := range owners {
		m := mail.Message{
			To: o.Email, Subject: "Your Convot plan's conversations for this month are used up",
			Text: fmt.Sprintf("Hello %s,\n\n%s has started the %d conversations its %s plan includes this month. "+
				"Until %s, visitors can't start new conversations in the chat widget; conversations already started go on, and email still arrives.\n\n"+
				"To lift the limit now, choose a larger plan: %s\n", o.DisplayName, org.CompanyName, plan.ConversationsPerMonth, plan.Name, resumes, link),
			Tag: "billing_conversation_limit", Org: org.GateContext(), Recipient: policies.SubjectContext{Kind: models.SubjectCustomer},
		}
		go l.send(m)
	}
}

// send sends a transactional mail outside a request; only its kind is
// logged on failure.
func (l *Limits) send(m mail.Message) {
	if l.Mail == nil {
		return
	}
	if m.From == "" {
		m.From = l.MailFrom
	}
	if m.Stream == "" {
		m.Stream = mail.Transactional
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := l.Mail.Send(ctx, m); err != nil {
		slog.Warn("mail not sent", "tag", m.Tag, "err", strings.SplitN(err.Error(), ":", 2)[0])
	}
}

func plural(n int, word string) string {
	return fmt.Sprintf("%d %s", n, pluralWord(int64(n), word))
}

func pluralWord(n int64, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
