package dashboard

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/internal/realtime"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

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

// inboxContactCard answers the identifiers and custom attributes of a
// contact of the organization as JSON: what the sidebar reloads when the
// contact identifies itself while an operator looks.
func (h *Handler) inboxContactCard(c *gin.Context) {
	ct, ok := site.OwnRow(h.Site, c, "contact", h.Store.Contact)
	if !ok {
		return
	}
	v := newInboxContactView(ct)
	custom := make([]gin.H, 0, len(v.Custom))
	for _, a := range v.Custom {
		custom = append(custom, gin.H{"key": a.Key, "value": a.Value})
	}
	c.JSON(http.StatusOK, gin.H{"id": v.ID, "label": v.Label, "name": v.Name, "email": v.Email, "phone": v.Phone,
		"external_id": v.ExternalID, "custom": custom})
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
	// One event for the conversation and its contact, not one per message.
	if !h.RecordAccess(c, models.AccessConversationOpened, site.Target("conversation", conv.ID)) {
		return
	}
	team, err := h.inboxTeammates(c, org.ID)
	if err != nil {
		h.Internal(c, err)
		return
	}
	names := teammateNames(team)
	// The latest messages; older ones load as the operator scrolls back.
	msgs, err := h.Conversations.MessageViewsBefore(c, org.ID, conv.ID, true, 0, inboxMessageWindow+1)
	if err != nil {
		h.Internal(c, err)
		return
	}
	earlier := len(msgs) > inboxMessageWindow
	if earlier {
		msgs = msgs[1:]
	}
	if len(msgs) > 0 {
		if err := h.Conversations.MarkRead(c, org, conv, workflows.AuthorOperator, msgs[len(msgs)-1].ID); err != nil {
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
	summary, err := h.latestSummary(c, org.ID, conv.ID)
	if err != nil {
		h.Internal(c, err)
		return
	}
	translations, err := h.translations(c, org.ID, conv.ID)
	if err != nil {
		h.Internal(c, err)
		return
	}
	contact := newInboxContactView(ct)
	h.Render(c, http.StatusOK, "inbox", h.Page(c, contact.Label, "inbox", gin.H{"Summary": summary, "Translations": translations,
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
	// Reading a conversation from its start opens it; a catch-up after an
	// ID, or a page of older messages, reads only more of what is open.
	if _, older := c.GetQuery("before_id"); after == 0 && !older && !h.RecordAccess(c, models.AccessConversationOpened, site.Target("conversation", conv.ID)) {
		return
	}
	var msgs []realtime.MessageView
	var err error
	more := false
	if v, older := c.GetQuery("before_id"); older {
		// A page of older messages, scrolling back from before_id.
		before, perr := strconv.ParseUint(v, 10, 64)
		if perr != nil || after != 0 {
			h.Fail(c, http.StatusBadRequest, "Bad request", "before_id must be a message ID, without after_id.")
			return
		}
		if msgs, err = h.Conversations.MessageViewsBefore(c, org.ID, conv.ID, true, before, limit+1); err == nil && len(msgs) > limit {
			msgs, more = msgs[1:], true
		}
	} else {
		msgs, err = h.Conversations.MessageViews(c, org.ID, conv.ID, true, after, limit)
	}
	if err != nil {
		h.Internal(c, err)
		return
	}
	item, err := h.inboxItem(c, org.ID, conv)
	if err != nil {
		h.Internal(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"conversation": item, "messages": msgs, "has_more": more})
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
	if att, ok = site.Found(h.Site, c, "file", att, err); !ok {
		return
	}
	if !h.RecordAccess(c, models.AccessAttachmentDownloaded, site.Target("attachment", att.ID)) {
		return
	}
	h.ServeAttachment(c, h.Conversations, org, att)
}
