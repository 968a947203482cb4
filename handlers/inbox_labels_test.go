package handlers

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// The list: every status, the last message as a preview, labels (made
// under Settings › Labels, put on and taken off a conversation, filtered
// by), and bulk resolve and assign; another organization's labels and
// conversations are 404 and stay as they were.
func TestInboxListLabelsAndBulk(t *testing.T) {
	ts, a := acmeInbox(t)
	ada, conv := a.conversation(t, models.Contact{Name: "Ada Lovelace"}, "Where is my order? "+strings.Repeat("long text ", 20))
	_, other := a.conversation(t, models.Contact{Name: "Grace Hopper"}, "Refund please")
	a.owner.get("/settings/labels")
	if r := a.owner.post("/settings/labels", url.Values{"name": {"  billing  "}}); r.status != http.StatusSeeOther {
		t.Fatalf("create label: %d %s", r.status, excerpt(r.body))
	}
	if r := a.owner.post("/settings/labels", url.Values{"name": {"billing"}}); r.status != http.StatusConflict {
		t.Fatalf("a duplicate label: %d", r.status)
	}
	if r := a.owner.post("/settings/labels", url.Values{"name": {strings.Repeat("x", 41)}}); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("a label too long: %d", r.status)
	}
	var billing models.Label
	if err := ts.db.Where("organization_id = ? AND name = ?", a.org.ID, "billing").First(&billing).Error; err != nil {
		t.Fatal(err)
	}
	a.owner.get(convPath(conv, ""))
	if r := a.owner.post(convPath(conv, "/labels"), url.Values{"label": {itoa(billing.ID)}}); r.status != http.StatusSeeOther {
		t.Fatalf("add label: %d %s", r.status, excerpt(r.body))
	}
	if r := a.owner.post(convPath(conv, "/labels"), url.Values{"label": {"x"}}); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("add a label that is not an ID: %d", r.status)
	}
	// The list by label, with every status, and the preview.
	r := a.owner.get("/inbox?status=all&assignment=all&label=" + itoa(billing.ID))
	if r.status != http.StatusOK || !strings.Contains(r.body, "Ada Lovelace") || strings.Contains(r.body, "Grace Hopper") {
		t.Fatalf("filtered by label: %d", r.status)
	}
	if !strings.Contains(r.body, `data-testid="conversation-item-label"`) || !strings.Contains(r.body, "Where is my order? long text") || strings.Contains(r.body, strings.Repeat("long text ", 20)) {
		t.Fatal("the list shows no label or an untruncated preview")
	}
	for q, want := range map[string]int{"status=bogus": http.StatusBadRequest, "label=x": http.StatusBadRequest, "label=999999": http.StatusNotFound} {
		if r := a.owner.get("/inbox?" + q); r.status != want {
			t.Errorf("GET /inbox?%s: %d, want %d", q, r.status, want)
		}
	}
	list := decodeJSON[struct {
		Conversations []struct {
			ID      uint64
			Preview string
			Labels  []struct{ Name string }
		}
	}](t, a.owner.fetch(http.MethodGet, "/inbox/conversations?status=all&assignment=all", "", nil))
	if len(list.Conversations) != 2 {
		t.Fatalf("all statuses: %+v", list.Conversations)
	}
	for _, c := range list.Conversations {
		if c.ID == other.ID && (c.Preview != "Refund please" || len(c.Labels) != 0) {
			t.Fatalf("other conversation in JSON: %+v", c)
		}
		if c.ID == conv.ID && (len(c.Labels) != 1 || c.Labels[0].Name != "billing") {
			t.Fatalf("labelled conversation in JSON: %+v", c)
		}
	}

	// Another organization: A's label and conversations are 404.
	b := newInboxWorld(t, ts, "boris@other.test", "Other")
	_, own := b.conversation(t, models.Contact{Name: "Bea"}, "Hi")
	b.owner.get("/settings/labels")
	if r := b.owner.post("/settings/labels/"+itoa(billing.ID)+"/delete", nil); r.status != http.StatusNotFound {
		t.Errorf("B deletes A's label: %d", r.status)
	}
	b.owner.get(convPath(own, ""))
	if r := b.owner.post(convPath(own, "/labels"), url.Values{"label": {itoa(billing.ID)}}); r.status != http.StatusNotFound {
		t.Errorf("B puts A's label on its conversation: %d", r.status)
	}
	if r := b.owner.get("/inbox?label=" + itoa(billing.ID)); r.status != http.StatusNotFound {
		t.Errorf("B filters by A's label: %d", r.status)
	}
	signals := len(ts.lifecycles.sent())
	if r := b.owner.post("/inbox/bulk", url.Values{"ids": {itoa(own.ID), itoa(conv.ID)}, "action": {"resolve"}}); r.status != http.StatusNotFound {
		t.Errorf("B bulk-resolves A's conversation: %d", r.status)
	}
	if len(ts.lifecycles.sent()) != signals {
		t.Error("a refused bulk action changed something")
	}
	if got := store.ConversationLabelIDs(reloadConversation(t, ts, conv)); len(got) != 1 {
		t.Fatalf("A's conversation labels after B: %v", got)
	}

	// Bulk: bad input is refused; assign then resolve both.
	a.owner.get("/inbox")
	for _, form := range []url.Values{{"action": {"resolve"}}, {"ids": {"x"}, "action": {"resolve"}}, {"ids": {itoa(conv.ID)}, "action": {"delete"}},
		{"ids": {itoa(conv.ID)}, "action": {"assign"}, "assignee": {"424242"}}} {
		if r := a.owner.post("/inbox/bulk", form); r.status != http.StatusUnprocessableEntity {
			t.Errorf("bulk %v: %d, want 422", form, r.status)
		}
	}
	if r := a.owner.post("/inbox/bulk", url.Values{"ids": {itoa(conv.ID), itoa(other.ID)}, "action": {"assign"}, "assignee": {"me"}}); r.status != http.StatusSeeOther {
		t.Fatalf("bulk assign: %d %s", r.status, excerpt(r.body))
	}
	if r := a.owner.post("/inbox/bulk", url.Values{"ids": {itoa(conv.ID), itoa(other.ID)}, "action": {"resolve"}, "status": {"open"}, "assignment": {"all"}}); r.status != http.StatusSeeOther || r.location != "/inbox?assignment=all&status=open" {
		t.Fatalf("bulk resolve: %d %q", r.status, r.location)
	}
	for _, c := range []*models.Conversation{conv, other} {
		got := reloadConversation(t, ts, c)
		if got.Status != models.ConversationResolved || got.AssigneeID == nil || *got.AssigneeID != a.ownerID {
			t.Errorf("conversation %d after bulk: %s %v", c.ID, got.Status, got.AssigneeID)
		}
	}

	// Remove the label; delete it.
	a.owner.get(convPath(conv, ""))
	if r := a.owner.post(convPath(conv, "/labels/remove"), url.Values{"label": {itoa(billing.ID)}}); r.status != http.StatusSeeOther {
		t.Fatalf("remove label: %d", r.status)
	}
	if got := store.ConversationLabelIDs(reloadConversation(t, ts, conv)); len(got) != 0 {
		t.Fatalf("labels after removing: %v", got)
	}
	if r := a.owner.post("/settings/labels/"+itoa(billing.ID)+"/delete", nil); r.status != http.StatusSeeOther {
		t.Fatalf("delete label: %d", r.status)
	}

	// Agents put labels on but do not manage them.
	agent := inviteAndJoin(t, ts, a.owner, "adam@acme.test", "agent")
	wantGet(t, agent, "/settings/labels", http.StatusForbidden, "agent labels page")
	_ = ada
}

