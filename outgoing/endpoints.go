package outgoing

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/subprocessors"
)

// Endpoints manages an organization's webhook endpoints for its owners
// and admins: adding one (the URL checked, the secret returned once),
// rotating its secret, turning it off and on, deleting it, redelivering
// and sending a test event.
type Endpoints struct {
	Store *store.Store
	// Client checks where an endpoint's host resolves (nil: no endpoint
	// can be added, ErrNoClient).
	Client *subprocessors.CustomerEndpoints
	// AllowHTTP accepts plain-HTTP endpoints (convot dev only).
	AllowHTTP bool
	Now       func() time.Time
}

// ErrNoClient: this deployment has no client for Customers' endpoints.
var ErrNoClient = errors.New("outgoing: webhooks are not configured on this server")

// maxDescription is the longest description of an endpoint.
const maxDescription = 200

func (e *Endpoints) now() time.Time {
	if e.Now != nil {
		return e.Now().UTC()
	}
	return time.Now().UTC()
}

// NewEndpoint is what an owner or admin asks for.
type NewEndpoint struct {
	URL            string
	Description    string
	Events         []string // none: DefaultEvents
	IncludeContent bool
}

// Add checks and adds an endpoint and returns it with its secret, shown
// once. A bad URL, a host that resolves to a refused range, an unknown
// event type: *InputError.
func (e *Endpoints) Add(ctx context.Context, orgID uint64, in NewEndpoint) (*models.WebhookEndpoint, string, error) {
	if e.Client == nil {
		return nil, "", ErrNoClient
	}
	u, err := ParseURL(in.URL, e.AllowHTTP)
	if err != nil {
		return nil, "", err
	}
	desc := strings.TrimSpace(in.Description)
	if utf8.RuneCountInString(desc) > maxDescription || !utf8.ValidString(desc) {
		return nil, "", &InputError{Message: "the description is longer than 200 characters"}
	}
	events := in.Events
	if len(events) == 0 {
		events = DefaultEvents()
	}
	if events, err = ParseEvents(events); err != nil {
		return nil, "", err
	}
	if err := e.Client.CheckURL(ctx, u); err != nil {
		if errors.Is(err, subprocessors.ErrRefusedAddress) {
			return nil, "", &InputError{Message: "the endpoint's address is refused: " + strings.TrimPrefix(err.Error(), subprocessors.ErrRefusedAddress.Error()+": ")}
		}
		return nil, "", &InputError{Message: "the endpoint's host could not be resolved"}
	}
	now := e.now()
	ep := &models.WebhookEndpoint{URL: u.String(), Description: desc, Events: JoinEvents(events), IncludeContent: in.IncludeContent,
		Secret: NewSecret(), Enabled: true, CreatedAt: now, UpdatedAt: now}
	if err := e.Store.CreateWebhookEndpoint(ctx, orgID, ep); err != nil {
		return nil, "", err
	}
	return ep, ep.Secret, nil
}

// Rotate gives an endpoint a new secret, returned once; the old one keeps
// signing beside it for RotationOverlap.
func (e *Endpoints) Rotate(ctx context.Context, orgID, id uint64) (string, error) {
	ep, err := e.Store.WebhookEndpoint(ctx, orgID, id)
	if err != nil {
		return "", err
	}
	rotated := Secrets{Current: ep.Secret}.Rotate(e.now())
	if err := e.Store.RotateWebhookSecret(ctx, orgID, id, rotated.Current, rotated.Previous, rotated.PreviousUntil); err != nil {
		return "", err
	}
	return rotated.Current, nil
}

// SendTest queues a test event for one endpoint, delivered like any other.
func (e *Endpoints) SendTest(ctx context.Context, orgID, id uint64) (*models.WebhookDelivery, error) {
	return e.Store.EnqueueWebhookDelivery(ctx, orgID, id, &models.WebhookEvent{Type: TestEvent, CreatedAt: e.now()})
}
