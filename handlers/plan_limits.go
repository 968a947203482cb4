package handlers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	convotmail "github.com/convot/convot/internal/mail"
	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/store"
)

// Plan limits. A plan includes seats (active accounts; auditors take none)
// and conversations a month. They apply where billing is on: a deployment
// without Stripe sells no plans, so nothing could lift a limit there.
//
//   - Seats: an invitation past the plan's seats (members and live
//     invitations) is refused, and so is accepting one when the plan has no
//     free seat left (after a downgrade); a plan with fewer seats than the
//     team has members cannot be chosen.
//   - Conversations: the widget refuses a new conversation past the month's
//     limit with 402 and a message for the visitor; conversations already
//     started go on, and email is never refused (the mail was accepted
//     already: refusing it would lose it) but counts. The owners are told by
//     mail the first time in a month.

// planLimitsApply reports whether the deployment enforces plan limits.
func (s *Server) planLimitsApply() bool { return s.Stripe != nil }

// errPlanLimit is a limit an action ran into, with what to do about it.
type errPlanLimit struct{ msg string }

func (e errPlanLimit) Error() string { return e.msg }

// seatForInvitation checks that the plan has a seat for one more
// invitation of role, counting members and live invitations.
func (s *Server) seatForInvitation(ctx context.Context, org *models.Organization, role string) error {
	if !s.planLimitsApply() || !models.TakesSeat(role) {
		return nil
	}
	plan, err := s.Store.PlanOf(ctx, org.ID)
	if err != nil {
		return err
	}
	members, invited, err := s.Store.SeatsUsed(ctx, org.ID, s.now())
	if err != nil {
		return err
	}
	if members+invited < int64(plan.Seats) {
		return nil
	}
	return errPlanLimit{fmt.Sprintf("The %s plan includes %s, and all are taken (%d %s, %d pending %s). "+
		"An owner can choose a larger plan on the billing page; or remove a member, or wait for an invitation to expire. Auditors take no seat.",
		plan.Name, plural(plan.Seats, "seat"), members, pluralWord(members, "member"), invited, pluralWord(invited, "invitation"))}
}

// seatForMember checks, in the transaction that creates the account, that
// the plan has a seat for a new member of role.
func (s *Server) seatForMember(ctx context.Context, tx *store.Store, orgID uint64, role string) error {
	if !s.planLimitsApply() || !models.TakesSeat(role) {
		return nil
	}
	plan, free, err := s.freeSeat(ctx, tx, orgID)
	if err != nil || free {
		return err
	}
	return errPlanLimit{fmt.Sprintf("The team's %s plan has no free seat right now (it includes %s). "+
		"Ask the person who invited you to free a seat or to choose a larger plan, then open the link again: it stays valid until it expires.",
		plan.Name, plural(plan.Seats, "seat"))}
}

// seatForRole checks, in the transaction that changes a member's role,
// that the plan has a seat when the change makes the member take one (an
// auditor becoming an agent).
func (s *Server) seatForRole(ctx context.Context, tx *store.Store, orgID uint64, from, to string) error {
	if !s.planLimitsApply() || models.TakesSeat(from) || !models.TakesSeat(to) {
		return nil
	}
	plan, free, err := s.freeSeat(ctx, tx, orgID)
	if err != nil || free {
		return err
	}
	return errPlanLimit{fmt.Sprintf("An auditor takes no seat, but an %s does, and all %s of the %s plan are taken. "+
		"An owner can choose a larger plan on the billing page, or remove a member first.", to, plural(plan.Seats, "seat"), plan.Name)}
}

// freeSeat reports whether the organization's plan has a seat left for one
// more member, holding the organization's row until the transaction ends
// so that two requests cannot take the last seat.
func (s *Server) freeSeat(ctx context.Context, tx *store.Store, orgID uint64) (models.Plan, bool, error) {
	if err := tx.LockOrganization(ctx, orgID); err != nil {
		return models.Plan{}, false, err
	}
	plan, err := tx.PlanOf(ctx, orgID)
	if err != nil {
		return plan, false, err
	}
	members, _, err := tx.SeatsUsed(ctx, orgID, s.now())
	return plan, members < int64(plan.Seats), err
}

