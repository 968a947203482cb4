package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/conversation"
	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/internal/realtime"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// The operator inbox: the organization's conversations, one conversation
// with its messages and its contact, the composer, and the state changes
// (assign, snooze, resolve, reopen, wait on the contact). Every page works without JavaScript;
// inbox.js adds the live socket. Everything is scoped by the operator's
// organization: another organization's conversation is 404.

const (
	inboxPageSize      = 50  // conversations per list page
	inboxMessageWindow = 200 // messages a conversation page shows (the latest)
	inboxMessagesMax   = 500 // messages one JSON answer holds
)

// Filters of the conversation list.
var (
	inboxStatuses    = []string{models.ConversationOpen, models.ConversationPending, models.ConversationSnoozed, models.ConversationResolved}
	inboxAssignments = []string{"mine", "unassigned", "all"}
)

// inboxFilter is the list's selection: a status and an assignment.
type inboxFilter struct {
	Status     string
	Assignment string
}

func (f inboxFilter) Query() string {
	return url.Values{"status": {f.Status}, "assignment": {f.Assignment}}.Encode()
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
		h.Fail(c, http.StatusBadRequest, "Inbox", "Unknown status: choose open, pending, snoozed or resolved.")
		return f, false
	}
	if !contains(inboxAssignments, f.Assignment) {
		h.Fail(c, http.StatusBadRequest, "Inbox", "Unknown assignment: choose mine, unassigned or all.")
		return f, false
	}
	return f, true
}

