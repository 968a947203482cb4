package webhooks

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/conversation"
	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/internal/config"
	"github.com/convot/convot/internal/mail"
)

// FuzzPostmarkInboundMail: whatever JSON Postmark (or someone posing as
// it) sends, reading a mail never panics, and what it yields is what the
// rest assumes: a canonical sender, lowercase recipients each once, a
// valid Message-ID, and text that is valid UTF-8 without NUL, within the
// message length.
func FuzzPostmarkInboundMail(f *testing.F) {
	for _, name := range []string{"plain.json", "quoted_reply.json", "attachments.json", "forwarded.json"} {
		if b, err := os.ReadFile("../testdata/postmark/" + name); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var in postmarkInboundMail
		if json.Unmarshal(data, &in) != nil {
			return
		}
		if from, name, ok := in.sender(); ok {
			if canonical, err := mail.CanonicalAddress(from); err != nil || canonical != from || !utf8.ValidString(name) || strings.ContainsRune(name, 0) {
				t.Fatalf("sender %q %q", from, name)
			}
		}
		seen := map[string]bool{}
		for _, r := range in.recipients() {
			if r == "" || r != strings.ToLower(r) || len(r) > 254 || seen[r] {
				t.Fatalf("recipient %q of %q", r, in.recipients())
			}
			seen[r] = true
		}
		if id := in.messageID(); id != "" && (strings.ContainsAny(id, " <>\r\n") || !strings.Contains(id, "@")) {
			t.Fatalf("message id %q", id)
		}
		text := in.text()
		if !site.ValidText(text) || utf8.RuneCountInString(text) > conversation.MaxMessageRunes {
			t.Fatalf("text of %d runes, valid %v", utf8.RuneCountInString(text), site.ValidText(text))
		}
	})
}

// FuzzPostmarkAuth: the webhooks' basic auth lets a request through only
// with exactly the configured user and password, whatever the
// Authorization header holds.
func FuzzPostmarkAuth(f *testing.F) {
	const user, password = "postmark", "a-long-webhook-password"
	basic := func(u, p string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(u+":"+p)) }
	f.Add(basic(user, password), user, password)
	f.Add(basic(user, password+"x"), "", "")
	f.Add("Basic !!!", "postmark:", "a-long-webhook-password")
	f.Add("Bearer "+password, user+"\x00", password)
	gin.SetMode(gin.ReleaseMode)
	h := &Handler{Site: &site.Site{Config: &config.Config{PostmarkInboundUser: user, PostmarkInboundPassword: password}}}
	passes := func(authorization string) bool {
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		c.Request = httptest.NewRequest(http.MethodPost, "/webhooks/postmark/inbound", nil)
		if authorization != "" {
			c.Request.Header.Set("Authorization", authorization)
		}
		h.postmarkAuth(c)
		return !c.IsAborted()
	}
	f.Fuzz(func(t *testing.T, authorization, u, p string) {
		req := httptest.NewRequest(http.MethodPost, "/", nil)
		req.Header.Set("Authorization", authorization)
		gotUser, gotPassword, ok := req.BasicAuth()
		if want := ok && gotUser == user && gotPassword == password; passes(authorization) != want {
			t.Fatalf("header %q: passed %v, want %v", authorization, !want, want)
		}
		if passes(basic(u, p)) != (u == user && p == password) {
			t.Fatalf("credentials %q %q", u, p)
		}
	})
}
