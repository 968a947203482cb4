package dsr

import "testing"

// The right a mail to the privacy address asks for, and its ground.
func TestClassifyMail(t *testing.T) {
	for _, tc := range []struct{ subject, text, typ, ground string }{
		{"Unsubscribe", "", "consent_withdrawal", "marketing_email"},
		{"Objection", "I object to your marketing mails", "objection", "direct_marketing"},
		{"", "Please restrict processing of my data", "restriction", ""},
		{"Data portability", "", "portability", ""},
	} {
		typ, ground, _ := classifyMail(tc.subject, tc.text, "a@b.example")
		if typ != tc.typ || ground != tc.ground {
			t.Errorf("%q %q: %s %s", tc.subject, tc.text, typ, ground)
		}
	}
}