// InboxItem is a conversation as the list shows it.
type InboxItem struct {
	ID            uint64     `json:"id"`
	ContactID     uint64     `json:"contact_id"`
	Contact       string     `json:"contact"` // name, email or "Visitor #id"
	Subject       string     `json:"subject,omitempty"`
	Channel       string     `json:"channel"`
	Status        string     `json:"status"`
	AssigneeID    uint64     `json:"assignee_id"`
	Assignee      string     `json:"assignee"`
	SnoozedUntil  *time.Time `json:"snoozed_until,omitempty"`
	LastMessageAt time.Time  `json:"last_message_at"`
	Unread        int64      `json:"unread"`
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
	q := store.ConversationQuery{Status: f.Status, Offset: page * inboxPageSize, Limit: inboxPageSize + 1}
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

// inboxItemsOf describes conversations of one organization for the list.
// InboxItem is one conversation as the list shows it, for answers about
// that conversation alone.
func (h *Handler) InboxItem(ctx context.Context, orgID uint64, conv *models.Conversation) (InboxItem, error) {
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
	for i := range convs {
		cv := &convs[i]
		ct := byID[cv.ContactID]
		if ct == nil {
			ct = &models.Contact{ID: cv.ContactID}
		}
		it := InboxItem{ID: cv.ID, ContactID: cv.ContactID, Contact: ContactLabel(ct), Subject: cv.Subject,
			Channel: cv.Channel, Status: cv.Status, SnoozedUntil: cv.SnoozedUntil, LastMessageAt: cv.LastMessageAt,
			Unread: unreadOf[cv.ID]}
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
	return &inboxListPage{Filter: f, Statuses: inboxStatuses, Assignments: inboxAssignments, Items: items,
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
	c.JSON(http.StatusOK, gin.H{"status": f.Status, "assignment": f.Assignment, "conversations": list.Items, "more": list.More})
}

// inboxPathID reads a numeric path parameter; anything else is 404.
func inboxPathID(c *gin.Context, name string) (uint64, bool) {
	id, err := strconv.ParseUint(c.Param(name), 10, 64)
	return id, err == nil && id > 0
}

// inboxConversation loads the conversation of the path within the
// operator's organization; another organization's is 404.
func (h *Handler) inboxConversation(c *gin.Context) (*models.Conversation, bool) {
	id, ok := inboxPathID(c, "id")
	if !ok {
		h.Fail(c, http.StatusNotFound, "Not found", "There is no such conversation.")
		return nil, false
	}
	return h.inboxConversationByID(c, id)
}

func (h *Handler) inboxConversationByID(c *gin.Context, id uint64) (*models.Conversation, bool) {
	conv, err := h.Store.Conversation(c, site.CurrentOrg(c).ID, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		h.Fail(c, http.StatusNotFound, "Not found", "There is no such conversation.")
		return nil, false
	case err != nil:
		h.Internal(c, err)
		return nil, false
	}
	return conv, true
}

// inboxContactView is what the contact sidebar and the contact page show.
type inboxContactView struct {
	ID              uint64
	Label           string
	Name            string
	Email           string
	Phone           string
	ExternalID      string
	Custom          []inboxAttribute
	IP              string
	UserAgent       string
	Browser         string
	OS              string
	BrowserLanguage string
	PageURL         string
	DeviceType      string
	Country         string
	FirstSeen       time.Time
	LastSeen        *time.Time
}

type inboxAttribute struct{ Key, Value string }

func newInboxContactView(ct *models.Contact) inboxContactView {
	v := inboxContactView{ID: ct.ID, Label: ContactLabel(ct), Name: ct.Name, Email: ct.Email, Phone: ct.Phone,
		ExternalID: ct.ExternalID, IP: ct.IP, UserAgent: ct.UserAgent, BrowserLanguage: ct.BrowserLanguage,
		PageURL: ct.PageURL, DeviceType: ct.DeviceType, Country: ct.Country, FirstSeen: ct.CreatedAt, LastSeen: ct.LastSeenAt}
	v.Browser, v.OS, _ = site.DescribeUserAgent(ct.UserAgent)
	for k, val := range ct.CustomAttributes {
		v.Custom = append(v.Custom, inboxAttribute{k, val})
	}
	sortAttributes(v.Custom)
	return v
}

func sortAttributes(a []inboxAttribute) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j].Key < a[j-1].Key; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

// inboxContactOf loads a contact of the organization.
func (h *Handler) inboxContactOf(ctx context.Context, orgID, contactID uint64) (*models.Contact, error) {
	ct, err := h.Store.Contact(ctx, orgID, contactID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return ct, err
}

// contactConversations lists a contact's conversations, newest first.
func (h *Handler) contactConversations(ctx context.Context, orgID, contactID, except uint64, names map[uint64]string) ([]InboxItem, error) {
	convs, err := h.Store.ContactConversations(ctx, orgID, contactID, except, 50)
	if err != nil {
		return nil, err
	}
	return h.inboxItemsOf(ctx, orgID, convs, names)
}

// inboxConversationPage shows the list, one conversation and its contact.
// Opening it marks the contact's messages read.
func (h *Handler) inboxConversationPage(c *gin.Context) {
	a, org := site.CurrentAccount(c), site.CurrentOrg(c)
	conv, ok := h.inboxConversation(c)
	if !ok {
		return
	}
	f, ok := h.inboxFilterOf(c)
	if !ok {
		return
	}
	team, err := h.inboxTeammates(c, org.ID)
	if err != nil {
		h.Internal(c, err)
		return
	}
	names := teammateNames(team)
	// The latest messages: start after the one before the window.
	window, err := h.Store.LatestMessageIDs(c, org.ID, conv.ID, inboxMessageWindow+1)
	if err != nil {
		h.Internal(c, err)
		return
	}
	var after uint64
	earlier := len(window) > inboxMessageWindow
	if earlier {
		after = window[inboxMessageWindow]
	}
	msgs, err := h.Conversations.MessageViews(c, org.ID, conv.ID, true, after, inboxMessageWindow)
	if err != nil {
		h.Internal(c, err)
		return
	}
	if len(window) > 0 {
		if err := h.Conversations.MarkRead(c, org, conv, workflows.AuthorOperator, window[0]); err != nil {
			h.Internal(c, err)
			return
		}
	}
	ct, err := h.inboxContactOf(c, org.ID, conv.ContactID)
	if err != nil {
		h.Internal(c, err)
		return
	}
	if ct == nil {
		ct = &models.Contact{ID: conv.ContactID}
	}
	others, err := h.contactConversations(c, org.ID, conv.ContactID, conv.ID, names)
	if err != nil {
		h.Internal(c, err)
		return
	}
	list, err := h.inboxList(c, f, conv.ID, names)
	if err != nil {
		h.Internal(c, err)
		return
	}
	items, err := h.inboxItemsOf(c, org.ID, []models.Conversation{*conv}, names)
	if err != nil {
		h.Internal(c, err)
		return
	}
	canned, err := h.Store.CannedResponses(c, org.ID)
	if err != nil {
		h.Internal(c, err)
		return
	}
	contact := newInboxContactView(ct)
	h.Render(c, http.StatusOK, "inbox", h.Page(c, contact.Label, "inbox", gin.H{
		"List": list, "Teammates": team, "Conversation": items[0], "Messages": msgs, "Earlier": earlier,
		"Contact": contact, "Others": others, "Canned": canned, "SelfID": a.ID,
		"LimitNotice": h.Plans.ConversationLimitNotice(c, site.CurrentOrg(c)),
	}))
}

// inboxMessagesJSON answers the messages after an ID (the live view's
// catch-up after a reconnect), with the conversation's state.
func (h *Handler) inboxMessagesJSON(c *gin.Context) {
	org := site.CurrentOrg(c)
	conv, ok := h.inboxConversation(c)
	if !ok {
		return
	}
	var after uint64
	if v := c.Query("after_id"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			h.Fail(c, http.StatusBadRequest, "Bad request", "after_id must be a message ID.")
			return
		}
		after = n
	}
	limit := inboxMessagesMax
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > inboxMessagesMax {
			h.Fail(c, http.StatusBadRequest, "Bad request", "limit must be between 1 and 500.")
			return
		}
		limit = n
	}
	msgs, err := h.Conversations.MessageViews(c, org.ID, conv.ID, true, after, limit)
	if err != nil {
		h.Internal(c, err)
		return
	}
	item, err := h.InboxItem(c, org.ID, conv)
	if err != nil {
		h.Internal(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"conversation": item, "messages": msgs})
}

// inboxAttachment serves a file of a conversation of the operator's
// organization; any other is 404.
func (h *Handler) inboxAttachment(c *gin.Context) {
	org := site.CurrentOrg(c)
	conv, ok := h.inboxConversation(c)
	if !ok {
		return
	}
	id, ok := inboxPathID(c, "attachment")
	if !ok {
		h.Fail(c, http.StatusNotFound, "Not found", "There is no such file.")
		return
	}
	att, err := h.Store.Attachment(c, org.ID, conv.ID, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		h.Fail(c, http.StatusNotFound, "Not found", "There is no such file.")
		return
	case err != nil:
		h.Internal(c, err)
		return
	}
	h.ServeAttachment(c, h.Conversations, org, att)
}

// inboxPost sends an operator's reply, or a private note, with an optional
// file (multipart field "file"). JSON for fetch, a redirect for forms.
func (h *Handler) inboxPost(c *gin.Context, note bool) {
	a, org := site.CurrentAccount(c), site.CurrentOrg(c)
	conv, ok := h.inboxConversation(c)
	if !ok {
		return
	}
	var fileName string
	var fileData []byte
	if strings.HasPrefix(c.ContentType(), "multipart/form-data") {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, conversation.MaxAttachmentBytes+64<<10)
		// All in memory: a file never lands unencrypted in a temporary file.
		if err := c.Request.ParseMultipartForm(conversation.MaxAttachmentBytes + 1<<20); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				h.Fail(c, http.StatusRequestEntityTooLarge, "Too large", "The file is larger than 10 MB.")
			} else {
				h.Fail(c, http.StatusBadRequest, "Bad request", "The form could not be read.")
			}
			return
		}
		if files := c.Request.MultipartForm.File["file"]; len(files) > 0 && files[0].Filename != "" {
			name, data, err := site.ReadUpload(c)
			if err != nil {
				h.inboxPostError(c, err)
				return
			}
			fileName, fileData = name, data
		}
	}
	private := note || c.PostForm("note") != ""
	attachments := 0
	if fileData != nil {
		attachments = 1
	}
	body, err := conversation.CleanBody(c.PostForm("body"), attachments)
	if err != nil {
		h.inboxPostError(c, err)
		return
	}
	var ids []uint64
	var stored *models.Attachment
	if fileData != nil {
		stored, err = h.Conversations.StoreAttachment(c, org, conv, fileName, fileData)
		if err != nil {
			h.inboxPostError(c, err)
			return
		}
		ids = []uint64{stored.ID}
	}
	msg, atts, err := h.Conversations.Post(c, org, conv, conversation.Author{Kind: workflows.AuthorOperator, ID: a.ID}, body, private, ids)
	if err != nil {
		if stored != nil {
			// The file never joined a message: nobody will see it.
			ctx := context.WithoutCancel(c.Request.Context())
			_ = h.Conversations.DeleteAttachmentBlob(ctx, org, stored)
			_ = h.Store.DeleteUnsentAttachment(ctx, org.ID, stored.ID)
		}
		h.inboxPostError(c, err)
		return
	}
	if site.WantsJSON(c) {
		c.JSON(http.StatusCreated, gin.H{"message": h.Conversations.MessageView(c, msg, atts)})
		return
	}
	c.Redirect(http.StatusSeeOther, inboxReturnTo(c, conv.ID))
}

