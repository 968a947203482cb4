package subprocessors

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

const fuzzWebhookSecret = "whsec_fuzz_secret"

func stripeTestEvent(id string) []byte {
	return fmt.Appendf(nil, `{"id":%q,"object":"event","api_version":%q,"created":1,"type":"invoice.paid","data":{"object":{"id":"in_1","object":"invoice","customer":"cus_1"}}}`, id, StripeAPIVersion)
}

// Five minutes either way: a signature dated ahead of time is refused
// like a stale one (stripe-go checks only the past).
func TestVerifyStripeEventTimestampTolerance(t *testing.T) {
	payload := stripeTestEvent("evt_tolerance")
	for offset, ok := range map[time.Duration]bool{
		-6 * time.Minute:  false,
		-4 * time.Minute:  true,
		0:                 true,
		4 * time.Minute:   true,
		6 * time.Minute:   false,
		10 * time.Minute:  false,
		1000 * time.Hour:  false,
		-1000 * time.Hour: false,
	} {
		_, err := VerifyStripeEvent(payload, SignStripeTestPayload(payload, fuzzWebhookSecret, time.Now().Add(offset)), fuzzWebhookSecret)
		if ok != (err == nil) || (err != nil && !errors.Is(err, ErrStripeSignature)) {
			t.Errorf("signed %v from now: %v", offset, err)
		}
	}
}

// FuzzVerifyStripeEvent: whatever the payload and header, verification
// never panics; it accepts only a header signed with the secret within
// five minutes of now; a header signed with the secret is refused for its
// signature exactly when its timestamp is out of tolerance.
func FuzzVerifyStripeEvent(f *testing.F) {
	f.Add(stripeTestEvent("evt_seed"), "t=1700000000,v1=00", int64(0))
	f.Add([]byte(`{"id":"evt_1","type":"customer.subscription.updated","data":{"object":{"customer":"cus_1"}}}`), "", int64(-400))
	f.Add([]byte(`not json`), "t=1,t=2,v1=zz,v0=ab", int64(400))
	f.Fuzz(func(t *testing.T, payload []byte, header string, offsetSeconds int64) {
		now := time.Now()
		if ev, err := VerifyStripeEvent(payload, header, fuzzWebhookSecret); err == nil {
			at, ok := stripeSignatureTime(header)
			if !ok || at.Sub(now).Abs() > StripeWebhookTolerance+2*time.Second || ev.ID == "" || ev.Type == "" {
				t.Fatalf("accepted a header %q (timestamp %v) or an event without ID or type %+v", header, at, ev)
			}
		}
		offset := time.Duration(offsetSeconds%7200) * time.Second
		_, err := VerifyStripeEvent(payload, SignStripeTestPayload(payload, fuzzWebhookSecret, now.Add(offset)), fuzzWebhookSecret)
		switch {
		case offset.Abs() > StripeWebhookTolerance+2*time.Second && !errors.Is(err, ErrStripeSignature):
			t.Fatalf("signed %v from now: %v, want a signature error", offset, err)
		case offset.Abs() < StripeWebhookTolerance-2*time.Second && errors.Is(err, ErrStripeSignature):
			t.Fatalf("signed %v from now: refused: %v", offset, err)
		}
	})
}
