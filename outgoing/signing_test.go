package outgoing

import (
	"net/http"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// verifier is the Standard Webhooks reference library for Go, an
// independent implementation of the specification.
func verifier(t *testing.T, secret string) *standardwebhooks.Webhook {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	return wh
}

func signed(t *testing.T, ts time.Time, body []byte, secrets ...string) http.Header {
	t.Helper()
	h, err := SignedHeaders(MessageID(42), ts, body, secrets...)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// The Standard Webhooks library accepts Convot's signature; a tampered
// body, a wrong secret and a timestamp older than five minutes are refused.
func TestStandardWebhooksLibraryVerifiesDeliveries(t *testing.T) {
	secret := NewSecret()
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret %q", secret)
	}
	body, err := Payload{Type: MessageCreated, Version: PayloadVersion, Timestamp: time.Now().UTC(),
		Data: map[string]any{"conversation_id": 5, "message_id": 9}}.Body()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	h := signed(t, now, body, secret)
	if err := verifier(t, secret).Verify(body, h); err != nil {
		t.Fatalf("the library refuses a genuine delivery: %v", err)
	}
	tampered := []byte(strings.Replace(string(body), `"message_id":9`, `"message_id":8`, 1))
	if err := verifier(t, secret).Verify(tampered, h); err == nil {
		t.Error("a tampered body verifies")
	}
	if err := verifier(t, NewSecret()).Verify(body, h); err == nil {
		t.Error("a wrong secret verifies")
	}
	old := signed(t, now.Add(-6*time.Minute), body, secret)
	if err := verifier(t, secret).Verify(body, old); err == nil {
		t.Error("a timestamp six minutes old verifies")
	}
	if err := verifier(t, secret).VerifyIgnoringTimestamp(body, old); err != nil {
		t.Errorf("the old delivery's signature itself: %v", err)
	}
	// The library signs as Convot does.
	want, err := verifier(t, secret).Sign(MessageID(42), now, body)
	if err != nil || want != h.Get(HeaderSignature) {
		t.Errorf("library signature %q, Convot's %q (%v)", want, h.Get(HeaderSignature), err)
	}
}

// After a rotation both secrets sign for 24 hours, so a receiver holding
// either verifies; after the overlap only the new one signs.
func TestRotationOverlapSignsWithBothSecrets(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	old := Secrets{Current: NewSecret()}
	rotated := old.Rotate(t0)
	if rotated.Current == old.Current || rotated.Previous != old.Current || !rotated.PreviousUntil.Equal(t0.Add(24*time.Hour)) {
		t.Fatalf("rotation %+v", rotated)
	}
	body := []byte(`{"type":"webhook.test"}`)

	during := t0.Add(23 * time.Hour)
	secrets := rotated.Signing(during)
	if len(secrets) != 2 {
		t.Fatalf("%d secrets sign during the overlap", len(secrets))
	}
	h := signed(t, time.Now(), body, secrets...)
	if n := len(strings.Fields(h.Get(HeaderSignature))); n != 2 {
		t.Fatalf("%d signatures in %q", n, h.Get(HeaderSignature))
	}
	for name, s := range map[string]string{"old": old.Current, "new": rotated.Current} {
		if err := verifier(t, s).Verify(body, h); err != nil {
			t.Errorf("during the overlap the %s secret fails: %v", name, err)
		}
	}

	after := t0.Add(24*time.Hour + time.Second)
	h = signed(t, time.Now(), body, rotated.Signing(after)...)
	if err := verifier(t, rotated.Current).Verify(body, h); err != nil {
		t.Errorf("after the overlap the new secret fails: %v", err)
	}
	if err := verifier(t, old.Current).Verify(body, h); err == nil {
		t.Error("after the overlap the old secret still verifies")
	}
}

func TestSignedHeadersRefuseBadSecrets(t *testing.T) {
	if _, err := SignedHeaders("msg_1", time.Now(), nil); err == nil {
		t.Error("no secret signs")
	}
	for _, s := range []string{"", "secret", "whsec_", "whsec_!!!"} {
		if _, err := SignedHeaders("msg_1", time.Now(), nil, s); err == nil {
			t.Errorf("secret %q signs", s)
		}
	}
}

// The schedule written in the README: more than three days of retries.
func TestRetryScheduleSpansMoreThanThreeDays(t *testing.T) {
	if RetrySpan() < 3*24*time.Hour {
		t.Fatalf("retries span %s", RetrySpan())
	}
	if AttemptTimeout != 10*time.Second || DisableAfter != 5*24*time.Hour {
		t.Fatal("timeout or disabling changed")
	}
}

func TestParseURL(t *testing.T) {
	for raw, allowHTTP := range map[string]bool{"https://hooks.example.com/convot": false, "http://localhost:9000/x": true} {
		if _, err := ParseURL(raw, allowHTTP); err != nil {
			t.Errorf("%s: %v", raw, err)
		}
	}
	for _, raw := range []string{"", "http://hooks.example.com/x", "ftp://hooks.example.com", "hooks.example.com/x", "https://", "https://user:pw@hooks.example.com/",
		"https://hooks.example.com/#frag", "mailto:a@b.c", "https://hooks.example.com/" + strings.Repeat("a", 2100)} {
		if _, err := ParseURL(raw, false); err == nil {
			t.Errorf("%q accepted", raw)
		}
	}
}

func TestParseEvents(t *testing.T) {
	got, err := ParseEvents([]string{MessageCreated, ConversationCreated, MessageCreated})
	if err != nil || len(got) != 2 || got[0] != ConversationCreated {
		t.Fatalf("%v %v", got, err)
	}
	if _, err := ParseEvents([]string{"message.deleted"}); err == nil {
		t.Error("an unknown type accepted")
	}
	if _, err := ParseEvents(nil); err == nil {
		t.Error("no type accepted")
	}
	if s := JoinEvents(got); s != ",conversation.created,message.created," || len(SplitEvents(s)) != 2 {
		t.Errorf("stored as %q", s)
	}
	for _, e := range DefaultEvents() {
		if e == NoteCreated {
			t.Error("notes are sent by default")
		}
	}
}
