package subprocessors

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"
)

// StripeAPIVersion is the Stripe API version the client speaks; the webhook
// endpoint must send events of the same version.
const StripeAPIVersion = stripe.APIVersion

// StripeWebhookTolerance is how far a Stripe-Signature timestamp may be
// from now, either way: an older event (a replay of a captured request)
// and one signed ahead of time are refused.
const StripeWebhookTolerance = 5 * time.Minute

// Errors of VerifyStripeEvent; both mean 400 and nothing processed.
var (
	// ErrStripeSignature: the Stripe-Signature header is missing, malformed,
	// does not match the payload under the secret, or is dated more than
	// StripeWebhookTolerance from now.
	ErrStripeSignature = errors.New("invalid Stripe signature")
	// ErrStripeEvent: the signed payload is not an event Convot can read
	// (bad JSON, another API version than stripe-go's).
	ErrStripeEvent = errors.New("unreadable Stripe event")
)

// StripeEvent is a verified Stripe webhook event with the object Convot
// reads from it, by type: Subscription for customer.subscription.*,
// Invoice for invoice.*, Card for payment_method.*. Other types carry no
// object.
type StripeEvent struct {
	ID           string
	Type         string
	Created      time.Time
	Livemode     bool
	Subscription *StripeSubscription
	Invoice      *StripeInvoice
	Card         *StripeCard
}

// VerifyStripeEvent checks the Stripe-Signature header of a webhook request
// against the endpoint's signing secret, with StripeWebhookTolerance,
// before it reads a byte of the payload as JSON; then it reads the event.
// Receiving a webhook sends nothing to Stripe, so no gate is asked.
func VerifyStripeEvent(payload []byte, header, secret string) (StripeEvent, error) {
	if secret == "" {
		return StripeEvent{}, fmt.Errorf("%w: no webhook signing secret configured", ErrStripeSignature)
	}
	if err := webhook.ValidatePayloadWithTolerance(payload, header, secret, StripeWebhookTolerance); err != nil {
		return StripeEvent{}, fmt.Errorf("%w: %s", ErrStripeSignature, signatureProblem(err))
	}
	// stripe-go refuses old timestamps only. The signature covers the
	// timestamp, so the one it verified can be trusted for the other side.
	if at, ok := stripeSignatureTime(header); !ok || time.Until(at) > StripeWebhookTolerance {
		return StripeEvent{}, fmt.Errorf("%w: the signature is dated more than five minutes ahead", ErrStripeSignature)
	}
	ev, err := webhook.ConstructEventWithOptions(payload, header, secret, webhook.ConstructEventOptions{Tolerance: StripeWebhookTolerance})
	if err != nil {
		// Signature checked above: what remains is the JSON or the API
		// version. The message names neither values nor the payload.
		if strings.Contains(err.Error(), "API version") {
			return StripeEvent{}, fmt.Errorf("%w: the event's API version is %q; the webhook endpoint must use %s", ErrStripeEvent, ev.APIVersion, stripe.APIVersion)
		}
		return StripeEvent{}, fmt.Errorf("%w: the payload is not a JSON event", ErrStripeEvent)
	}
	if ev.ID == "" || ev.Type == "" {
		return StripeEvent{}, fmt.Errorf("%w: the event has no ID or type", ErrStripeEvent)
	}
	out := StripeEvent{ID: ev.ID, Type: string(ev.Type), Created: unixTime(ev.Created), Livemode: ev.Livemode}
	if ev.Data == nil || len(ev.Data.Raw) == 0 {
		return out, nil
	}
	switch {
	case strings.HasPrefix(out.Type, "customer.subscription."):
		var sub stripe.Subscription
		if err := json.Unmarshal(ev.Data.Raw, &sub); err != nil {
			return StripeEvent{}, fmt.Errorf("%w: %s holds no subscription", ErrStripeEvent, out.Type)
		}
		s := subscriptionOf(&sub)
		out.Subscription = &s
	case strings.HasPrefix(out.Type, "invoice."):
		var in stripe.Invoice
		if err := json.Unmarshal(ev.Data.Raw, &in); err != nil {
			return StripeEvent{}, fmt.Errorf("%w: %s holds no invoice", ErrStripeEvent, out.Type)
		}
		i := invoiceOf(&in)
		out.Invoice = &i
	case strings.HasPrefix(out.Type, "payment_method."):
		var pm stripe.PaymentMethod
		if err := json.Unmarshal(ev.Data.Raw, &pm); err != nil {
			return StripeEvent{}, fmt.Errorf("%w: %s holds no payment method", ErrStripeEvent, out.Type)
		}
		c := cardOf(&pm)
		out.Card = &c
	}
	return out, nil
}

// stripeSignatureTime reads the t= timestamp of a Stripe-Signature
// header the way stripe-go does (comma-separated key=value pairs; the last
// t wins), so that it is the timestamp the signature was verified with.
func stripeSignatureTime(header string) (time.Time, bool) {
	var at time.Time
	found := false
	for _, pair := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(pair, "=")
		if !ok || k != "t" {
			continue
		}
		sec, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return time.Time{}, false
		}
		at, found = time.Unix(sec, 0), true
	}
	return at, found
}

func signatureProblem(err error) string {
	switch {
	case errors.Is(err, webhook.ErrNotSigned):
		return "the Stripe-Signature header is missing"
	case errors.Is(err, webhook.ErrInvalidHeader):
		return "the Stripe-Signature header is malformed"
	case errors.Is(err, webhook.ErrTooOld):
		return "the signature is older than five minutes"
	default:
		return "no signature matches the payload"
	}
}

// SignStripeTestPayload signs a payload as Stripe signs webhook requests,
// with stripe-go's test helper, and returns the Stripe-Signature header.
// For tests and for replaying events to a development server.
func SignStripeTestPayload(payload []byte, secret string, at time.Time) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: at}).Header
}
