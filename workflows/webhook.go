package workflows

import (
	"strconv"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Webhook delivery (policy §10, signed webhooks): one workflow per event
// and endpoint (webhook-delivery-<delivery>-<attempts made before>) makes
// the delivery's attempts on the retry schedule it is given
// (outgoing.RetryWaits: more than three days), each attempt an activity
// that asks the egress gate, signs and posts once (10 s, no redirect) and
// records itself in the delivery log. A success, a gate's refusal or an
// endpoint disabled meanwhile ends it; an endpoint failing for five days
// is disabled and its owners mailed. It carries IDs only.

// WebhookDeliveryWorkflowType is the registered name of WebhookDelivery.
const WebhookDeliveryWorkflowType = "WebhookDelivery"

// Activities of the webhook delivery, implemented in package activities.
const (
	ActivityAttemptWebhookDelivery = "AttemptWebhookDelivery"
	ActivityDisableWebhookEndpoint = "DisableWebhookEndpoint"
)

// QueryWebhookAttempts returns WebhookDeliveryState.
const QueryWebhookAttempts = "attempts"

// Outcomes of one attempt.
const (
	WebhookOutcomeDelivered = "delivered" // a 2xx answer
	WebhookOutcomeFailed    = "failed"    // no answer, or not 2xx: try again
	WebhookOutcomeDenied    = "denied"    // the gate refused the flow: never retried
	WebhookOutcomeSkipped   = "skipped"   // endpoint disabled or gone, event erased
)

// WebhookDeliveryInput starts one delivery's attempts.
type WebhookDeliveryInput struct {
	DeliveryID     uint64
	OrganizationID uint64
	EndpointID     uint64
	// RetryWaits are the waits before the second, third, ... attempt.
	RetryWaits []time.Duration
}

// WebhookAttemptInput is one attempt; Final says no attempt follows (a
// failure marks the delivery failed rather than pending).
type WebhookAttemptInput struct {
	DeliveryID     uint64
	OrganizationID uint64
	Attempt        int
	Final          bool
}

// WebhookAttemptResult is what an attempt found.
type WebhookAttemptResult struct {
	Outcome    string
	StatusCode int `json:",omitempty"`
	// DisableEndpoint: the endpoint has been failing for five days.
	DisableEndpoint bool `json:",omitempty"`
}

// WebhookEndpointRef names an endpoint to disable.
type WebhookEndpointRef struct {
	OrganizationID uint64
	EndpointID     uint64
}

// WebhookDeliveryState answers QueryWebhookAttempts.
type WebhookDeliveryState struct {
	Attempts []WebhookAttemptResult
	Outcome  string `json:",omitempty"`
	Disabled bool   `json:",omitempty"`
}

// WebhookDeliveryWorkflowID is the workflow of a delivery's series of
// attempts: a redelivery, made after attempts, gets a new one; starting
// one again while it runs joins it.
func WebhookDeliveryWorkflowID(deliveryID uint64, attemptsBefore int64) string {
	return "webhook-delivery-" + strconv.FormatUint(deliveryID, 10) + "-" + strconv.FormatInt(attemptsBefore, 10)
}

// WebhookDeliveryStartOptions are the options to start a delivery: its
// ID, task queue and search attributes (the organization only).
func WebhookDeliveryStartOptions(in WebhookDeliveryInput, attemptsBefore int64) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       WebhookDeliveryWorkflowID(in.DeliveryID, attemptsBefore),
		TaskQueue:                TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			ConvotOrgId.ValueSet(strconv.FormatUint(in.OrganizationID, 10)),
		),
		StaticSummary: "Webhook delivery: signed, retried over more than three days",
	}
}

// webhookAttemptActivity bounds an attempt: the post itself times out
// after 10 s; an error (the database, not the endpoint) is retried a few
// times, never the endpoint's answer, which is a result.
func webhookAttemptActivity(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 5 * time.Second, BackoffCoefficient: 2,
			MaximumInterval: 5 * time.Minute, MaximumAttempts: 20},
	})
}

// WebhookDelivery makes a delivery's attempts until one succeeds, the
// gate refuses, the endpoint is gone or disabled, or the schedule ends.
func WebhookDelivery(ctx workflow.Context, in WebhookDeliveryInput) (WebhookDeliveryState, error) {
	st := WebhookDeliveryState{}
	if in.DeliveryID == 0 || in.OrganizationID == 0 {
		return st, temporal.NewNonRetryableApplicationError("delivery and organization are required", "InvalidInput", nil)
	}
	if err := workflow.SetQueryHandler(ctx, QueryWebhookAttempts, func() (WebhookDeliveryState, error) { return st, nil }); err != nil {
		return st, err
	}
	attempts := len(in.RetryWaits) + 1
	for i := range attempts {
		if i > 0 {
			if err := workflow.NewTimerWithOptions(ctx, in.RetryWaits[i-1], workflow.TimerOptions{Summary: "next attempt"}).Get(ctx, nil); err != nil {
				return st, err
			}
		}
		var res WebhookAttemptResult
		err := workflow.ExecuteActivity(webhookAttemptActivity(ctx), ActivityAttemptWebhookDelivery, WebhookAttemptInput{
			DeliveryID: in.DeliveryID, OrganizationID: in.OrganizationID, Attempt: i + 1, Final: i == attempts-1,
		}).Get(ctx, &res)
		if err != nil {
			return st, err
		}
		st.Attempts = append(st.Attempts, res)
		st.Outcome = res.Outcome
		if res.DisableEndpoint {
			if err := workflow.ExecuteActivity(shortActivity(ctx), ActivityDisableWebhookEndpoint,
				WebhookEndpointRef{OrganizationID: in.OrganizationID, EndpointID: in.EndpointID}).Get(ctx, nil); err != nil {
				return st, err
			}
			st.Disabled = true
			return st, nil
		}
		if res.Outcome != WebhookOutcomeFailed {
			return st, nil
		}
	}
	return st, nil
}
