package dashboard

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// Filters of the conversation list.
var (
	inboxStatuses    = []string{models.ConversationOpen, models.ConversationPending, models.ConversationSnoozed, models.ConversationResolved, inboxAllStatuses}
	inboxAssignments = []string{"mine", "unassigned", "all"}
)

// inboxAllStatuses is the status filter that keeps every status.
const inboxAllStatuses = "all"

// inboxPreviewRunes bounds the list's preview of the last message.
const inboxPreviewRunes = 90

// inboxFilter is the list's selection: a status, an assignment and
// optionally a label.
type inboxFilter struct {
	Status     string
	Assignment string
	Label      uint64
}

func (f inboxFilter) Query() string {
	v := url.Values{"status": {f.Status}, "assignment": {f.Assignment}}
	if f.Label != 0 {
		v.Set("label", strconv.FormatUint(f.Label, 10))
	}
	return v.Encode()
}

// inboxFilterOf reads the filter from the query; empty values take the
// defaults (open, all), unknown values are refused.
func (h *Handler) inboxFilterOf(c *gin.Context) (inboxFilter, bool) {
	f := inboxFilter{Status: c.DefaultQuery("status", models.ConversationOpen), Assignment: c.DefaultQuery("assignment", "all")}
	if f.Status == "" {
		f.Status = models.ConversationOpen
	}
	if f.Assignment == "" {
		f.Assignment = "all"
	}
	if !contains(inboxStatuses, f.Status) {
		h.Fail(c, http.StatusBadRequest, "Inbox", "Unknown status: choose open, pending, snoozed, resolved or all.")
		return f, false
	}
	if !contains(inboxAssignments, f.Assignment) {
		h.Fail(c, http.StatusBadRequest, "Inbox", "Unknown assignment: choose mine, unassigned or all.")
		return f, false
	}
	if v := c.Query("label"); v != "" {
		id, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			h.Fail(c, http.StatusBadRequest, "Inbox", "label must be a label's ID.")
			return f, false
		}
		if _, err := h.Store.Label(c, site.CurrentOrg(c).ID, id); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				h.Fail(c, http.StatusNotFound, "Inbox", "There is no such label.")
			} else {
				h.Internal(c, err)
			}
			return f, false
		}
		f.Label = id
	}
	return f, true
}

// InboxItem is a conversation as the list shows it.
type InboxItem struct {
	ID            uint64       `json:"id"`
	ContactID     uint64       `json:"contact_id"`
	Contact       string       `json:"contact"` // name, email or "Visitor #id"
	Subject       string       `json:"subject,omitempty"`
	Channel       string       `json:"channel"`
	Status        string       `json:"status"`
	AssigneeID    uint64       `json:"assignee_id"`
	Assignee      string       `json:"assignee"`
	SnoozedUntil  *time.Time   `json:"snoozed_until,omitempty"`
	LastMessageAt time.Time    `json:"last_message_at"`
	Unread        int64        `json:"unread"`
	Preview       string       `json:"preview"` // the last message, shortened
	Labels        []InboxLabel `json:"labels"`
	// NeedsHuman: the automated answers handed it to the team, and it is
	// not resolved.
	NeedsHuman bool `json:"needs_human,omitempty"`
}

// InboxLabel is a label as a conversation shows it.
type InboxLabel struct {
	ID   uint64 `json:"id"`
	Name string `json:"name"`
}

// messagePreview is how the list shows a conversation's last message.
func messagePreview(m models.Message, ok bool) string {
	if !ok {
		return ""
	}
	text := strings.Join(strings.Fields(m.Body), " ")
	if r := []rune(text); len(r) > inboxPreviewRunes {
		text = strings.TrimSpace(string(r[:inboxPreviewRunes-1])) + "…"
	}
	if text == "" {
		text = "(a file)"
	}
	switch {
	case m.Private:
		return "Note: " + text
	case m.AuthorType == workflows.AuthorOperator:
		return "You: " + text
	case m.AuthorType == workflows.AuthorBot:
		return "Bot: " + text
	}
	return text
}