// inboxPostError maps what the sender must fix to a 4xx.
func (h *Handler) inboxPostError(c *gin.Context, err error) {
	var bad conversation.ErrBadMessage
	var badFile conversation.ErrBadAttachment
	switch {
	case errors.As(err, &bad):
		h.Fail(c, http.StatusUnprocessableEntity, "Message not sent", bad.Msg)
	case errors.As(err, &badFile):
		h.Fail(c, site.AttachmentStatus(badFile.Problem), "Message not sent", badFile.Msg)
	case errors.Is(err, store.ErrNotFound):
		h.Fail(c, http.StatusNotFound, "Message not sent", "The conversation no longer exists (it was erased).")
	default:
		h.Internal(c, err)
	}
}

// inboxReturnTo is the conversation page, keeping the list's filter when
// the form carried it.
func inboxReturnTo(c *gin.Context, convID uint64) string {
	to := "/inbox/conversations/" + strconv.FormatUint(convID, 10)
	st, as := c.PostForm("status"), c.PostForm("assignment")
	if contains(inboxStatuses, st) && contains(inboxAssignments, as) {
		to += "?" + inboxFilter{Status: st, Assignment: as}.Query()
	}
	return to
}

// inboxSetState applies a status or assignee change and answers with the
// conversation as the list shows it.
func (h *Handler) inboxSetState(c *gin.Context, signal string, arg any) {
	conv, ok := h.inboxConversation(c)
	if !ok {
		return
	}
	h.inboxApply(c, conv, signal, arg)
}

