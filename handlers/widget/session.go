package widget

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/conversation"
	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/internal/mail"
	"github.com/convot/convot/internal/realtime"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
)

// Bounds of what a session records and lists.
const (
	operatorOnlineFor      = time.Minute // an inbox socket reported in within it
	maxPageURL             = 2000
	maxUserAgent           = 500
	maxConversationsListed = 50
)

// Views the visitor receives.
type contactView struct {
	ID         uint64 `json:"id"`
	Name       string `json:"name"`
	Email      string `json:"email"`
	Identified bool   `json:"identified"` // the Customer's site identified them (external ID)
}

type settingsView struct {
	Color                string `json:"color"`
	Greeting             string `json:"greeting"`
	IdentityVerification bool   `json:"identity_verification"`
	// AutomatedAnswers: the organization's bot answers visitors (Settings
	// → AI); the widget offers "Talk to a person" while it does.
	AutomatedAnswers bool `json:"automated_answers"`
}

type sessionView struct {
	Token           string       `json:"token,omitempty"`
	Contact         contactView  `json:"contact"`
	Settings        settingsView `json:"settings"`
	OperatorsOnline bool         `json:"operators_online"`
	// AcceptingConversations is false while the organization's plan has
	// no conversations left this month: a visitor without one cannot
	// start one (POST /conversations answers 402).
	AcceptingConversations bool                        `json:"accepting_conversations"`
	Conversations          []realtime.ConversationView `json:"conversations"`
	Merged                 bool                        `json:"merged,omitempty"`
	// ProofNeeded: the visitor named an address or ID another contact
	// holds, without identity verification; its history is shown after
	// the code mailed to it is entered (POST /identify/code, /confirm).
	ProofNeeded bool `json:"proof_needed,omitempty"`
}

func newContactView(ct *models.Contact) contactView {
	return contactView{ID: ct.ID, Name: ct.Name, Email: ct.Email, Identified: ct.ExternalID != ""}
}

func settingsOf(org *models.Organization) settingsView {
	color := org.WidgetColor
	if !site.ValidColor(color) {
		color = models.DefaultWidgetColor
	}
	return settingsView{Color: color, Greeting: org.WidgetGreeting, IdentityVerification: org.IdentityVerification,
		AutomatedAnswers: slices.Contains(models.AIFeaturesOn(org.AISettings), models.AIFeatureAutomatedAnswer)}
}

// sessionOf is what the widget needs to show a visitor their chat.
func (h *Handler) sessionOf(ctx context.Context, org *models.Organization, ct *models.Contact) (*sessionView, error) {
	online, err := h.operatorsOnline(ctx, org.ID)
	if err != nil {
		return nil, err
	}
	convs, err := h.visitorConversations(ctx, org.ID, ct.ID)
	if err != nil {
		return nil, err
	}
	accepting, err := h.Plans.AcceptingConversations(ctx, org)
	if err != nil {
		return nil, err
	}
	return &sessionView{Contact: newContactView(ct), Settings: settingsOf(org), OperatorsOnline: online,
		AcceptingConversations: accepting, Conversations: convs, ProofNeeded: ct.ClaimedContactID != 0}, nil
}

// anonymousSession is what a visitor who has not written yet sees: no
// contact exists for them.
func (h *Handler) anonymousSession(ctx context.Context, org *models.Organization) (*sessionView, error) {
	online, err := h.operatorsOnline(ctx, org.ID)
	if err != nil {
		return nil, err
	}
	accepting, err := h.Plans.AcceptingConversations(ctx, org)
	if err != nil {
		return nil, err
	}
	return &sessionView{Settings: settingsOf(org), OperatorsOnline: online, AcceptingConversations: accepting,
		Conversations: []realtime.ConversationView{}}, nil
}

// operatorsOnline: an operator's inbox socket reported in within a minute.
func (h *Handler) operatorsOnline(ctx context.Context, orgID uint64) (bool, error) {
	return h.Store.OperatorsOnline(ctx, orgID, h.Now().UTC().Add(-operatorOnlineFor))
}

