// Package subprocessors holds one client per subprocessor (AWS, Stripe,
// Postmark, Sentry, Redis, Shopify, Anthropic, OpenAI). It is the only
// package of Convot that imports a subprocessor's SDK or talks to one over
// the network (a test of the import graph enforces the first half).
//
// Every client asks the egress gate (policies.Gate) before it sends a single
// byte: a flow the gate denies sends nothing and returns an error wrapping
// ErrDenied with the gate's reason. An allowed flow sends only the fields the
// decision lets leave: payloads are built as category-tagged policies.Field
// values and passed through policies.Apply. Each client takes its gate, its
// endpoint (so tests point it at a fake upstream) and its credentials from
// the caller, and the organization and subject contexts per call.
package subprocessors

import (
	"context"
	"errors"
	"fmt"

	"github.com/convot/convot/policies"
)

// ErrDenied is wrapped by every error a client returns because the gate did
// not allow the flow; the error text carries the gate's reason.
var ErrDenied = errors.New("subprocessors: egress denied")

// Gate is what a client needs of the egress gate; *policies.Gate satisfies it.
type Gate interface {
	Authorize(context.Context, policies.Flow) (policies.Decision, error)
}

// authorize asks gate about flow. It returns the decision when the flow is
// allowed, and otherwise an error wrapping ErrDenied with the gate's reason
// (and the gate's own error, if it failed closed). A nil gate denies.
func authorize(ctx context.Context, gate Gate, flow policies.Flow) (policies.Decision, error) {
	if gate == nil {
		return policies.Decision{}, fmt.Errorf("%w: %s for %s: no egress gate configured", ErrDenied, flow.Subprocessor, flow.Purpose)
	}
	d, err := gate.Authorize(ctx, flow)
	if err != nil || !d.Allow {
		reason := d.Reason
		if reason == "" {
			reason = "no reason given"
		}
		if err != nil {
			return d, fmt.Errorf("%w: %s for %s: %s: %w", ErrDenied, flow.Subprocessor, flow.Purpose, reason, err)
		}
		return d, fmt.Errorf("%w: %s for %s: %s", ErrDenied, flow.Subprocessor, flow.Purpose, reason)
	}
	return d, nil
}
