package subprocessors

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/stripe/stripe-go/v76"
	stripeclient "github.com/stripe/stripe-go/v76/client"

	"github.com/convot/convot/policies"
)

// Subprocessor name and purpose of every Stripe flow.
const (
	stripeSubprocessor = "stripe"
	stripePurpose      = "essential.service.payment_processing"
)

// StripeConfig configures a Stripe client.
type StripeConfig struct {
	// BaseURL is the API's base URL; empty is https://api.stripe.com (and
	// Stripe's connect and uploads hosts). Tests and stripe-mock set it,
	// which points every backend at it.
	BaseURL string
	// SecretKey is the API key (sk_live_..., sk_test_...); required.
	SecretKey string
	// Region is where the Stripe account processes data, the flows'
	// destination: us, or eu for an account with Stripe's European entity.
	// Required.
	Region string
	// HTTPClient is the client requests go through; nil is the SDK's.
	HTTPClient *http.Client
	// MaxNetworkRetries is how often the SDK retries a failed request (with
	// the same idempotency key); 0 is the SDK's default.
	MaxNetworkRetries int64
}

// Stripe is the billing client: the Customer's billing contact as a Stripe
// customer. Stripe serves Customers only (subject kind customer); the gate
// refuses end users. It is safe for concurrent use.
type Stripe struct {
	gate   Gate
	api    *stripeclient.API
	region string
}

// NewStripe returns a Stripe client. It sends nothing.
func NewStripe(gate Gate, cfg StripeConfig) (*Stripe, error) {
	if gate == nil {
		return nil, errors.New("subprocessors: stripe: an egress gate is required")
	}
	if cfg.SecretKey == "" {
		return nil, errors.New("subprocessors: stripe: a secret key is required")
	}
	if cfg.Region == "" {
		return nil, errors.New("subprocessors: stripe: the account's region is required")
	}
	// GetBackendWithConfig fills in the config it is given, so each backend
	// gets its own.
	backendConfig := func(url string) *stripe.BackendConfig {
		bc := &stripe.BackendConfig{
			HTTPClient:      cfg.HTTPClient,
			EnableTelemetry: stripe.Bool(false),
			// The SDK logs nothing: error messages can echo the values sent.
			LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull},
		}
		if url != "" {
			bc.URL = stripe.String(url)
		}
		if cfg.MaxNetworkRetries > 0 {
			bc.MaxNetworkRetries = stripe.Int64(cfg.MaxNetworkRetries)
		}
		return bc
	}
	api := &stripeclient.API{}
	api.Init(cfg.SecretKey, &stripe.Backends{
		API:     stripe.GetBackendWithConfig(stripe.APIBackend, backendConfig(cfg.BaseURL)),
		Connect: stripe.GetBackendWithConfig(stripe.ConnectBackend, backendConfig(cfg.BaseURL)),
		Uploads: stripe.GetBackendWithConfig(stripe.UploadsBackend, backendConfig(cfg.BaseURL)),
	})
	return &Stripe{gate: gate, api: api, region: cfg.Region}, nil
}

// CreateCustomer creates the Stripe customer of an organization's billing
// contact and returns its ID. Name and email leave only as far as the gate
// allows; the organization's ID goes along as metadata (convot_org_id).
//
// The idempotency key is derived from what is sent, so a retried call (a
// Temporal activity retry) within Stripe's 24-hour window returns the
// customer the first call created instead of creating another.
func (s *Stripe) CreateCustomer(ctx context.Context, org policies.OrgContext, subject policies.SubjectContext, name, email string) (string, error) {
	fields := map[string]policies.Field{
		"name":          {Category: "user.name", Value: name},
		"email":         {Category: "user.contact.email", Value: email},
		"convot_org_id": {Category: "system.operations", Value: strconv.FormatUint(org.ID, 10)},
	}
	categories := []string{"system.operations"}
	if name != "" {
		categories = append(categories, "user.name")
	}
	if email != "" {
		categories = append(categories, "user.contact.email")
	}
	d, err := authorize(ctx, s.gate, policies.Flow{
		Subprocessor:      stripeSubprocessor,
		Purpose:           stripePurpose,
		Categories:        categories,
		Organization:      org,
		Subject:           subject,
		DestinationRegion: s.region,
	})
	if err != nil {
		return "", fmt.Errorf("stripe create customer: %w", err)
	}
	allowed := policies.Apply(d, fields)

	params := &stripe.CustomerParams{}
	params.Context = ctx
	sentName, hasName := appliedText(allowed, "name")
	sentEmail, hasEmail := appliedText(allowed, "email")
	if hasName && sentName != "" {
		params.Name = stripe.String(sentName)
	}
	if hasEmail && sentEmail != "" {
		params.Email = stripe.String(sentEmail)
	}
	if orgID, ok := appliedText(allowed, "convot_org_id"); ok {
		params.AddMetadata("convot_org_id", orgID)
	}
	params.SetIdempotencyKey(stripeIdempotencyKey("customer", org.ID, sentName, sentEmail))

	c, err := s.api.Customers.New(params)
	if err != nil {
		return "", fmt.Errorf("subprocessors: stripe create customer: %w", stripeScrubbedError(err, sentName, sentEmail))
	}
	if c.ID == "" {
		return "", errors.New("subprocessors: stripe create customer: the response holds no customer ID")
	}
	return c.ID, nil
}

