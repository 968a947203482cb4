package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/convot/convot/handlers/widget"
	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/subprocessors"
)

// withBilling turns billing on, and with it plan limits. Nothing here
// calls Stripe: the client points at a closed port, so a limit that needed
// Stripe would fail the test.
func withBilling(t *testing.T, ts *testServer) {
	t.Helper()
	g, err := policies.NewGate(context.Background(), policies.NewMemoryLog())
	if err != nil {
		t.Fatal(err)
	}
	s, err := subprocessors.NewStripe(g, subprocessors.StripeConfig{BaseURL: "http://127.0.0.1:9", SecretKey: "sk_test_not_called", Region: "eu"})
	if err != nil {
		t.Fatal(err)
	}
	ts.srv.Stripe = s
	ts.srv.Plans.Apply = true // New built the limits before billing was on
}

// onPlan gives the organization a paid plan, as Stripe's webhooks would
// (planID "" returns it to the free plan).
func onPlan(t *testing.T, ts *testServer, orgID uint64, planID string) {
	t.Helper()
	ts.db.Where("organization_id = ?", orgID).Delete(&models.Subscription{})
	if planID == "" {
		return
	}
	sub := models.Subscription{OrganizationID: orgID, StripeCustomerID: fmt.Sprintf("cus_plan_%d", orgID), StripeSubscriptionID: fmt.Sprintf("sub_plan_%d", orgID), Plan: planID, Status: "active"}
	if err := ts.db.Create(&sub).Error; err != nil {
		t.Fatal(err)
	}
}

func mailsTagged(t *testing.T, ts *testServer, to, tag string) int {
	t.Helper()
	msgs, err := ts.outbox.List()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range msgs {
		if m.To == to && m.Tag == tag {
			n++
		}
	}
	return n
}

// Seats: the free plan's two are a member and an invitation; a third
// invitation is refused with what to do, auditors take no seat, a larger
// plan makes room, an invitation accepted after a downgrade is refused
// (and stays valid), and a plan smaller than the team cannot be chosen.
func TestSeatLimits(t *testing.T) {
	ts, _ := billingServer(t)
	withBilling(t, ts)
	owner := ts.browser(t)
	owner.signup("olivia@seats.test", "Seats GmbH")
	_, org := billingOwner(t, ts, "olivia@seats.test")

	if r := owner.get("/settings/team"); !strings.Contains(r.body, "Seats: 1 of 2 on the Free plan") {
		t.Fatalf("team page: %s", excerpt(r.body))
	}
	invite := func(email, role string) response {
		t.Helper()
		owner.get("/settings/team")
		return owner.post("/settings/team/invite", url.Values{"email": {email}, "role": {role}})
	}
	if r := invite("adam@seats.test", "admin"); r.status != http.StatusSeeOther {
		t.Fatalf("second seat: %d %s", r.status, excerpt(r.body))
	}
	r := invite("bob@seats.test", "agent")
	if r.status != http.StatusPaymentRequired || !strings.Contains(r.body, "The Free plan includes 2 seats, and all are taken (1 member, 1 pending invitation)") {
		t.Fatalf("third seat on the free plan: %d %s", r.status, excerpt(r.body))
	}
	if mailsTagged(t, ts, "bob@seats.test", "invitation") != 0 {
		t.Fatal("a refused invitation was mailed")
	}
	if r := invite("audrey@seats.test", "auditor"); r.status != http.StatusSeeOther {
		t.Fatalf("an auditor past the seats: %d %s", r.status, excerpt(r.body))
	}
	adamToken := tokenIn(t, ts.lastMail(t, "adam@seats.test", "invitation").Text)
	accept := func(token, name string) response {
		t.Helper()
		b := ts.browser(t)
		b.get("/invitations/accept?token=" + token)
		return b.post("/invitations/accept", url.Values{"token": {token}, "full_name": {name}, "password": {"member password 1"}})
	}
	if r := accept(adamToken, "Adam Admin"); r.status != http.StatusSeeOther {
		t.Fatalf("accepting the second seat: %d %s", r.status, excerpt(r.body))
	}

	// Growth: 20 seats.
	onPlan(t, ts, org.ID, models.PlanGrowth)
	for _, who := range []string{"bob", "carol", "dan", "erin", "frank"} {
		if r := invite(who+"@seats.test", "agent"); r.status != http.StatusSeeOther {
			t.Fatalf("inviting %s on Growth: %d %s", who, r.status, excerpt(r.body))
		}
	}
	bobToken := tokenIn(t, ts.lastMail(t, "bob@seats.test", "invitation").Text)

	// Back on the free plan (the subscription ended), bob's link finds no seat.
	onPlan(t, ts, org.ID, "")
	r = accept(bobToken, "Bob Agent")
	if r.status != http.StatusPaymentRequired || !strings.Contains(r.body, "has no free seat") {
		t.Fatalf("accepting past the seats: %d %s", r.status, excerpt(r.body))
	}
	var bob int64
	ts.db.Model(&models.Account{}).Where("email_index = ?", ts.db.Keys.BlindIndex("bob@seats.test")).Count(&bob)
	if bob != 0 {
		t.Fatal("an account was created past the seats")
	}
	// The link stays valid: with a seat again, it works.
	onPlan(t, ts, org.ID, models.PlanGrowth)
	for _, who := range []struct{ token, name string }{
		{bobToken, "Bob Agent"},
		{tokenIn(t, ts.lastMail(t, "carol@seats.test", "invitation").Text), "Carol Agent"},
		{tokenIn(t, ts.lastMail(t, "dan@seats.test", "invitation").Text), "Dan Agent"},
		{tokenIn(t, ts.lastMail(t, "erin@seats.test", "invitation").Text), "Erin Agent"},
	} {
		if r := accept(who.token, who.name); r.status != http.StatusSeeOther {
			t.Fatalf("%s accepting on Growth: %d %s", who.name, r.status, excerpt(r.body))
		}
	}

	// An auditor made an agent takes a seat: refused while none is free.
	onPlan(t, ts, org.ID, "")
	audreyToken := tokenIn(t, ts.lastMail(t, "audrey@seats.test", "invitation").Text)
	if r := accept(audreyToken, "Audrey Auditor"); r.status != http.StatusSeeOther {
		t.Fatalf("an auditor joining past the seats: %d %s", r.status, excerpt(r.body))
	}
	audrey := accountByEmail(t, ts, "audrey@seats.test")
	owner.get("/settings/team")
	r = owner.post(fmt.Sprintf("/settings/team/%d/role", audrey.ID), url.Values{"role": {models.RoleAgent}})
	if r.status != http.StatusPaymentRequired || !strings.Contains(r.body, "An auditor takes no seat, but an agent does") {
		t.Fatalf("auditor to agent past the seats: %d %s", r.status, excerpt(r.body))
	}
	if got := accountByEmail(t, ts, "audrey@seats.test"); got.Role != models.RoleAuditor {
		t.Fatalf("the role changed anyway: %s", got.Role)
	}
	onPlan(t, ts, org.ID, models.PlanGrowth)

	// Six members take a seat: Starter (5) cannot be chosen; nothing reaches Stripe.
	owner.get("/billing")
	r = owner.post("/billing/plan", url.Values{"plan": {models.PlanStarter}})
	if r.status != http.StatusConflict || !strings.Contains(r.body, "The Starter plan includes 5 seats, but 6 members of the team take one") {
		t.Fatalf("downgrading below the team: %d %s", r.status, excerpt(r.body))
	}
	if r := owner.get("/billing"); !strings.Contains(r.body, "6 + 1 invited") {
		t.Fatalf("billing page seats: %s", excerpt(r.body))
	}
}

