package handlers

import (
	"net/http"
	"strings"
	"testing"

	"github.com/convot/convot/models"
)

// Policy §5: the language a visitor chose in the widget is a preference
// entry in their browser's local storage; the widget sends it when the
// session starts and it wins over the browser's own languages.
func TestWidgetLanguagePreferenceWinsOverTheBrowsers(t *testing.T) {
	w := newWidgetWorld(t)
	v := w.visitor(t)
	v.lang = "fr-FR,fr;q=0.9"
	r := v.call(http.MethodPost, "/session", map[string]any{"page_url": "https://shop.test/", "language": "fr-FR", "preferred_language": "de", "create": true})
	if r.status != http.StatusOK {
		t.Fatalf("session: %d %s", r.status, r.body)
	}
	if tok, _ := r.json(t)["token"].(string); tok != "" {
		v.token = tok
	}
	if got := v.contact().BrowserLanguage; got != "de" {
		t.Fatalf("language %q, want the visitor's choice de", got)
	}
	js := string(staticFile(t, "widget.js"))
	for _, want := range []string{`"convot.language." + orgKey`, "preferred_language: loadLanguage()", `"convot-language"`} {
		if !strings.Contains(js, want) {
			t.Errorf("widget.js lacks %s", want)
		}
	}
}

// Policy §5: an operator's translation language is a preference entry in
// local storage (assist.js), sent with each translation; an unknown
// language is refused with a message.
func TestInboxTranslationLanguagePreference(t *testing.T) {
	_, w := acmeInbox(t)
	_, conv := w.conversation(t, models.Contact{Name: "Ada"}, "Bonjour")
	page := w.owner.get(convPath(conv, ""))
	if !strings.Contains(page.body, `data-testid="ai-language"`) {
		t.Fatal("the conversation page offers no translation language")
	}
	r := w.owner.fetch(http.MethodPost, convPath(conv, "/translate?language=xx"), "", nil)
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "language must be one of") {
		t.Fatalf("unknown language: %d %s", r.status, r.body)
	}
	js := string(staticFile(t, "assist.js"))
	for _, want := range []string{`"convot.inbox.language." + language.getAttribute("data-org")`, `"?language=" + encodeURIComponent(into)`} {
		if !strings.Contains(js, want) {
			t.Errorf("assist.js lacks %s", want)
		}
	}
}
