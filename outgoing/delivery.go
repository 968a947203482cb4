package outgoing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/store"
	"github.com/convot/convot/subprocessors"
)

// Deliverer makes one attempt of a delivery: it loads the delivery, its
// event and endpoint, builds the payload (personal fields only when the
// endpoint opted in to content, the event type carries them and the
// contact's processing is not restricted), signs it with the endpoint's
// secrets, posts it through the gated, SSRF-guarded client, and records
// the attempt in the delivery log.
type Deliverer struct {
	Store     *store.Store
	Endpoints *subprocessors.CustomerEndpoints
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Attempt outcomes (the workflow's vocabulary mirrors them).
const (
	OutcomeDelivered = "delivered"
	OutcomeFailed    = "failed"
	OutcomeDenied    = "denied"
	OutcomeSkipped   = "skipped"
)

// AttemptResult is one attempt's outcome.
type AttemptResult struct {
	Outcome    string
	StatusCode int
	// Disable: the endpoint has been failing for DisableAfter.
	Disable bool
}

func (d *Deliverer) now() time.Time {
	if d.Now != nil {
		return d.Now().UTC()
	}
	return time.Now().UTC()
}

// Attempt makes attempt number n of a delivery; final says none follows.
// An error is Convot's (the database), not the endpoint's: the caller
// retries it.
func (d *Deliverer) Attempt(ctx context.Context, orgID, deliveryID uint64, final bool) (AttemptResult, error) {
	if d.Endpoints == nil {
		return AttemptResult{}, errors.New("outgoing: no client for Customers' endpoints")
	}
	in, err := d.Store.WebhookDeliveryForAttempt(ctx, orgID, deliveryID)
	if errors.Is(err, store.ErrNotFound) {
		// The endpoint was deleted, or the event erased with its subject.
		return AttemptResult{Outcome: OutcomeSkipped}, nil
	}
	if err != nil {
		return AttemptResult{}, err
	}
	if !in.Endpoint.Enabled || in.Delivery.Status == models.WebhookDelivered {
		return AttemptResult{Outcome: OutcomeSkipped}, nil
	}
	org, err := d.Store.Organization(ctx, orgID)
	if err != nil {
		return AttemptResult{}, err
	}
	req, err := d.request(ctx, org, in)
	if errors.Is(err, store.ErrNotFound) {
		return AttemptResult{Outcome: OutcomeSkipped}, nil
	}
	if err != nil {
		return AttemptResult{}, err
	}
	at := d.now()
	secrets := Secrets{Current: in.Endpoint.Secret, Previous: in.Endpoint.PreviousSecret}
	if in.Endpoint.PreviousUntil != nil {
		secrets.PreviousUntil = *in.Endpoint.PreviousUntil
	}
	req.Header, err = SignedHeaders(MessageID(deliveryID), at, req.Body, secrets.Signing(at)...)
	if err != nil {
		return AttemptResult{}, err
	}
	resp, sendErr := d.Endpoints.Deliver(ctx, req)
	attempt := &models.WebhookAttempt{DeliveryID: deliveryID, AttemptedAt: at, StatusCode: resp.Status,
		LatencyMillis: resp.Latency.Milliseconds(), ResponseExcerpt: resp.Excerpt}
	res := AttemptResult{StatusCode: resp.Status}
	status := models.WebhookPending
	switch {
	case sendErr == nil && Succeeded(resp.Status):
		res.Outcome, status = OutcomeDelivered, models.WebhookDelivered
	case errors.Is(sendErr, subprocessors.ErrDenied):
		res.Outcome, status = OutcomeDenied, models.WebhookDenied
		attempt.Error = "refused by the egress gate: " + sendErr.Error()
	default:
		res.Outcome = OutcomeFailed
		if final {
			status = models.WebhookFailed
		}
		if sendErr != nil {
			attempt.Error = attemptError(sendErr)
		}
	}
	failingSince, err := d.Store.RecordWebhookAttempt(ctx, orgID, attempt, status)
	if err != nil {
		return AttemptResult{}, err
	}
	res.Disable = res.Outcome == OutcomeFailed && failingSince != nil && !at.Before(failingSince.Add(DisableAfter))
	return res, nil
}

// attemptError is why an attempt had no answer, for the delivery log.
func attemptError(err error) string {
	switch {
	case errors.Is(err, subprocessors.ErrRefusedAddress):
		return err.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return "no answer within 10 s"
	}
	msg := err.Error()
	if len(msg) > ResponseExcerpt {
		msg = msg[:ResponseExcerpt]
	}
	return msg
}

// request builds the delivery's body and the flow the gate is asked about.
func (d *Deliverer) request(ctx context.Context, org *models.Organization, in *store.WebhookDeliveryForAttempt) (subprocessors.EndpointRequest, error) {
	ev := in.Event
	data := map[string]any{"event_id": MessageID(in.Delivery.ID), "organization_id": ev.OrganizationID}
	contactID := ev.ContactID
	if ev.Type == ContactDeleted {
		contactID = ev.DeletedContactID
	}
	for k, v := range map[string]uint64{"conversation_id": ev.ConversationID, "message_id": ev.MessageID, "contact_id": contactID, "privacy_request_id": ev.RequestID} {
		if v != 0 {
			data[k] = v
		}
	}
	subject := policies.SubjectContext{Kind: "none"}
	categories := []string{"system.operations"}
	typ, _ := Lookup(ev.Type)
	if ev.ContactID != 0 && typ.Name != ContactDeleted {
		s, err := d.Store.SubjectContextForContact(ctx, org.ID, ev.ContactID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return subprocessors.EndpointRequest{}, err
		}
		if err == nil {
			subject = s
		}
	}
	// Content: only where the endpoint opted in, the type carries it, and
	// the contact did not restrict processing (then IDs only).
	if in.Endpoint.IncludeContent && len(typ.Content) > 0 && !subject.Restricted {
		content, err := d.content(ctx, org.ID, ev)
		if err != nil {
			return subprocessors.EndpointRequest{}, err
		}
		if len(content) > 0 {
			data["content"] = content
			categories = append(categories, typ.Content...)
		}
	}
	body, err := Payload{Type: ev.Type, Version: PayloadVersion, Timestamp: ev.CreatedAt.UTC(), Data: data}.Body()
	if err != nil {
		return subprocessors.EndpointRequest{}, err
	}
	return subprocessors.EndpointRequest{URL: in.Endpoint.URL, Body: body, Categories: categories,
		Organization: org.GateContext(), Subject: subject}, nil
}

// content are the personal fields of an event opted in to.
func (d *Deliverer) content(ctx context.Context, orgID uint64, ev models.WebhookEvent) (map[string]any, error) {
	switch ev.Type {
	case MessageCreated, NoteCreated:
		m, err := d.Store.WebhookMessage(ctx, orgID, ev.MessageID)
		if err != nil {
			return nil, err
		}
		return map[string]any{"body": m.Body, "author_type": m.AuthorType, "private": m.Private}, nil
	case ContactCreated, ContactIdentified, ContactUpdated:
		c, err := d.Store.Contact(ctx, orgID, ev.ContactID)
		if err != nil {
			return nil, err
		}
		out := map[string]any{"name": c.Name, "email": c.Email}
		if ev.Type == ContactIdentified {
			out["external_id"] = c.ExternalID
		}
		return out, nil
	}
	return nil, nil
}

// DisableEndpoint disables an endpoint still failing for DisableAfter,
// after telling the organization's owners by mail (notify): a retry after
// a failed mail mails again rather than not at all. It reports whether it
// disabled it (false: a success meanwhile, or disabled already).
func (d *Deliverer) DisableEndpoint(ctx context.Context, orgID, endpointID uint64, notify func(ctx context.Context, org *models.Organization, owners []models.Account, ep *models.WebhookEndpoint) error) (bool, error) {
	now := d.now()
	cutoff := now.Add(-DisableAfter)
	ep, err := d.Store.WebhookEndpoint(ctx, orgID, endpointID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !ep.Enabled || ep.FailingSince == nil || ep.FailingSince.After(cutoff) {
		return false, nil
	}
	org, err := d.Store.Organization(ctx, orgID)
	if err != nil {
		return false, err
	}
	ids, err := d.Store.WebhookOwnerAccounts(ctx, orgID)
	if err != nil {
		return false, err
	}
	var owners []models.Account
	for _, id := range ids {
		a, err := d.Store.Account(ctx, orgID, id)
		if err != nil {
			return false, err
		}
		owners = append(owners, *a)
	}
	if err := notify(ctx, org, owners, ep); err != nil {
		return false, fmt.Errorf("outgoing: mail the owners of a failing endpoint: %w", err)
	}
	return d.Store.DisableFailingWebhookEndpoint(ctx, orgID, endpointID, cutoff,
		fmt.Sprintf("failing for %d days (disabled %s)", int(DisableAfter.Hours()/24), now.Format(time.DateOnly)))
}
