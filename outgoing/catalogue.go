// Package outgoing is Convot's side of the signed webhooks it sends to
// Customers' own endpoints (policy §10: "webhook payload signing using
// HMAC-SHA256"): the event catalogue, the versioned payloads, the Standard
// Webhooks signature (webhook-id, webhook-timestamp, webhook-signature:
// v1,<base64 HMAC-SHA256 of "id.timestamp.body">) under whsec_ secrets,
// their rotation with a 24-hour overlap, the checks of an endpoint's URL,
// and the retry schedule of a delivery. Sending goes through
// subprocessors.CustomerEndpoints (the gate, the SSRF guard); the durable
// retries are the WebhookDelivery workflow.
package outgoing

import (
	"slices"
	"strings"

	"github.com/convot/convot/models"
)

// Event types of the catalogue (the store writes them under the same
// names: models.WebhookConversationCreated, ...).
const (
	ConversationCreated     = models.WebhookConversationCreated
	ConversationAssigned    = models.WebhookConversationAssigned
	ConversationResolved    = models.WebhookConversationResolved
	ConversationSnoozed     = models.WebhookConversationSnoozed
	ConversationReopened    = models.WebhookConversationReopened
	MessageCreated          = models.WebhookMessageCreated // an operator's or a contact's message
	NoteCreated             = models.WebhookNoteCreated
	ContactCreated          = models.WebhookContactCreated
	ContactIdentified       = models.WebhookContactIdentified
	ContactUpdated          = models.WebhookContactUpdated
	ContactDeleted          = models.WebhookContactDeleted
	PrivacyRequestReceived  = models.WebhookPrivacyRequestReceived
	PrivacyRequestCompleted = models.WebhookPrivacyRequestCompleted
	// TestEvent is sent by "send test event"; no endpoint subscribes to it.
	TestEvent = "webhook.test"
)

// PayloadVersion is the version of the payload format; it travels in every
// payload, so a Customer's code can tell a future format apart.
const PayloadVersion = 1

// EventType is one entry of the catalogue.
type EventType struct {
	Name        string
	Description string
	// Content lists the data categories of the personal fields the event
	// carries when its endpoint opted in to content; none: IDs only, always.
	Content []string
	// Optional types (notes) are left out of a new endpoint's default
	// selection: they are sent only when chosen.
	Optional bool
}

// Catalogue is every event type an endpoint may subscribe to.
var Catalogue = []EventType{
	{Name: ConversationCreated, Description: "a conversation started (widget or email)"},
	{Name: ConversationAssigned, Description: "a conversation was assigned or unassigned"},
	{Name: ConversationResolved, Description: "a conversation was resolved"},
	{Name: ConversationSnoozed, Description: "a conversation was snoozed"},
	{Name: ConversationReopened, Description: "a conversation was reopened"},
	{Name: MessageCreated, Description: "an operator or a contact wrote a message", Content: []string{"user.content.message"}},
	{Name: NoteCreated, Description: "an operator wrote an internal note (only when chosen)", Content: []string{"user.content.message"}, Optional: true},
	{Name: ContactCreated, Description: "a contact was created", Content: []string{"user.name", "user.contact.email"}},
	{Name: ContactIdentified, Description: "a visitor was identified", Content: []string{"user.name", "user.contact.email", "user.unique_id"}},
	{Name: ContactUpdated, Description: "a contact's details changed", Content: []string{"user.name", "user.contact.email"}},
	{Name: ContactDeleted, Description: "a contact was deleted (IDs only)"},
	{Name: PrivacyRequestReceived, Description: "a privacy request was received (IDs only)"},
	{Name: PrivacyRequestCompleted, Description: "a privacy request was completed (IDs only)"},
}

// Lookup returns the catalogue's entry for name (the test event included).
func Lookup(name string) (EventType, bool) {
	if name == TestEvent {
		return EventType{Name: TestEvent, Description: "a test event sent from the dashboard"}, true
	}
	i := slices.IndexFunc(Catalogue, func(e EventType) bool { return e.Name == name })
	if i < 0 {
		return EventType{}, false
	}
	return Catalogue[i], true
}

// DefaultEvents are the types a new endpoint is subscribed to when none is
// chosen: every type but the optional ones.
func DefaultEvents() []string {
	var out []string
	for _, e := range Catalogue {
		if !e.Optional {
			out = append(out, e.Name)
		}
	}
	return out
}

// ParseEvents checks a chosen list of event types against the catalogue and
// returns it sorted, without duplicates; an unknown type is an error.
func ParseEvents(names []string) ([]string, error) {
	var out []string
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if _, ok := Lookup(n); !ok || n == TestEvent {
			return nil, &InputError{Message: "unknown event type " + n}
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, &InputError{Message: "choose at least one event type"}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// JoinEvents is how an endpoint's types are stored: ",a,b," so that one
// type is found with LIKE '%,a,%'.
func JoinEvents(names []string) string { return "," + strings.Join(names, ",") + "," }

// SplitEvents reverses JoinEvents.
func SplitEvents(stored string) []string {
	var out []string
	for n := range strings.SplitSeq(stored, ",") {
		if n != "" {
			out = append(out, n)
		}
	}
	return out
}

// InputError is a refusal of an endpoint's settings, shown to the operator
// (422).
type InputError struct{ Message string }

func (e *InputError) Error() string { return e.Message }