// DeleteCustomer deletes a Stripe customer (erasure, account deletion).
// Only the customer's ID leaves; a customer Stripe no longer has counts as
// deleted.
func (s *Stripe) DeleteCustomer(ctx context.Context, org policies.OrgContext, customerID string) error {
	if customerID == "" {
		return errors.New("subprocessors: stripe delete customer: empty customer ID")
	}
	d, err := authorize(ctx, s.gate, policies.Flow{
		Subprocessor:      stripeSubprocessor,
		Purpose:           stripePurpose,
		Categories:        []string{"system.operations"},
		Organization:      org,
		Subject:           policies.SubjectContext{Kind: "customer"},
		DestinationRegion: s.region,
	})
	if err != nil {
		return fmt.Errorf("stripe delete customer: %w", err)
	}
	allowed := policies.Apply(d, map[string]policies.Field{"id": {Category: "system.operations", Value: customerID}})
	id, ok := appliedText(allowed, "id")
	if !ok {
		return fmt.Errorf("stripe delete customer: %w: the decision withholds the customer ID: %s", ErrDenied, d.Reason)
	}
	params := &stripe.CustomerParams{}
	params.Context = ctx
	if _, err := s.api.Customers.Del(id, params); err != nil {
		var se *stripe.Error
		if errors.As(err, &se) && (se.Code == stripe.ErrorCodeResourceMissing || se.HTTPStatusCode == http.StatusNotFound) {
			return nil
		}
		return fmt.Errorf("subprocessors: stripe delete customer: %w", stripeScrubbedError(err))
	}
	return nil
}

// stripeIdempotencyKey derives a key from what a request sends; the key
// itself holds no personal data.
func stripeIdempotencyKey(kind string, orgID uint64, values ...string) string {
	h := sha256.New()
	_, _ = fmt.Fprintf(h, "convot/stripe/%s/v1\x00%d", kind, orgID) // a hash's Write never fails
	for _, v := range values {
		h.Write([]byte{0})
		h.Write([]byte(v))
	}
	return "convot-" + kind + "-" + hex.EncodeToString(h.Sum(nil))[:40]
}

// StripeError is a failed Stripe call as Convot reports it: what kind of
// failure, with the values that were sent scrubbed from Stripe's message.
type StripeError struct {
	HTTPStatus  int
	Type        string // card_error, invalid_request_error, api_error, idempotency_error, ...
	Code        string // card_declined, expired_card, resource_missing, ...
	DeclineCode string // insufficient_funds, lost_card, ... for declined cards
	Msg         string
	RequestID   string
}

func (e *StripeError) Error() string {
	msg := fmt.Sprintf("HTTP %d %s", e.HTTPStatus, e.Type)
	if e.Code != "" {
		msg += " " + e.Code
	}
	if e.DeclineCode != "" {
		msg += " (" + e.DeclineCode + ")"
	}
	if e.Msg != "" {
		msg += ": " + e.Msg
	}
	if e.RequestID != "" {
		msg += " (request " + e.RequestID + ")"
	}
	return msg
}

// ErrStripeUnreachable is wrapped by the error of a Stripe call that got no
// answer from Stripe (network, timeout). The call may be retried safely:
// it carries an idempotency key.
var ErrStripeUnreachable = errors.New("stripe unreachable")

// stripeScrubbedError is a Stripe error without the values that were sent
// (Stripe's messages can echo them: "Invalid email address: ..."): a
// *StripeError, or a transport failure wrapping ErrStripeUnreachable.
func stripeScrubbedError(err error, sent ...string) error {
	var se *stripe.Error
	if !errors.As(err, &se) {
		// A transport error names the URL, never the form body. Only its
		// text is kept: callers match ErrStripeUnreachable, not its types.
		return fmt.Errorf("%w: %s", ErrStripeUnreachable, err.Error())
	}
	return &StripeError{
		HTTPStatus:  se.HTTPStatusCode,
		Type:        string(se.Type),
		Code:        string(se.Code),
		DeclineCode: string(se.DeclineCode),
		Msg:         scrubEchoedValues(se.Msg, sent...),
		RequestID:   se.RequestID,
	}
}

// appliedText is the string value of field name in the output of
// policies.Apply, and whether it leaves as it is (present, not redacted).
// Structured API fields (an address, an ID) are useless redacted, so a
// redacted one is treated as withheld.
func appliedText(allowed map[string]policies.Field, name string) (string, bool) {
	f, ok := allowed[name]
	if !ok {
		return "", false
	}
	s, ok := f.Value.(string)
	if !ok || s == policies.RedactedValue {
		return "", false
	}
	return s, true
}

// scrubEchoedValues replaces every occurrence of the non-empty values in s.
func scrubEchoedValues(s string, values ...string) string {
	for _, v := range values {
		if strings.TrimSpace(v) != "" {
			s = strings.ReplaceAll(s, v, policies.RedactedValue)
		}
	}
	return s
}
