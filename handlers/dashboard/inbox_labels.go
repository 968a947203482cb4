package dashboard

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// Labels: owners and admins name them (Settings › Labels, labels_manage);
// everyone who uses the inbox puts them on conversations, takes them off,
// and filters the list by one (?label=ID).

func (h *Handler) labelsPage(c *gin.Context) {
	list, err := h.Store.Labels(c, site.CurrentOrg(c).ID)
	if err != nil {
		h.Internal(c, err)
		return
	}
	h.Render(c, http.StatusOK, "labels", h.Page(c, "Labels", "inbox", gin.H{"List": list, "Max": models.LabelNameMax}))
}

func (h *Handler) createLabel(c *gin.Context) {
	name := strings.Join(strings.Fields(c.PostForm("name")), " ")
	switch {
	case name == "" || !utf8.ValidString(name):
		h.Fail(c, http.StatusUnprocessableEntity, "Labels", "Name the label.")
		return
	case utf8.RuneCountInString(name) > models.LabelNameMax:
		h.Fail(c, http.StatusUnprocessableEntity, "Labels", "A label's name is at most 40 characters.")
		return
	}
	if _, err := h.Store.CreateLabel(c, site.CurrentOrg(c).ID, name, h.Now()); err != nil {
		if errors.Is(err, store.ErrDuplicateKey) {
			h.Fail(c, http.StatusConflict, "Labels", "There is already a label with this name.")
			return
		}
		h.Internal(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/settings/labels")
}

func (h *Handler) deleteLabel(c *gin.Context) {
	l, ok := site.OwnRow(h.Site, c, "label", h.Store.Label)
	if !ok {
		return
	}
	deleted, err := h.Store.DeleteLabel(c, site.CurrentOrg(c).ID, l.ID)
	if err != nil {
		h.Internal(c, err)
		return
	}
	if !deleted {
		h.Fail(c, http.StatusNotFound, "Not found", "There is no such label.")
		return
	}
	c.Redirect(http.StatusSeeOther, "/settings/labels")
}

// inboxLabel adds (add true) or removes the form's label on the
// conversation of the path; both must be the operator's organization's.
func (h *Handler) inboxLabel(c *gin.Context, add bool) {
	org := site.CurrentOrg(c)
	conv, ok := h.inboxConversation(c)
	if !ok {
		return
	}
	labelID, err := strconv.ParseUint(strings.TrimSpace(c.PostForm("label")), 10, 64)
	if err != nil {
		h.Fail(c, http.StatusUnprocessableEntity, "Labels", "Choose a label.")
		return
	}
	if add {
		err = h.Store.AddConversationLabel(c, org.ID, conv.ID, labelID)
	} else {
		err = h.Store.RemoveConversationLabel(c, org.ID, conv.ID, labelID)
	}
	if errors.Is(err, store.ErrNotFound) {
		h.Fail(c, http.StatusNotFound, "Labels", "There is no such label.")
		return
	}
	if err != nil {
		h.Internal(c, err)
		return
	}
	if !site.WantsJSON(c) {
		c.Redirect(http.StatusSeeOther, inboxReturnTo(c, conv.ID))
		return
	}
	conv, err = h.Store.Conversation(c, org.ID, conv.ID)
	if err != nil {
		h.Internal(c, err)
		return
	}
	item, err := h.inboxItem(c, org.ID, conv)
	if err != nil {
		h.Internal(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"conversation": item})
}

// inboxBulkMax bounds one bulk action (a list page is 50).
const inboxBulkMax = 100

// inboxBulk resolves, or assigns (assignee: "me", a teammate's ID, or ""
// for nobody), the checked conversations of the list. Every ID must be
// the organization's: one that is not refuses the whole action (404)
// before anything changes.
func (h *Handler) inboxBulk(c *gin.Context) {
	a, org := site.CurrentAccount(c), site.CurrentOrg(c)
	raw := c.PostFormArray("ids")
	if len(raw) == 0 {
		h.Fail(c, http.StatusUnprocessableEntity, "Inbox", "Check at least one conversation.")
		return
	}
	if len(raw) > inboxBulkMax {
		h.Fail(c, http.StatusUnprocessableEntity, "Inbox", "Choose at most 100 conversations at once.")
		return
	}
	convs := make([]*models.Conversation, 0, len(raw))
	for _, v := range raw {
		id, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			h.Fail(c, http.StatusUnprocessableEntity, "Inbox", "ids must be conversation IDs.")
			return
		}
		conv, ok := h.inboxConversationByID(c, id)
		if !ok {
			return
		}
		convs = append(convs, conv)
	}
	var signal string
	var arg any
	switch c.PostForm("action") {
	case "resolve":
		signal = workflows.SignalResolve
	case "assign":
		assignee, ok := h.assigneeOf(c, a.ID, org.ID)
		if !ok {
			return
		}
		signal, arg = workflows.SignalAssign, workflows.AssignSignal{AssigneeID: assignee}
	default:
		h.Fail(c, http.StatusUnprocessableEntity, "Inbox", "Choose an action: resolve or assign.")
		return
	}
	for _, conv := range convs {
		if err := h.Conversations.SetState(c, org, conv, signal, arg); err != nil {
			h.Internal(c, err)
			return
		}
	}
	if site.WantsJSON(c) {
		c.JSON(http.StatusOK, gin.H{"changed": len(convs)})
		return
	}
	to := "/inbox"
	st, as := c.PostForm("status"), c.PostForm("assignment")
	if contains(inboxStatuses, st) && contains(inboxAssignments, as) {
		to += "?" + inboxFilter{Status: st, Assignment: as}.Query()
	}
	c.Redirect(http.StatusSeeOther, to)
}