// ContactLabel is how the inbox names a contact.
func ContactLabel(ct *models.Contact) string {
	switch {
	case ct == nil:
		return "Visitor"
	case strings.TrimSpace(ct.Name) != "":
		return ct.Name
	case ct.Email != "":
		return ct.Email
	}
	return "Visitor #" + strconv.FormatUint(ct.ID, 10)
}

// inboxTeammate is an operator a conversation can be assigned to.
type inboxTeammate struct {
	ID   uint64 `json:"id"`
	Name string `json:"name"`
}

// inboxTeammates lists the organization's operators who may use the inbox.
func (h *Handler) inboxTeammates(ctx context.Context, orgID uint64) ([]inboxTeammate, error) {
	accounts, err := h.Store.ActiveAccountNames(ctx, orgID)
	if err != nil {
		return nil, err
	}
	out := make([]inboxTeammate, 0, len(accounts))
	for _, a := range accounts {
		if !site.Can(a.Role, "inbox_use") {
			continue
		}
		name := a.FullName
		if name == "" {
			name = a.DisplayName
		}
		if name == "" {
			name = "Operator #" + strconv.FormatUint(a.ID, 10)
		}
		out = append(out, inboxTeammate{ID: a.ID, Name: name})
	}
	return out, nil
}

func teammateNames(ts []inboxTeammate) map[uint64]string {
	m := make(map[uint64]string, len(ts))
	for _, t := range ts {
		m[t.ID] = t.Name
	}
	return m
}

// inboxItems loads a page of the list, newest activity first; more is
// true when another page follows.
func (h *Handler) inboxItems(ctx context.Context, orgID, self uint64, f inboxFilter, page int, names map[uint64]string) (items []InboxItem, more bool, err error) {
	q := store.ConversationQuery{Status: f.Status, LabelID: f.Label, Offset: page * inboxPageSize, Limit: inboxPageSize + 1}
	if q.Status == inboxAllStatuses {
		q.Status = ""
	}
	switch f.Assignment {
	case "mine":
		q.AssigneeID = self
	case "unassigned":
		q.Unassigned = true
	}
	convs, err := h.Store.Conversations(ctx, orgID, q)
	if err != nil {
		return nil, false, err
	}
	if len(convs) > inboxPageSize {
		convs, more = convs[:inboxPageSize], true
	}
	items, err = h.inboxItemsOf(ctx, orgID, convs, names)
	return items, more, err
}

// inboxItem is one conversation as the list shows it, for answers about
// that conversation alone.
func (h *Handler) inboxItem(ctx context.Context, orgID uint64, conv *models.Conversation) (InboxItem, error) {
	team, err := h.inboxTeammates(ctx, orgID)
	if err != nil {
		return InboxItem{}, err
	}
	items, err := h.inboxItemsOf(ctx, orgID, []models.Conversation{*conv}, teammateNames(team))
	if err != nil {
		return InboxItem{}, err
	}
	return items[0], nil
}

