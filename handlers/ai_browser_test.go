package handlers

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/convot/convot/activities"
	"github.com/convot/convot/assist"
	"github.com/convot/convot/conversation"
	"github.com/convot/convot/internal/testenv"
	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/workflows"
)

// fakeSelfHosted is an OpenAI-compatible endpoint (Convot's own
// infrastructure) that translates: it records what arrives.
type fakeSelfHosted struct {
	mu     sync.Mutex
	bodies []string
}

func (f *fakeSelfHosted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.bodies = append(f.bodies, string(b))
	f.mu.Unlock()
	text := "What are your opening hours?"
	if strings.Contains(string(b), "Paket") {
		text = "Hello, my parcel has not arrived. Can you help me?"
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"id":"c1","object":"chat.completion","created":1,"model":"llama3","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"`+text+`"}}]}`)
}

// The AI features end to end, on a Temporal dev server running the
// conversation workflow and its activities: the bot answers the visitor's
// question from a help article (marked "Automated answer") and hands the
// conversation to the team on "Talk to a person"; the visitor then writes
// in German, the operator sees an English translation (the self-hosted
// endpoint), clicks Suggest, edits the draft and sends it, and Summarize
// shows a summary.
func TestAIAssistanceInTheBrowser(t *testing.T) {
	browser := chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	c := testenv.TemporalDevServer(t, ctx, client.Options{})
	if _, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: "default",
		SearchAttributes: map[string]enumspb.IndexedValueType{
			workflows.ConvotOrgId.GetName():        enumspb.INDEXED_VALUE_TYPE_KEYWORD,
			workflows.ConversationStatus.GetName(): enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		},
	}); err != nil {
		t.Fatal(err)
	}
	fake := &fakeSelfHosted{}
	endpoint := httptest.NewServer(fake)
	t.Cleanup(endpoint.Close)
	gate, err := policies.NewGate(ctx, policies.NewMemoryLog())
	if err != nil {
		t.Fatal(err)
	}
	catalog, err := assist.Configure(gate, assist.Options{SelfHostedURL: endpoint.URL + "/v1/", SelfHostedModel: "llama3", MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	ts := newConfiguredTestServer(t, func(s *Server) {
		s.Temporal, s.Lifecycles, s.AI = c, nil, catalog
	})
	w := newInboxWorld(t, ts, "olivia@ai.test", "AI Shop")
	host := hostPage(t, ts.URL, w.org.PublicKey)
	if err := ts.db.Model(&models.Organization{}).Where("id = ?", w.org.ID).Updates(map[string]any{
		"allowed_origins": host.URL,
		"ai_settings":     "summary=local;suggested_reply=local;automated_answer=local;translation=self_hosted;language_detection=local",
	}).Error; err != nil {
		t.Fatal(err)
	}
	if err := ts.srv.Store.CreateHelpArticle(ctx, &models.HelpArticle{OrganizationID: w.org.ID, Title: "Opening hours",
		Body: "Our opening hours: the shop is open Monday to Friday from 9:00 to 18:00. <b>Welcome</b>", CreatedAt: time.Now(), UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}

	wk := worker.New(c, workflows.TaskQueue, worker.Options{})
	workflows.Register(wk)
	activities.Register(wk, &activities.Activities{Store: ts.srv.Store, Keys: ts.db.Keys, Mail: ts.outbox, MailFrom: "Convot <no-reply@convot.io>",
		BaseURL: ts.URL, Blobs: ts.blobs, Hub: ts.srv.Hub, Assist: ts.srv.Assist,
		Conversations: &conversation.Service{Store: ts.srv.Store, Keys: ts.db.Keys, Hub: ts.srv.Hub, Blobs: ts.blobs, Now: time.Now}})
	if err := wk.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(wk.Stop)

	// The visitor asks what a help article answers: the bot replies,
	// marked as automated; "Talk to a person" hands over.
	visitor := pageDriver{t, newBrowserContext(t, browser)}
	visitor.run("the visitor opens the chat",
		chromedp.Navigate(host.URL),
		waitJS(`!!(window.ConvotWidget && window.ConvotWidget.root && window.ConvotWidget.root.querySelector('[data-testid=convot-launcher]'))`),
		step(chromedp.Evaluate[bool](`window.ConvotWidget.ready.then(() => true)`, chromedp.EvalAwaitPromise)),
		chromedp.Click(chromedp.JSPath(inShadow("convot-launcher"))),
		waitJS(`window.ConvotWidget.isOpen()`),
		chromedp.SendKeys(chromedp.JSPath(inShadow("convot-input")), "What are your opening hours?"),
		chromedp.Click(chromedp.JSPath(inShadow("convot-send"))),
		waitJS(`window.ConvotWidget.state().conversationId > 0`),
	)
	visitor.waitJS("the bot answers from the help article",
		`[...window.ConvotWidget.root.querySelectorAll('[data-testid=convot-message][data-automated=true]')].some(e => e.textContent.includes('Automated answer') && e.textContent.includes('Monday to Friday from 9:00 to 18:00'))`)
	if got := visitor.eval("the answer is text", `(() => { const m = [...window.ConvotWidget.root.querySelectorAll('[data-testid=convot-message][data-automated=true]')].pop(); return m.querySelector('b') ? 'markup' : m.textContent; })()`); !strings.Contains(got, "<b>Welcome</b>") {
		t.Fatalf("the bot's answer was rendered as markup: %q", got)
	}
	visitor.waitJS("Talk to a person is offered", `!`+inShadow("convot-handover")+`.hidden`)
	visitor.run("the visitor asks for a person", chromedp.Click(chromedp.JSPath(inShadow("convot-handover"))))
	visitor.waitJS("the visitor sees the notice",
		`[...window.ConvotWidget.root.querySelectorAll('[data-testid=convot-message][data-author=system]')].some(e => e.textContent.includes('talking to our team')) && `+inShadow("convot-handover")+`.hidden`)

	// The operator sees the conversation handed over.
	operator := pageDriver{t, newBrowserContext(t, browser)}
	operator.run("the operator signs in",
		chromedp.Navigate(ts.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "olivia@ai.test"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), "correct horse battery"),
		chromedp.Submit(chromedp.CSS(`input[name=password]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=nav-inbox]`)),
	)
	var conv models.Conversation
	if err := ts.db.Where("organization_id = ?", w.org.ID).First(&conv).Error; err != nil {
		t.Fatal(err)
	}
	convURL := ts.URL + "/inbox/conversations/" + itoa(conv.ID)
	operator.run("the operator opens the conversation",
		chromedp.Navigate(convURL),
		waitJS(`document.querySelector('[data-testid=inbox]').getAttribute('data-live') === 'live'`),
	)
	operator.waitJS("the operator sees the handover and the automated answer",
		`document.body.textContent.includes('Handed to the team: the visitor asked for a person') && !!document.querySelector('[data-testid=conversation-needs-human]') && [...document.querySelectorAll('[data-testid=message-author]')].some(e => e.textContent === 'Automated answer')`)

	// The visitor writes in German; the bot is out of it now.
	visitor.run("the visitor writes in German",
		chromedp.SendKeys(chromedp.JSPath(inShadow("convot-input")), "Hallo, mein Paket ist noch nicht angekommen. Können Sie mir helfen?"),
		chromedp.Click(chromedp.JSPath(inShadow("convot-send"))),
	)
	operator.waitJS("the German message arrives live",
		`[...document.querySelectorAll('[data-testid=message-body]')].some(e => e.textContent.includes('Paket'))`)
	operator.run("the operator translates",
		chromedp.Navigate(convURL),
		waitJS(`document.querySelector('[data-testid=inbox]').getAttribute('data-live') === 'live'`),
		chromedp.Click(chromedp.CSS(`[data-testid=ai-translate]`)),
	)
	operator.waitJS("the English translation beside the original",
		`[...document.querySelectorAll('[data-testid=message-translation]')].some(e => !e.hidden && e.textContent === 'Hello, my parcel has not arrived. Can you help me?')`)
	operator.run("the operator asks for a suggestion", chromedp.Click(chromedp.CSS(`[data-testid=ai-suggest]`)))
	operator.waitJS("the draft is in the composer", `document.querySelector('[data-testid=composer-textarea]').value.length > 10`)
	draft := operator.eval("the draft", `document.querySelector('[data-testid=composer-textarea]').value`)
	operator.run("the operator edits and sends",
		chromedp.SendKeys(chromedp.CSS(`[data-testid=composer-textarea]`), " Ihr Paket kommt morgen."),
		chromedp.Click(chromedp.CSS(`[data-testid=composer-send]`)),
	)
	sent := draft + " Ihr Paket kommt morgen."
	visitor.waitJS("the visitor gets the edited reply",
		`[...window.ConvotWidget.root.querySelectorAll('[data-testid=convot-message-body]')].some(e => e.textContent === `+jsString(sent)+`)`)

	operator.run("the operator summarizes", chromedp.Click(chromedp.CSS(`[data-testid=ai-summarize]`)))
	operator.waitJS("the summary shows", `document.querySelector('[data-testid=ai-summary]').textContent.length > 10`)

	// The bot wrote once; the handover persisted; only the translations
	// went to the self-hosted endpoint.
	var bots int64
	ts.db.Model(&models.Message{}).Where("conversation_id = ? AND automated", conv.ID).Count(&bots)
	if err := ts.db.First(&conv, conv.ID).Error; err != nil {
		t.Fatal(err)
	}
	if bots != 1 || conv.HandedOverAt == nil || conv.HandoverReason != models.HandoverAsked {
		t.Fatalf("%d automated answers; conversation %+v", bots, conv)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	for _, b := range fake.bodies {
		if !strings.Contains(b, "Translate the text below") {
			t.Fatalf("the self-hosted endpoint got more than translations: %s", b)
		}
	}
}