func (h *Handler) inboxApply(c *gin.Context, conv *models.Conversation, signal string, arg any) {
	org := site.CurrentOrg(c)
	if err := h.Conversations.SetState(c, org, conv, signal, arg); err != nil {
		h.Internal(c, err)
		return
	}
	if !site.WantsJSON(c) {
		c.Redirect(http.StatusSeeOther, inboxReturnTo(c, conv.ID))
		return
	}
	item, err := h.InboxItem(c, org.ID, conv)
	if err != nil {
		h.Internal(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"conversation": item})
}

// inboxAssign assigns to the operator ("me"), to a teammate (an account
// ID), or to nobody (empty or "0").
func (h *Handler) inboxAssign(c *gin.Context) {
	a, org := site.CurrentAccount(c), site.CurrentOrg(c)
	conv, ok := h.inboxConversation(c)
	if !ok {
		return
	}
	var assignee uint64
	switch v := strings.TrimSpace(c.PostForm("assignee")); v {
	case "", "0", "none":
	case "me":
		assignee = a.ID
	default:
		id, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			h.Fail(c, http.StatusUnprocessableEntity, "Assign", "Choose a teammate.")
			return
		}
		team, err := h.inboxTeammates(c, org.ID)
		if err != nil {
			h.Internal(c, err)
			return
		}
		if _, ok := teammateNames(team)[id]; !ok {
			h.Fail(c, http.StatusUnprocessableEntity, "Assign", "Choose a teammate who can use the inbox.")
			return
		}
		assignee = id
	}
	h.inboxApply(c, conv, workflows.SignalAssign, workflows.AssignSignal{AssigneeID: assignee})
}

