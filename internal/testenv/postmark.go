package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// PostmarkMail is one mail the fake Postmark API received, in the fields
// of Postmark's email API that tests look at.
type PostmarkMail struct {
	From, To, ReplyTo, Subject, TextBody, HtmlBody, MessageStream, Tag string
	Headers                                                            []struct{ Name, Value string }
}

// Header returns the value of a custom header of the mail, or "".
func (m PostmarkMail) Header(name string) string {
	for _, h := range m.Headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

// FakePostmark is Postmark's email API as tests see it: it accepts mail
// sent with its server token to URL/email and keeps every one, so a test
// can run the production mail path (suppressions, the gated client) and
// read what left.
type FakePostmark struct {
	URL   string
	Token string

	mu   sync.Mutex
	sent []PostmarkMail
}

// NewFakePostmark starts a fake Postmark API that accepts token; it stops
// when the test ends.
func NewFakePostmark(t testing.TB, token string) *FakePostmark {
	t.Helper()
	f := &FakePostmark{Token: token}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

func (f *FakePostmark) serve(w http.ResponseWriter, r *http.Request) {
	var m PostmarkMail
	if r.URL.Path != "/email" || r.Header.Get("X-Postmark-Server-Token") != f.Token || json.NewDecoder(r.Body).Decode(&m) != nil {
		http.Error(w, "unexpected request", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.sent = append(f.sent, m)
	f.mu.Unlock()
	id := make([]byte, 8)
	_, _ = rand.Read(id) // crypto/rand does not fail on supported platforms
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(map[string]any{"MessageID": hex.EncodeToString(id), "ErrorCode": 0, "Message": "OK"}); err != nil {
		http.Error(w, "encode", http.StatusInternalServerError)
	}
}

// Mails returns every mail received so far, oldest first.
func (f *FakePostmark) Mails() []PostmarkMail {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]PostmarkMail(nil), f.sent...)
}

// Last returns the newest mail with tag, failing the test when none came.
func (f *FakePostmark) Last(t testing.TB, tag string) PostmarkMail {
	t.Helper()
	mails := f.Mails()
	for i := len(mails) - 1; i >= 0; i-- {
		if mails[i].Tag == tag {
			return mails[i]
		}
	}
	t.Fatalf("no %s mail among %d", tag, len(mails))
	return PostmarkMail{}
}