func (h *Handler) visitorConversations(ctx context.Context, orgID, contactID uint64) ([]realtime.ConversationView, error) {
	convs, err := h.Store.ContactConversations(ctx, orgID, contactID, 0, maxConversationsListed)
	if err != nil {
		return nil, err
	}
	views := make([]realtime.ConversationView, 0, len(convs))
	for i := range convs {
		views = append(views, conversation.NewConversationView(&convs[i]))
	}
	return views, nil
}

type sessionRequest struct {
	PageURL  string `json:"page_url"`
	Language string `json:"language"`
	// PreferredLanguage is the language the visitor chose in the widget,
	// kept in their browser's local storage (policy §5 preference entry);
	// it wins over the browser's.
	PreferredLanguage string `json:"preferred_language"`
	// Create asks for a contact and its token. The widget sends it only
	// when the visitor first writes, leaves an email address or is
	// identified: opening a page with the widget creates nothing (policy
	// §2.2, minimal collection).
	Create bool `json:"create"`
}

// technicalInfo is what policy §2.2 lists of a visitor's browser.
type technicalInfo struct {
	IP, UserAgent, Language, PageURL, DeviceType, Country string
}

func (h *Handler) technicalInfoOf(c *gin.Context, req sessionRequest) technicalInfo {
	ua := site.TruncateRunes(c.Request.UserAgent(), maxUserAgent)
	_, _, device := site.DescribeUserAgent(ua)
	ip := c.ClientIP()
	lang := browserLanguage(req.PreferredLanguage)
	if lang == "" {
		lang = browserLanguage(c.GetHeader("Accept-Language"))
	}
	if lang == "" {
		lang = browserLanguage(req.Language)
	}
	return technicalInfo{IP: ip, UserAgent: ua, Language: lang, PageURL: cleanPageURL(req.PageURL), DeviceType: device, Country: h.GeoIP().Country(ip)}
}

func (t technicalInfo) applyTo(ct *models.Contact, now time.Time) {
	ct.IP, ct.UserAgent, ct.BrowserLanguage, ct.DeviceType, ct.Country = t.IP, t.UserAgent, t.Language, t.DeviceType, t.Country
	if t.PageURL != "" {
		ct.PageURL = t.PageURL
	}
	ct.LastSeenAt = &now
}

var technicalColumns = []string{"ip", "user_agent", "browser_language", "page_url", "device_type", "country", "last_seen_at", "updated_at"}

// browserLanguage keeps the first language tag of an Accept-Language
// header (or navigator.language): "de-DE,de;q=0.9" → "de-DE".
func browserLanguage(h string) string {
	first, _, _ := strings.Cut(h, ",")
	first, _, _ = strings.Cut(first, ";")
	first = strings.TrimSpace(first)
	if first == "" || first == "*" || len(first) > 35 {
		return ""
	}
	for _, r := range first {
		if r != '-' && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return ""
		}
	}
	return first
}