// Snooze bounds.
const (
	snoozeMin = time.Minute
	snoozeMax = 366 * 24 * time.Hour
)

// inboxSnooze snoozes until a preset (1h, tomorrow 9:00, next Monday 9:00,
// in the operator's time zone) or a time ("until": a local date and time
// from a datetime-local field, or RFC 3339).
func (h *Handler) inboxSnooze(c *gin.Context) {
	a := site.CurrentAccount(c)
	conv, ok := h.inboxConversation(c)
	if !ok {
		return
	}
	until, err := snoozeUntil(h.Now(), operatorLocation(a), c.PostForm("preset"), c.PostForm("until"))
	if err != nil {
		h.Fail(c, http.StatusUnprocessableEntity, "Snooze", err.Error())
		return
	}
	h.inboxApply(c, conv, workflows.SignalSnooze, workflows.SnoozeSignal{Until: until.UTC()})
}

func operatorLocation(a *models.Account) *time.Location {
	if a.TimeZone != "" {
		if loc, err := time.LoadLocation(a.TimeZone); err == nil {
			return loc
		}
	}
	return time.UTC
}

// snoozeRefusal says why a snooze is refused, as a sentence the operator
// is shown.
type snoozeRefusal string

func (r snoozeRefusal) Error() string { return string(r) }

// snoozeUntil decides when a snooze ends.
func snoozeUntil(now time.Time, loc *time.Location, preset, until string) (time.Time, error) {
	local := now.In(loc)
	nine := func(days int) time.Time {
		d := local.AddDate(0, 0, days)
		return time.Date(d.Year(), d.Month(), d.Day(), 9, 0, 0, 0, loc)
	}
	var t time.Time
	switch preset {
	case "1h":
		t = now.Add(time.Hour)
	case "tomorrow":
		t = nine(1)
	case "next_week":
		days := (8 - int(local.Weekday())) % 7 // to next Monday
		if days == 0 {
			days = 7
		}
		t = nine(days)
	case "":
		until = strings.TrimSpace(until)
		if until == "" {
			return t, snoozeRefusal("Choose when the conversation should come back.")
		}
		var err error
		if t, err = time.Parse(time.RFC3339, until); err != nil {
			if t, err = time.ParseInLocation("2006-01-02T15:04", until, loc); err != nil {
				return t, snoozeRefusal("Give the time as YYYY-MM-DDTHH:MM.")
			}
		}
	default:
		return t, snoozeRefusal("Unknown snooze preset: choose 1h, tomorrow or next_week.")
	}
	switch {
	case t.Before(now.Add(snoozeMin)):
		return t, snoozeRefusal("Choose a time in the future.")
	case t.After(now.Add(snoozeMax)):
		return t, snoozeRefusal("Snooze for at most a year.")
	}
	return t, nil
}

// InboxClientMessage is what inbox.js sends over the socket.
type InboxClientMessage struct {
	Type           string `json:"type"` // typing, read, heartbeat
	ConversationID uint64 `json:"conversation_id"`
	MessageID      uint64 `json:"message_id"`
}

