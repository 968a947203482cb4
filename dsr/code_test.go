package dsr

import "testing"

// Issue 15 item 11: "an access request", not "a access request"; "1
// attempt left", not "1 attempts left".
func TestRequestPhraseAndAttemptsLeftGrammar(t *testing.T) {
	for typ, want := range map[string]string{
		"access": "an access request", "erasure": "an erasure request", "objection": "an objection request",
		"rectification": "a rectification request", "portability": "a portability request", "consent_withdrawal": "a consent withdrawal request",
	} {
		if got := RequestPhrase(typ); got != want {
			t.Errorf("RequestPhrase(%q) = %q, want %q", typ, got, want)
		}
	}
	if got := AttemptsLeft(1); got != "1 attempt" {
		t.Errorf("AttemptsLeft(1) = %q", got)
	}
	if got := AttemptsLeft(4); got != "4 attempts" {
		t.Errorf("AttemptsLeft(4) = %q", got)
	}
}
