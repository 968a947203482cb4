package dashboard

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/conversation"
	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

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
	if !private && org.AutoAssignOnReply && conv.AssigneeID == nil {
		// The reply is committed; a failed assignment leaves it unassigned.
		if _, err := h.Conversations.AssignIfUnassigned(context.WithoutCancel(c.Request.Context()), org, conv, a.ID); err != nil {
			h.Internal(c, err)
			return
		}
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
	item, err := h.inboxItem(c, org.ID, conv)
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
	assignee, ok := h.assigneeOf(c, a.ID, org.ID)
	if !ok {
		return
	}
	h.inboxApply(c, conv, workflows.SignalAssign, workflows.AssignSignal{AssigneeID: assignee})
}

// assigneeOf reads the form's assignee: the operator ("me"), a teammate
// who can use the inbox (an account ID), or nobody (empty, "0", "none").
func (h *Handler) assigneeOf(c *gin.Context, self, orgID uint64) (uint64, bool) {
	switch v := strings.TrimSpace(c.PostForm("assignee")); v {
	case "", "0", "none":
		return 0, true
	case "me":
		return self, true
	default:
		id, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			h.Fail(c, http.StatusUnprocessableEntity, "Assign", "Choose a teammate.")
			return 0, false
		}
		team, err := h.inboxTeammates(c, orgID)
		if err != nil {
			h.Internal(c, err)
			return 0, false
		}
		if _, ok := teammateNames(team)[id]; !ok {
			h.Fail(c, http.StatusUnprocessableEntity, "Assign", "Choose a teammate who can use the inbox.")
			return 0, false
		}
		return id, true
	}
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