// cleanPageURL keeps the page's address without query, fragment or
// credentials (which may carry tokens of the Customer's site).
func cleanPageURL(raw string) string {
	raw = strings.TrimSpace(raw)
	if raw == "" || len(raw) > 4*maxPageURL {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	u.RawQuery, u.Fragment, u.User, u.RawFragment, u.ForceQuery = "", "", nil, "", false
	out := u.String()
	if len(out) > maxPageURL || !utf8.ValidString(out) {
		return ""
	}
	return out
}

// session starts or resumes a visitor's session.
func (h *Handler) session(c *gin.Context) {
	org := orgOf(c)
	var req sessionRequest
	if !h.readJSON(c, &req, true) {
		return
	}
	info := h.technicalInfoOf(c, req)
	now := h.Now().UTC()
	var contact models.Contact
	newToken := ""
	token := visitorTokenFrom(c.Request)
	switch {
	case token != "":
		vt, ok := h.authenticateVisitor(c, org, token)
		if !ok {
			return
		}
		ct, err := h.Store.Contact(c, org.ID, vt.ContactID)
		if errors.Is(err, store.ErrNotFound) {
			apiError(c, http.StatusUnauthorized, badVisitorToken)
			return
		}
		if err != nil {
			apiInternal(c, err)
			return
		}
		contact = *ct
		info.applyTo(&contact, now)
		if err := h.Store.SaveContactFields(c, org.ID, &contact, technicalColumns...); err != nil {
			apiInternal(c, err)
			return
		}
	case !req.Create:
		// A page view: the team's settings and presence, and nothing of
		// the visitor is recorded.
		view, err := h.anonymousSession(c, org)
		if err != nil {
			apiInternal(c, err)
			return
		}
		c.JSON(http.StatusOK, view)
		return
	default:
		if !h.allow(c, h.Limiters.NewVisitors, "ip:"+c.ClientIP()) {
			return
		}
		newToken = crypto.RandomToken(visitorTokenBytes)
		contact = models.Contact{OrganizationID: org.ID}
		info.applyTo(&contact, now)
		err := h.Store.Tx(c, func(tx *store.Store) error {
			if err := tx.CreateContact(c, &contact); err != nil {
				return err
			}
			return tx.CreateVisitorToken(c, &models.VisitorToken{OrganizationID: org.ID, ContactID: contact.ID,
				TokenHash: crypto.HashToken(newToken), CreatedAt: now, LastSeenAt: now})
		})
		if err != nil {
			apiInternal(c, err)
			return
		}
	}
	view, err := h.sessionOf(c, org, &contact)
	if err != nil {
		apiInternal(c, err)
		return
	}
	view.Token = newToken
	c.JSON(http.StatusOK, view)
}

// status says whether an operator is online (no visitor token needed).
func (h *Handler) status(c *gin.Context) {
	if !h.allow(c, h.Limiters.Requests, "ip:"+c.ClientIP()) {
		return
	}
	online, err := h.operatorsOnline(c, orgOf(c).ID)
	if err != nil {
		apiInternal(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"operators_online": online})
}

// conversationList lists the visitor's conversations, most recent first.
func (h *Handler) conversationList(c *gin.Context) {
	convs, err := h.visitorConversations(c, orgOf(c).ID, visitorOf(c).ContactID)
	if err != nil {
		apiInternal(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"conversations": convs})
}

type emailRequest struct {
	Email string `json:"email"`
}

// email keeps the address a visitor leaves when no operator is
// online, so that the reply can reach them. It never merges contacts:
// only identify, from the Customer's site, does.
func (h *Handler) email(c *gin.Context) {
	org, vt := orgOf(c), visitorOf(c)
	var req emailRequest
	if !h.readJSON(c, &req, false) {
		return
	}
	email, err := mail.CanonicalAddress(req.Email)
	if err != nil {
		apiError(c, http.StatusUnprocessableEntity, err.Error())
		return
	}
	contact, ok := h.visitorContact(c, org, vt)
	if !ok {
		return
	}
	if contact.ExternalID != "" && contact.Email != "" && !strings.EqualFold(contact.Email, email) {
		apiError(c, http.StatusConflict, "This visitor is signed in on this site; their email address comes from there.")
		return
	}
	previous := contact.Email
	contact.Email = email
	contact.UpdatedAt = h.Now().UTC()
	err = h.Store.SaveContactFields(c, org.ID, contact, "email", "email_index", "updated_at")
	if errors.Is(err, store.ErrContactEmailHeld) {
		// Another contact holds the address: like identify, this is only
		// a claim until the address is proven.
		contact.Email = previous
		err = h.claimHeldAddress(c, org, contact, email)
	}
	if err != nil {
		apiInternal(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"contact": newContactView(contact), "proof_needed": contact.ClaimedContactID != 0})
}

// claimHeldAddress records that the visitor's contact claims the contact
// holding email.
func (h *Handler) claimHeldAddress(ctx context.Context, org *models.Organization, contact *models.Contact, email string) error {
	holder, err := h.Store.ContactByEmail(ctx, org.ID, email, contact.ID, true)
	if err != nil {
		return err
	}
	return h.Contacts.Claim(ctx, org, contact, holder)
}