// inboxItemsOf describes conversations of one organization for the list.
func (h *Handler) inboxItemsOf(ctx context.Context, orgID uint64, convs []models.Conversation, names map[uint64]string) ([]InboxItem, error) {
	items := make([]InboxItem, 0, len(convs))
	if len(convs) == 0 {
		return items, nil
	}
	convIDs := make([]uint64, 0, len(convs))
	contactIDs := make([]uint64, 0, len(convs))
	for _, cv := range convs {
		convIDs = append(convIDs, cv.ID)
		contactIDs = append(contactIDs, cv.ContactID)
	}
	contacts, err := h.Store.ContactLabels(ctx, orgID, contactIDs)
	if err != nil {
		return nil, err
	}
	byID := make(map[uint64]*models.Contact, len(contacts))
	for i := range contacts {
		byID[contacts[i].ID] = &contacts[i]
	}
	unreadOf, err := h.Store.UnreadCounts(ctx, orgID, convIDs)
	if err != nil {
		return nil, err
	}
	last, err := h.Store.LastMessages(ctx, orgID, convIDs)
	if err != nil {
		return nil, err
	}
	labels, err := h.Store.Labels(ctx, orgID)
	if err != nil {
		return nil, err
	}
	labelNames := make(map[uint64]string, len(labels))
	for _, l := range labels {
		labelNames[l.ID] = l.Name
	}
	for i := range convs {
		cv := &convs[i]
		ct := byID[cv.ContactID]
		if ct == nil {
			ct = &models.Contact{ID: cv.ContactID}
		}
		it := InboxItem{ID: cv.ID, ContactID: cv.ContactID, Contact: ContactLabel(ct), Subject: cv.Subject,
			Channel: cv.Channel, Status: cv.Status, SnoozedUntil: cv.SnoozedUntil, LastMessageAt: cv.LastMessageAt,
			Unread: unreadOf[cv.ID], Labels: []InboxLabel{},
			NeedsHuman: cv.HandedOverAt != nil && cv.Status != models.ConversationResolved}
		lm, ok := last[cv.ID]
		it.Preview = messagePreview(lm, ok)
		for _, id := range store.ConversationLabelIDs(cv) {
			if name, ok := labelNames[id]; ok {
				it.Labels = append(it.Labels, InboxLabel{ID: id, Name: name})
			}
		}
		if cv.AssigneeID != nil {
			it.AssigneeID = *cv.AssigneeID
			it.Assignee = names[it.AssigneeID]
		}
		items = append(items, it)
	}
	return items, nil
}

// inboxListPage is what the list column of a page shows.
type inboxListPage struct {
	Filter      inboxFilter
	Labels      []models.Label
	Statuses    []string
	Assignments []string
	Items       []InboxItem
	Page        int
	More        bool
	NextPage    int
	Selected    uint64
}

func (h *Handler) inboxList(c *gin.Context, f inboxFilter, selected uint64, names map[uint64]string) (*inboxListPage, error) {
	page, _ := strconv.Atoi(c.Query("page"))
	if page < 0 || page > 10000 {
		page = 0
	}
	items, more, err := h.inboxItems(c, site.CurrentOrg(c).ID, site.CurrentAccount(c).ID, f, page, names)
	if err != nil {
		return nil, err
	}
	labels, err := h.Store.Labels(c, site.CurrentOrg(c).ID)
	if err != nil {
		return nil, err
	}
	return &inboxListPage{Filter: f, Labels: labels, Statuses: inboxStatuses, Assignments: inboxAssignments, Items: items,
		Page: page, More: more, NextPage: page + 1, Selected: selected}, nil
}

// loadInboxList reads the filter and the first page of the list, answering
// the request itself when it cannot (ok is false then).
func (h *Handler) loadInboxList(c *gin.Context) (*inboxListPage, []inboxTeammate, bool) {
	f, ok := h.inboxFilterOf(c)
	if !ok {
		return nil, nil, false
	}
	team, err := h.inboxTeammates(c, site.CurrentOrg(c).ID)
	if err != nil {
		h.Internal(c, err)
		return nil, nil, false
	}
	list, err := h.inboxList(c, f, 0, teammateNames(team))
	if err != nil {
		h.Internal(c, err)
		return nil, nil, false
	}
	return list, team, true
}

func (h *Handler) inboxPage(c *gin.Context) {
	list, team, ok := h.loadInboxList(c)
	if !ok {
		return
	}
	h.Render(c, http.StatusOK, "inbox", h.Page(c, "Inbox", "inbox", gin.H{"List": list, "Teammates": team, "LimitNotice": h.Plans.ConversationLimitNotice(c, site.CurrentOrg(c))}))
}

func (h *Handler) inboxListJSON(c *gin.Context) {
	list, _, ok := h.loadInboxList(c)
	if !ok {
		return
	}
	f := list.Filter
	c.JSON(http.StatusOK, gin.H{"status": f.Status, "assignment": f.Assignment, "label": f.Label, "conversations": list.Items, "more": list.More})
}