// seatsForPlan checks that the team fits in plan before changing to it.
func (s *Server) seatsForPlan(ctx context.Context, org *models.Organization, plan models.Plan) error {
	members, _, err := s.Store.SeatsUsed(ctx, org.ID, s.now())
	if err != nil {
		return err
	}
	if members <= int64(plan.Seats) {
		return nil
	}
	return errPlanLimit{fmt.Sprintf("The %s plan includes %s, but %d members of the team take one. Remove members on the Team page first, or choose a larger plan.",
		plan.Name, plural(plan.Seats, "seat"), members)}
}

// conversationLimit is the number of conversations the widget may start
// this month for the organization; -1 when no limit applies.
func (s *Server) conversationLimit(ctx context.Context, st *store.Store, org *models.Organization, channel string) (int64, error) {
	if !s.planLimitsApply() || channel != "widget" {
		return -1, nil
	}
	plan, err := st.PlanOf(ctx, org.ID)
	if err != nil {
		return 0, err
	}
	return int64(plan.ConversationsPerMonth), nil
}

// acceptingConversations reports whether the widget may start a
// conversation for the organization now.
func (s *Server) acceptingConversations(ctx context.Context, org *models.Organization) (bool, error) {
	_, usedUp, err := s.conversationsUsedUp(ctx, org)
	return !usedUp, err
}

// conversationsUsedUp reports whether the organization has started as many
// conversations this month as its plan includes (never where plan limits
// do not apply), with the plan.
func (s *Server) conversationsUsedUp(ctx context.Context, org *models.Organization) (models.Plan, bool, error) {
	if !s.planLimitsApply() {
		return models.Plan{}, false, nil
	}
	plan, err := s.Store.PlanOf(ctx, org.ID)
	if err != nil {
		return plan, false, err
	}
	started, err := s.Store.ConversationsStarted(ctx, org.ID, s.now())
	return plan, err == nil && started >= int64(plan.ConversationsPerMonth), err
}

// conversationLimitMessage is what a visitor reads when the widget cannot
// start a conversation.
const conversationLimitMessage = "This team can't take new chat conversations at the moment. Please try again later or reach them another way."

// conversationLimitReached answers the widget (402) and tells the
// organization's owners, once a month, that new conversations are refused.
func (s *Server) conversationLimitReached(c *gin.Context, org *models.Organization) {
	widgetError(c, http.StatusPaymentRequired, conversationLimitMessage)
	now := s.now()
	first, err := s.Store.MarkConversationLimitReached(c, org.ID, now)
	if err != nil {
		slog.Warn("conversation limit not recorded", "org", org.ID, "err", err)
		return
	}
	if !first {
		return
	}
	plan, err := s.Store.PlanOf(c, org.ID)
	if err != nil {
		slog.Warn("conversation limit notice not sent", "org", org.ID, "err", err)
		return
	}
	owners, err := s.Store.ActiveOwners(c, org.ID)
	if err != nil {
		slog.Warn("conversation limit notice not sent", "org", org.ID, "err", err)
		return
	}
	resumes := models.NextMonth(now).Format("2 January")
	link := s.billingURL("")
	for _, o := range owners {
		m := convotmail.Message{
			To: o.Email, Subject: "Your Convot plan's conversations for this month are used up",
			Text: fmt.Sprintf("Hello %s,\n\n%s has started the %d conversations its %s plan includes this month. "+
				"Until %s, visitors can't start new conversations in the chat widget; conversations already started go on, and email still arrives.\n\n"+
				"To lift the limit now, choose a larger plan: %s\n", o.DisplayName, org.CompanyName, plan.ConversationsPerMonth, plan.Name, resumes, link),
			Tag: "billing_conversation_limit", Org: org.GateContext(), Recipient: policies.SubjectContext{Kind: models.SubjectCustomer},
		}
		go s.sendMail(m)
	}
}

// conversationLimitNotice is what the inbox says while the widget refuses
// new conversations; "" when it does not.
func (s *Server) conversationLimitNotice(ctx context.Context, org *models.Organization) string {
	plan, usedUp, err := s.conversationsUsedUp(ctx, org)
	if err != nil || !usedUp {
		return ""
	}
	return fmt.Sprintf("This month's %d conversations of the %s plan are used: visitors can't start new chats in the widget until %s. Conversations already started and email go on. An owner can choose a larger plan on the billing page.",
		plan.ConversationsPerMonth, plan.Name, models.NextMonth(s.now()).Format("2 January"))
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

// isPlanLimit is the message of a plan limit err ran into, or "" when err
// is something else.
func isPlanLimit(err error) string {
	var pl errPlanLimit
	if errors.As(err, &pl) {
		return pl.msg
	}
	return ""
}
