package outgoing

import "time"

// The delivery schedule of one event to one endpoint: an attempt at once,
// then after each failure the next wait of RetryWaits, over more than three
// days in all; each attempt times out after AttemptTimeout and follows no
// redirect. An endpoint whose deliveries have been failing for DisableAfter
// (since its last success, or since its first failure) is disabled and its
// owners are mailed.
var RetryWaits = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour,
	5 * time.Hour, 10 * time.Hour, 24 * time.Hour, 24 * time.Hour, 24 * time.Hour,
}

// AttemptTimeout bounds one attempt, connection and answer included.
const AttemptTimeout = 10 * time.Second

// DisableAfter is how long an endpoint may keep failing before it is
// disabled.
const DisableAfter = 5 * 24 * time.Hour

// ResponseExcerpt is how much of an endpoint's answer the delivery log keeps.
const ResponseExcerpt = 512

// Attempts is the number of attempts a delivery makes at most.
func Attempts() int { return len(RetryWaits) + 1 }

// RetrySpan is the time from the first attempt to the last one.
func RetrySpan() time.Duration {
	var d time.Duration
	for _, w := range RetryWaits {
		d += w
	}
	return d
}

// Succeeded says whether an endpoint's status code accepts a delivery.
func Succeeded(status int) bool { return status >= 200 && status <= 299 }