// inboxSocket carries the organization's live events to an operator, and
// the operator's typing and read state back. ?conversation=ID narrows it to
// one conversation of the organization (404 for any other).
func (h *Handler) inboxSocket(c *gin.Context) {
	a, org := *site.CurrentAccount(c), *site.CurrentOrg(c)
	var only uint64
	if v := c.Query("conversation"); v != "" {
		id, err := strconv.ParseUint(v, 10, 64)
		if err != nil || id == 0 {
			h.Fail(c, http.StatusNotFound, "Not found", "There is no such conversation.")
			return
		}
		conv, ok := h.inboxConversationByID(c, id)
		if !ok {
			return
		}
		only = conv.ID
	}
	state := &inboxSocketState{known: map[uint64]*models.Conversation{}, typed: map[uint64]time.Time{}}
	h.ServeSocket(c, h.Hub(), site.Socket{
		Topic: realtime.OrgTopic(org.ID),
		Keep: func(payload []byte) bool {
			if only == 0 {
				return true
			}
			var e struct {
				ConversationID uint64 `json:"conversation_id"`
			}
			return json.Unmarshal(payload, &e) == nil && e.ConversationID == only
		},
		OnMessage: func(ctx context.Context, data []byte) { h.inboxSocketMessage(ctx, &org, &a, state, data) },
		Heartbeat: func(ctx context.Context) { h.operatorPresent(ctx, &a, state) },
		// nil AcceptOptions: the Origin must be this host (no cross-site
		// socket rides on the session cookie).
	})
}

// inboxSocketState is one socket's memory: conversations it checked, and
// when it last announced typing in each.
type inboxSocketState struct {
	mu       sync.Mutex
	known    map[uint64]*models.Conversation
	typed    map[uint64]time.Time
	presence time.Time
}

const (
	typingEvery   = time.Second      // at most one typing event per conversation and second
	presenceEvery = 10 * time.Second // presence writes per socket
)

// operatorPresent records that the operator is online.
func (h *Handler) operatorPresent(ctx context.Context, a *models.Account, st *inboxSocketState) {
	now := h.Now().UTC()
	st.mu.Lock()
	if now.Sub(st.presence) < presenceEvery {
		st.mu.Unlock()
		return
	}
	st.presence = now
	st.mu.Unlock()
	_ = h.Store.RecordPresence(ctx, a.OrganizationID, a.ID, now) // the next heartbeat writes it again
}

func (h *Handler) inboxSocketMessage(ctx context.Context, org *models.Organization, a *models.Account, st *inboxSocketState, data []byte) {
	var m InboxClientMessage
	if json.Unmarshal(data, &m) != nil {
		return
	}
	if m.Type == "heartbeat" {
		h.operatorPresent(ctx, a, st)
		return
	}
	if m.Type != "typing" && m.Type != "read" {
		return
	}
	conv := h.socketConversation(ctx, org.ID, st, m.ConversationID)
	if conv == nil {
		return // not this organization's: nothing happens
	}
	switch m.Type {
	case "typing":
		now := h.Now()
		st.mu.Lock()
		last := st.typed[conv.ID]
		fresh := now.Sub(last) >= typingEvery
		if fresh {
			st.typed[conv.ID] = now
		}
		st.mu.Unlock()
		if fresh {
			h.Conversations.Publish(ctx, org, conv, realtime.LiveEvent{Type: "typing", ConversationID: conv.ID, AuthorType: workflows.AuthorOperator}, true)
		}
	case "read":
		upTo := m.MessageID
		if upTo == 0 {
			last, err := h.Store.LatestMessageIDs(ctx, org.ID, conv.ID, 1)
			if err != nil || len(last) == 0 {
				return
			}
			upTo = last[0]
		}
		_ = h.Conversations.MarkRead(ctx, org, conv, workflows.AuthorOperator, upTo)
	}
}

// socketConversation checks (once per socket) that a conversation is the
// organization's.
func (h *Handler) socketConversation(ctx context.Context, orgID uint64, st *inboxSocketState, id uint64) *models.Conversation {
	if id == 0 {
		return nil
	}
	st.mu.Lock()
	conv, ok := st.known[id]
	st.mu.Unlock()
	if ok {
		return conv
	}
	row, err := h.Store.ConversationHeader(ctx, orgID, id)
	if err != nil {
		return nil
	}
	st.mu.Lock()
	if len(st.known) > 1000 {
		st.known = map[uint64]*models.Conversation{}
	}
	st.known[id] = row
	st.mu.Unlock()
	return row
}
