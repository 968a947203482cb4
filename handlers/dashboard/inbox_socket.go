package dashboard

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/internal/realtime"
	"github.com/convot/convot/models"
	"github.com/convot/convot/workflows"
)

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
	// Nobody online a moment ago: the visitors' widgets hear at once that
	// someone is now (rather than at their next status check).
	wasOnline, err := h.Store.OperatorsOnline(ctx, a.OrganizationID, now.Add(-presenceAnnounceWindow))
	if err != nil {
		return
	}
	if err := h.Store.RecordPresence(ctx, a.OrganizationID, a.ID, now); err != nil || wasOnline {
		return // the next heartbeat writes it again
	}
	ids, err := h.Store.LiveConversationIDs(ctx, a.OrganizationID, now.Add(-liveConversationWindow), liveConversationsMax)
	if err != nil {
		return
	}
	org, err := h.Store.Organization(ctx, a.OrganizationID)
	if err != nil {
		return
	}
	h.Conversations.PublishOperatorsOnline(ctx, org, ids)
}

// Presence announcements: "online" in the widget's sense (an inbox socket
// within the last minute), told to the visitors of conversations active in
// the last day, at most this many.
const (
	presenceAnnounceWindow = time.Minute
	liveConversationWindow = 24 * time.Hour
	liveConversationsMax   = 1000
)

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
