package handlers

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/convot/convot/internal/realtime"
	"github.com/convot/convot/models"
	"github.com/convot/convot/workflows"
)

// inbox.js in a real browser: the live socket, the composer, canned
// responses, state buttons, the filter and stars kept in local storage, and
// visitor text that stays text. (The end-to-end widget-to-inbox test is
// separate; this one drives the operator side only.)
func TestInboxInBrowser(t *testing.T) {
	ts, w := acmeInbox(t)
	ada, conv := w.conversation(t, models.Contact{Name: "Ada Lovelace", Email: "ada@example.test"}, "Hello from the widget")
	ts.db.Create(&models.CannedResponse{OrganizationID: w.org.ID, Shortcut: "thanks", Body: "Thank you for waiting!", CreatedAt: ts.clock(), UpdatedAt: ts.clock()})

	page := pageDriver{t, newBrowserContext(t, chromium(t))}
	run, waitJS, eval := page.run, page.waitJS, page.eval
	sel := func(id string) chromedp.CSS { return chromedp.CSS(`[data-testid="` + id + `"]`) }

	run("sign in",
		chromedp.Navigate(ts.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS(`input[name="email"]`), "olivia@acme.test"),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), "correct horse battery"),
		chromedp.Submit(chromedp.CSS(`input[name="password"]`)),
		chromedp.WaitVisible(sel("nav-inbox")),
	)
	run("open the conversation",
		chromedp.Navigate(ts.URL+"/inbox?status=open&assignment=all"),
		chromedp.Click(sel("conversation-item")+` a`),
		chromedp.WaitVisible(sel("composer-textarea")),
	)
	waitJS("socket live", `document.getElementById("inbox").dataset.live === "live"`)

	// A visitor's message, with markup in it, appears live as text.
	evil := `<img src=x onerror="window.__xss=1">Where is my order?`
	w.contactSays(t, ada, reloadConversation(t, ts, conv), evil)
	waitJS("live message", `[...document.querySelectorAll('[data-testid="message-body"]')].some(e => e.textContent === `+jsString(evil)+`)`)
	if eval("no script ran", `String(window.__xss === 1 || !!document.querySelector('.messages img'))`) != "false" {
		t.Fatal("visitor text ran as markup")
	}
	// The operator had the conversation open: the message is read.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var unread int64
		ts.db.Model(&models.Message{}).Where("conversation_id = ? AND author_type = ? AND read_at IS NULL", conv.ID, workflows.AuthorContact).Count(&unread)
		if unread == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the live message was not marked read")
		}
	}

	// "/" + shortcut inserts a canned response; the reply is sent by fetch.
	run("canned response",
		chromedp.SendKeys(sel("composer-textarea"), "/tha"),
		chromedp.WaitVisible(sel("canned-suggestion")),
		chromedp.SendKeys(sel("composer-textarea"), "\t"),
	)
	if text := eval("composer text", `document.querySelector('[data-testid="composer-textarea"]').value`); text != "Thank you for waiting!" {
		t.Fatalf("composer after the canned shortcut: %q", text)
	}
	run("send", chromedp.Click(sel("composer-send")))
	waitJS("reply shown", `[...document.querySelectorAll('[data-testid="message"][data-author-type="operator"] [data-testid="message-body"]')].some(e => e.textContent === "Thank you for waiting!") && document.querySelector('[data-testid="composer-textarea"]').value === ""`)
	var replies int64
	ts.db.Model(&models.Message{}).Where("conversation_id = ? AND author_type = ? AND private = ?", conv.ID, workflows.AuthorOperator, false).Count(&replies)
	if replies != 1 {
		t.Fatalf("%d replies stored", replies)
	}
	// The visitor reads it: "Seen" appears live.
	var reply models.Message
	ts.db.Where("conversation_id = ? AND author_type = ?", conv.ID, workflows.AuthorOperator).First(&reply)
	if err := ts.srv.Conversations.MarkRead(context.Background(), w.org, conv, workflows.AuthorContact, reply.ID); err != nil {
		t.Fatal(err)
	}
	waitJS("seen", `!document.querySelector('[data-message-id="`+itoa(reply.ID)+`"] [data-testid="message-seen"]').hidden`)

	// A private note, marked as such.
	run("note",
		chromedp.Click(sel("composer-note-toggle")),
		chromedp.SendKeys(sel("composer-textarea"), "VIP customer"),
		chromedp.Click(sel("composer-send")),
	)
	waitJS("note shown", `[...document.querySelectorAll('[data-testid="message"][data-private="true"]')].some(e => e.textContent.includes("VIP customer") && e.querySelector('[data-testid="message-note-badge"]'))`)

	// A reply with a file (multipart through fetch); typing it is
	// announced to the visitor.
	file := filepath.Join(t.TempDir(), "receipt.png")
	if err := os.WriteFile(file, append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 2048)...), 0o600); err != nil {
		t.Fatal(err)
	}
	visitor, stop, err := ts.srv.Hub.Subscribe(context.Background(), realtime.ConversationTopic(conv.ID))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ts.advance(2 * time.Second) // past the server's typing throttle
	run("attach",
		chromedp.Click(sel("composer-note-toggle")), // back to replies
		chromedp.SetUploadFiles(sel("composer-file"), []string{file}),
		chromedp.SendKeys(sel("composer-textarea"), "Your receipt"),
		chromedp.Click(sel("composer-send")),
	)
	waitJS("attachment shown", `[...document.querySelectorAll('[data-testid="attachment-link"]')].some(a => a.textContent === "receipt.png" && a.getAttribute("href").includes("/attachments/"))`)
	var atts int64
	ts.db.Model(&models.Attachment{}).Where("conversation_id = ? AND message_id <> 0", conv.ID).Count(&atts)
	if atts != 1 {
		t.Fatalf("%d attachments stored", atts)
	}
	heard := false
	for deadline := time.After(5 * time.Second); !heard; {
		select {
		case p := <-visitor:
			heard = strings.Contains(string(p), `"type":"typing"`) && strings.Contains(string(p), `"author_type":"operator"`)
		case <-deadline:
			t.Fatal("the visitor did not hear the operator typing")
		}
	}
	ts.srv.Conversations.Publish(context.Background(), w.org, conv, realtime.LiveEvent{Type: "typing", ConversationID: conv.ID, AuthorType: workflows.AuthorContact}, true)
	waitJS("visitor typing shown", `!document.querySelector('[data-testid="typing-indicator"]').hidden`)

	// Assign to me, resolve, reopen: the view follows without a reload.
	run("assign", chromedp.Click(sel("assign-me-button")))
	waitJS("assigned", `document.querySelector('[data-testid="conversation-assignee"]').textContent === "Olivia Owner"`)
	run("resolve", chromedp.Click(sel("resolve-button")))
	waitJS("resolved", `document.querySelector('[data-testid="conversation-status"]').textContent === "resolved" && !document.querySelector('[data-testid="reopen-button"]').closest("form").hidden && document.querySelector('[data-testid="resolve-button"]').closest("form").hidden`)
	if got := reloadConversation(t, ts, conv); got.Status != models.ConversationResolved || got.AssigneeID == nil || *got.AssigneeID != w.ownerID {
		t.Fatalf("after the buttons: %+v", got)
	}
	// A change made elsewhere (another operator's tab) arrives live.
	if err := ts.srv.Conversations.SetState(context.Background(), w.org, reloadConversation(t, ts, conv), workflows.SignalReopen, nil); err != nil {
		t.Fatal(err)
	}
	waitJS("reopened live", `document.querySelector('[data-testid="conversation-status"]').textContent === "open"`)
	run("wait on the contact", chromedp.Click(sel("pending-button")))
	waitJS("pending", `document.querySelector('[data-testid="conversation-status"]').textContent === "pending" && document.querySelector('[data-testid="pending-button"]').closest("form").hidden`)
	if got := reloadConversation(t, ts, conv); got.Status != models.ConversationPending {
		t.Fatalf("after Wait on contact: %s", got.Status)
	}

	// A new conversation appears at the top of the list.
	_, fresh := w.conversation(t, models.Contact{Name: "Grace Hopper"}, "New question")
	waitJS("new conversation listed", `document.querySelector('[data-testid="conversation-item"]')?.dataset.conversationId === "`+itoa(fresh.ID)+`"`)

	// The filter is kept in local storage and restored.
	run("filter", chromedp.Click(sel("filter-status-resolved")))
	waitJS("filtered", `document.getElementById("inbox").dataset.status === "resolved" && location.search.includes("status=resolved")`)
	run("inbox again", chromedp.Navigate(ts.URL+"/inbox"))
	waitJS("filter restored", `document.getElementById("inbox").dataset.status === "resolved" && document.querySelector('[data-testid="filter-status-resolved"]').classList.contains("on")`)
	stored := eval("stored filter", `localStorage.getItem("convot.inbox.filter.`+itoa(w.org.ID)+`") || ""`)
	if !strings.Contains(stored, `"resolved"`) {
		t.Fatalf("stored filter: %q", stored)
	}

	// Stars, kept in local storage; starred contacts first.
	run("star",
		chromedp.Navigate(ts.URL+"/inbox/contacts"),
		chromedp.Click(chromedp.CSS(`[data-testid="contact-row"][data-contact-id="`+itoa(ada.ID)+`"] [data-testid="star-toggle"]`)),
		chromedp.Navigate(ts.URL+"/inbox/contacts?"+url.Values{"q": {""}}.Encode()),
	)
	waitJS("starred first", `document.querySelector('[data-testid="contact-row"]')?.dataset.contactId === "`+itoa(ada.ID)+`" && document.querySelector('[data-testid="contact-row"] [data-testid="star-toggle"]').getAttribute("aria-pressed") === "true"`)
}

// jsString quotes a Go string as a JavaScript string literal.
func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "<", `\x3c`)
	return `"` + r.Replace(s) + `"`
}