// Conversations: past the month's limit the widget refuses a new
// conversation with 402 and a message for the visitor; started
// conversations go on; the owner is told once; operators see why in the
// inbox; a larger plan lifts the limit at once, and the next month starts
// from zero.
func TestWidgetConversationLimit(t *testing.T) {
	w := newWidgetWorld(t)
	ts := w.ts
	ts.srv.Cancellations = &fakeCancellations{st: ts.srv.Store}
	withBilling(t, ts)
	now := ts.clock()
	// Earlier this month the organization started 98 conversations.
	if err := ts.db.Create(&models.ConversationUsage{OrganizationID: w.org.ID, Month: now.UTC().Format("2006-01"), Started: 98, UpdatedAt: now}).Error; err != nil {
		t.Fatal(err)
	}
	v := w.visitor(t)
	v.boot(widgetSite + "/")
	first := v.start("Number 99")
	v2 := w.visitor(t)
	v2.boot(widgetSite + "/")
	v2.start("Number 100")

	r := v.call(http.MethodPost, "/conversations", map[string]string{"body": "Number 101"})
	if r.status != http.StatusPaymentRequired || r.errorText(t) != widget.ConversationLimitMessage {
		t.Fatalf("past the limit: %d %s", r.status, r.body)
	}
	if r := v.upload("/conversations", map[string]string{"body": "with a file"}, "note.txt", []byte("hello")); r.status != http.StatusPaymentRequired {
		t.Fatalf("a file past the limit: %d %s", r.status, r.body)
	}
	var convs int64
	ts.db.Model(&models.Conversation{}).Where("organization_id = ?", w.org.ID).Count(&convs)
	if convs != 2 {
		t.Fatalf("%d conversations written", convs)
	}
	if n, _ := models.ConversationsStarted(context.Background(), ts.db.DB, w.org.ID, now); n != 100 {
		t.Fatalf("counted %d", n)
	}
	// A started conversation goes on.
	if r := v.call(http.MethodPost, fmt.Sprintf("/conversations/%d/messages", first), map[string]string{"body": "Still here"}); r.status != http.StatusCreated {
		t.Fatalf("a message in a started conversation: %d %s", r.status, r.body)
	}
	billingEventually(t, 10*time.Second, "the owner is told", func() bool {
		return mailsTagged(t, ts, "olivia@acme.test", "billing_conversation_limit") == 1
	})
	notice := ts.lastMail(t, "olivia@acme.test", "billing_conversation_limit")
	if !strings.Contains(notice.Text, "the 100 conversations its Free plan includes") || !strings.Contains(notice.Text, "/billing") {
		t.Fatalf("notice: %s", notice.Text)
	}
	v2.call(http.MethodPost, "/conversations", map[string]string{"body": "Again"})
	time.Sleep(200 * time.Millisecond) // a second mail would be on its way
	if n := mailsTagged(t, ts, "olivia@acme.test", "billing_conversation_limit"); n != 1 {
		t.Fatalf("%d notices in one month", n)
	}
	if r := w.owner.get("/inbox"); !strings.Contains(r.body, `data-testid="inbox-limit-notice"`) || !strings.Contains(r.body, "100 conversations of the Free plan are used") {
		t.Fatalf("inbox without the limit notice: %s", excerpt(r.body))
	}
	if r := w.owner.get("/billing"); !strings.Contains(r.body, `data-testid="conversation-limit-reached"`) {
		t.Fatalf("billing page without the limit: %s", excerpt(r.body))
	}
	// A new visitor's widget knows before anything is typed.
	newcomer := w.visitor(t)
	if s := newcomer.boot(widgetSite + "/"); s["accepting_conversations"] != false {
		t.Fatalf("session at the limit: accepting_conversations = %v", s["accepting_conversations"])
	}

	// Growth: 20,000 a month, at once.
	onPlan(t, ts, w.org.ID, models.PlanGrowth)
	if s := newcomer.boot(widgetSite + "/"); s["accepting_conversations"] != true {
		t.Fatalf("session on Growth: accepting_conversations = %v", s["accepting_conversations"])
	}
	v.start("On Growth now")
	if r := w.owner.get("/inbox"); strings.Contains(r.body, "inbox-limit-notice") {
		t.Fatal("the inbox still says the limit is reached")
	}

	// Next month, on the free plan again, counting starts from zero.
	onPlan(t, ts, w.org.ID, "")
	ts.advance(models.NextMonth(now).Sub(now) + time.Minute)
	v2.start("A new month")
	if n, _ := models.ConversationsStarted(context.Background(), ts.db.DB, w.org.ID, ts.clock()); n != 1 {
		t.Fatalf("the new month counted %d", n)
	}
}

