package widget

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/contacts"
	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/internal/mail"
	"github.com/convot/convot/models"
)

// Identify: the Customer's site tells the widget who the visitor is (name,
// email, phone, external user ID, custom attributes; policy §2.2
// identifiers). With identity verification on, the site's server signs
// the user: user_hash = hex(HMAC-SHA256(identity secret, external_id, or
// email when there is none)), so that nobody can claim to be someone else
// from the browser console.
//
// Who the visitor becomes:
//   - without identity verification, naming a known contact (same
//     external ID, else same email) is only a claim (package contacts):
//     the visitor keeps a contact of its own (a new one if it was someone
//     else), which records the claim and takes the name, phone and
//     attributes sent but not the address or ID; the known contact's
//     history is joined only once the visitor enters the code mailed to
//     its address (POST /identify/code, /identify/confirm) or an operator
//     merges the two. With verification on:
//   - an anonymous visitor (no external ID) naming a known contact (same
//     external ID, else same email) is merged into it: conversations,
//     messages, attachments and tokens move, re-sealed under the known
//     contact's data key; the anonymous contact's key is destroyed;
//   - a visitor already identified as someone else, naming a known
//     contact, switches to it (this browser's token moves; the previous
//     person's conversations stay theirs);
//   - naming nobody known, the visitor's contact is updated, or, if it was
//     identified as someone else, a new contact is made for this browser.

// Bounds of identify's fields (MaxContactName and MaxCustomAttributes are
// exported for the API tests, which send one more).
const (
	MaxContactName      = 200
	maxContactPhone     = 50
	maxExternalID       = 200
	MaxCustomAttributes = 50
	maxCustomAttrKey    = 100
	maxCustomAttrValue  = 1000
)

type identifyRequest struct {
	Name             string         `json:"name"`
	Email            string         `json:"email"`
	Phone            string         `json:"phone"`
	ExternalID       string         `json:"external_id"`
	CustomAttributes map[string]any `json:"custom_attributes"`
	UserHash         string         `json:"user_hash"`
}

// identity is an identify request, checked. Empty fields are left as they
// are; an attribute set to nil is removed.
type identity struct {
	name, email, phone, externalID string
	signedSubject                  string // what user_hash signs
	attrs                          map[string]*string
}

func (h *Handler) identify(c *gin.Context) {
	org, vt := orgOf(c), visitorOf(c)
	var req identifyRequest
	if !h.readJSON(c, &req, false) {
		return
	}
	id, msg := checkIdentity(req)
	if msg != "" {
		apiError(c, http.StatusUnprocessableEntity, msg)
		return
	}
	if org.IdentityVerification && !validUserHash(org.IdentitySecret, id.signedSubject, req.UserHash) {
		apiError(c, http.StatusUnauthorized, "Identity verification failed: user_hash must be the hex HMAC-SHA256 of the user's external_id (or email, without one) under this widget's identity secret.")
		return
	}
	current, ok := h.visitorContact(c, org, vt)
	if !ok {
		return
	}
	result, outcome, err := h.identifyVisitor(c, org, vt, current, id)
	if err != nil {
		apiInternal(c, err)
		return
	}
	view, err := h.sessionOf(c, org, result)
	if err != nil {
		apiInternal(c, err)
		return
	}
	view.Merged = outcome.merged
	h.Conversations.PublishContactChanged(c, org, result.ID)
	if current != nil && current.ID != result.ID {
		h.Conversations.PublishContactChanged(c, org, current.ID)
	}
	c.JSON(http.StatusOK, view)
}

// identifyCode mails a code to the address the visitor claimed (see
// package contacts).
func (h *Handler) identifyCode(c *gin.Context) {
	org, vt := orgOf(c), visitorOf(c)
	current, ok := h.visitorContact(c, org, vt)
	if !ok {
		return
	}
	switch err := h.Contacts.SendClaimCode(c, org, current.ID); {
	case err == nil:
		c.JSON(http.StatusOK, gin.H{"sent": true, "expires_in": int(contacts.ClaimCodeLifetime.Seconds())})
	case errors.Is(err, contacts.ErrNoClaim):
		apiError(c, http.StatusConflict, "There is nothing to confirm: identify with your email address first.")
	case errors.Is(err, contacts.ErrNoAddress):
		apiError(c, http.StatusConflict, "No email address is known for this person; the team can link your conversations instead.")
	case errors.Is(err, contacts.ErrCodeTooSoon):
		c.Header("Retry-After", strconv.Itoa(int(contacts.ClaimResendAfter.Seconds())))
		apiError(c, http.StatusTooManyRequests, "A code was sent less than a minute ago. Check your mail, or ask again in a minute.")
	default:
		apiInternal(c, err)
	}
}

type confirmRequest struct {
	Code string `json:"code"`
}