// With the setting on, the first reply assigns the conversation to its
// author; operators replying at the same moment leave it assigned once, to
// one of them. A note does not assign; an assigned conversation stays.
func TestInboxAutoAssignOnFirstReply(t *testing.T) {
	ts, a := acmeInbox(t)
	agent := inviteAndJoin(t, ts, a.owner, "adam@acme.test", "agent")
	agentID := accountByEmail(t, ts, "adam@acme.test").ID
	_, off := a.conversation(t, models.Contact{Name: "Before"}, "Hi")
	a.owner.get(convPath(off, ""))
	if r := a.owner.fetchForm(convPath(off, "/reply"), url.Values{"body": {"Hello"}}); r.status != http.StatusCreated {
		t.Fatalf("reply: %d", r.status)
	}
	if got := reloadConversation(t, ts, off); got.AssigneeID != nil {
		t.Fatal("a reply assigned the conversation with the setting off")
	}
	a.owner.get("/settings/organization")
	if r := a.owner.post("/settings/organization/auto-assign", url.Values{"auto_assign_on_reply": {"1"}}); r.status != http.StatusSeeOther {
		t.Fatalf("turn on auto-assign: %d %s", r.status, excerpt(r.body))
	}
	if r := a.owner.get("/settings/organization"); !strings.Contains(r.body, `data-testid="auto-assign-toggle" checked`) {
		t.Fatal("the setting page does not show auto-assign on")
	}
	_, conv := a.conversation(t, models.Contact{Name: "Ada"}, "Hi")
	a.owner.get(convPath(conv, ""))
	agent.get(convPath(conv, ""))
	if r := a.owner.fetchForm(convPath(conv, "/note"), url.Values{"body": {"internal"}}); r.status != http.StatusCreated {
		t.Fatalf("note: %d", r.status)
	}
	if got := reloadConversation(t, ts, conv); got.AssigneeID != nil {
		t.Fatal("a private note assigned the conversation")
	}
	before := len(ts.lifecycles.sent())
	var wg sync.WaitGroup
	for _, op := range []*browser{a.owner, agent, a.owner, agent} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := op.fetchForm(convPath(conv, "/reply"), url.Values{"body": {"On it"}}); r.status != http.StatusCreated {
				t.Errorf("reply: %d %s", r.status, excerpt(r.body))
			}
		}()
	}
	wg.Wait()
	got := reloadConversation(t, ts, conv)
	if got.AssigneeID == nil || (*got.AssigneeID != a.ownerID && *got.AssigneeID != agentID) {
		t.Fatalf("after the first replies: assignee %v", got.AssigneeID)
	}
	assigns := 0
	for _, s := range ts.lifecycles.sent()[before:] {
		if s.Name == workflows.SignalAssign {
			assigns++
		}
	}
	if assigns != 1 {
		t.Fatalf("%d assignments recorded for racing first replies, want 1", assigns)
	}
	// Someone else assigned: a reply leaves it so.
	first := *got.AssigneeID
	other := a.owner
	if first == a.ownerID {
		other = agent
	}
	if r := other.fetchForm(convPath(conv, "/reply"), url.Values{"body": {"Me too"}}); r.status != http.StatusCreated {
		t.Fatalf("reply: %d", r.status)
	}
	if got := reloadConversation(t, ts, conv); *got.AssigneeID != first {
		t.Fatal("a later reply took the conversation over")
	}
}