// Email is never refused for the plan's limit, because the mail was
// accepted already; it counts.
func TestInboundMailPastTheConversationLimit(t *testing.T) {
	ts := newEmailServer(t, nil)
	withBilling(t, ts.testServer)
	_, org := ts.customer(t, "owner@acme.test", "Acme", "support@acme.test")
	now := ts.clock()
	if err := ts.db.Create(&models.ConversationUsage{OrganizationID: org.ID, Month: now.UTC().Format("2006-01"), Started: 100, UpdatedAt: now}).Error; err != nil {
		t.Fatal(err)
	}
	r := ts.inbound(t, fixture(t, "plain.json", map[string]string{"SUPPORT": "support@acme.test"}))
	if r.status != http.StatusOK || !strings.Contains(r.body, `"status":"received"`) {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if len(ts.conversations(t, org.ID)) != 1 {
		t.Fatal("the mail started no conversation")
	}
	if n, _ := models.ConversationsStarted(context.Background(), ts.db.DB, org.ID, now); n != 101 {
		t.Fatalf("counted %d", n)
	}
}

// Where billing is off there are no plans to buy, so no limits.
func TestNoPlanLimitsWithoutBilling(t *testing.T) {
	w := newWidgetWorld(t)
	now := w.ts.clock()
	w.ts.db.Create(&models.ConversationUsage{OrganizationID: w.org.ID, Month: now.UTC().Format("2006-01"), Started: 5000, UpdatedAt: now})
	v := w.visitor(t)
	if s := v.boot(widgetSite + "/"); s["accepting_conversations"] != true {
		t.Fatalf("without billing: accepting_conversations = %v", s["accepting_conversations"])
	}
	v.start("Self-hosted, no limit")
	for _, who := range []string{"a", "b", "c"} {
		w.owner.get("/settings/team")
		if r := w.owner.post("/settings/team/invite", url.Values{"email": {who + "@acme.test"}, "role": {"agent"}}); r.status != http.StatusSeeOther {
			t.Fatalf("invite without billing: %d %s", r.status, excerpt(r.body))
		}
	}
	if r := w.owner.get("/settings/team"); strings.Contains(r.body, "team-seats") {
		t.Fatal("the team page counts seats without billing")
	}
}