// identifyConfirm checks the mailed code and, when it is right, joins the
// visitor to the history of the address they proved.
func (h *Handler) identifyConfirm(c *gin.Context) {
	org, vt := orgOf(c), visitorOf(c)
	var req confirmRequest
	if !h.readJSON(c, &req, false) {
		return
	}
	code := strings.TrimSpace(req.Code)
	if len(code) == 0 || len(code) > 20 || !site.Printable(code) {
		apiError(c, http.StatusUnprocessableEntity, "Enter the code from the mail.")
		return
	}
	current, ok := h.visitorContact(c, org, vt)
	if !ok {
		return
	}
	holder, err := h.Contacts.ConfirmClaim(c, org, current, code, func(into *models.Contact) { copyTechnical(current, into) }, technicalColumns...)
	switch {
	case errors.Is(err, contacts.ErrNoClaim):
		apiError(c, http.StatusConflict, "There is nothing to confirm: identify with your email address first.")
		return
	case errors.Is(err, contacts.ErrWrongCode):
		apiError(c, http.StatusUnprocessableEntity, "That code is not right. Check the mail and try again.")
		return
	case errors.Is(err, contacts.ErrNoLiveCode):
		apiError(c, http.StatusGone, "That code has expired or was tried too often. Ask for a new one.")
		return
	case err != nil:
		apiInternal(c, err)
		return
	}
	view, err := h.sessionOf(c, org, holder)
	if err != nil {
		apiInternal(c, err)
		return
	}
	view.Merged = true
	c.JSON(http.StatusOK, view)
}

// checkIdentity validates and normalizes identify's fields; msg says what
// is wrong.
func checkIdentity(req identifyRequest) (identity, string) {
	id := identity{
		name: strings.TrimSpace(req.Name), phone: strings.TrimSpace(req.Phone),
		externalID: strings.TrimSpace(req.ExternalID),
	}
	switch {
	case !site.Printable(id.name) || utf8.RuneCountInString(id.name) > MaxContactName:
		return id, fmt.Sprintf("name must be text of at most %d characters.", MaxContactName)
	case !site.Printable(id.phone) || utf8.RuneCountInString(id.phone) > maxContactPhone:
		return id, fmt.Sprintf("phone must be at most %d characters.", maxContactPhone)
	case !site.Printable(id.externalID) || utf8.RuneCountInString(id.externalID) > maxExternalID:
		return id, fmt.Sprintf("external_id must be text of at most %d characters.", maxExternalID)
	case len(req.CustomAttributes) > MaxCustomAttributes:
		return id, fmt.Sprintf("Send at most %d custom attributes.", MaxCustomAttributes)
	}
	if e := strings.TrimSpace(req.Email); e != "" {
		email, err := mail.CanonicalAddress(e)
		if err != nil {
			return id, err.Error()
		}
		id.email = email
	}
	id.signedSubject = id.externalID
	if id.signedSubject == "" {
		id.signedSubject = strings.TrimSpace(req.Email)
	}
	if len(req.CustomAttributes) > 0 {
		id.attrs = map[string]*string{}
	}
	for k, v := range req.CustomAttributes {
		key := strings.TrimSpace(k)
		if key == "" || !site.Printable(key) || utf8.RuneCountInString(key) > maxCustomAttrKey {
			return id, fmt.Sprintf("Custom attribute names must be text of 1 to %d characters.", maxCustomAttrKey)
		}
		var text string
		switch val := v.(type) {
		case nil:
			id.attrs[key] = nil
			continue
		case string:
			text = strings.TrimSpace(val)
		case float64:
			text = strconv.FormatFloat(val, 'f', -1, 64)
		case bool:
			text = strconv.FormatBool(val)
		default:
			return id, fmt.Sprintf("Custom attribute %q must be a string, number, boolean or null.", key)
		}
		if !site.Printable(text) || utf8.RuneCountInString(text) > maxCustomAttrValue {
			return id, fmt.Sprintf("Custom attribute %q must be text of at most %d characters.", key, maxCustomAttrValue)
		}
		id.attrs[key] = &text
	}
	if id.name == "" && id.email == "" && id.phone == "" && id.externalID == "" && len(id.attrs) == 0 {
		return id, "Send at least one of name, email, phone, external_id or custom_attributes."
	}
	return id, ""
}

// IdentityHash is the user_hash a Customer's server computes for a user:
// hex HMAC-SHA256 of the subject (external_id, else email) under the
// widget's identity secret.
func IdentityHash(secret, subject string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(subject))
	return hex.EncodeToString(mac.Sum(nil))
}

// validUserHash compares in constant time; no secret or no subject never
// verifies.
func validUserHash(secret, subject, given string) bool {
	if secret == "" || subject == "" {
		return false
	}
	want := IdentityHash(secret, subject)
	got := strings.ToLower(strings.TrimSpace(given))
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
