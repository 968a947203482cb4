package activities

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/convot/convot/assist"
	"github.com/convot/convot/internal/testdb"
	"github.com/convot/convot/internal/testenv"
	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

type aiFixture struct {
	st      *store.Store
	a       *Activities
	org     models.Organization
	contact models.Contact
	conv    models.Conversation
	calls   *atomic.Int32 // requests that reached the fake Anthropic
}

// newAIFixture: an organization with the given AI settings, a German
// conversation, the local provider and a fake Anthropic that answers
// status (200 or an error).
func newAIFixture(t *testing.T, settings string, status int) *aiFixture {
	t.Helper()
	db := testdb.New(t)
	f := &aiFixture{st: store.New(db.DB, db.Keys), calls: &atomic.Int32{}}
	f.org = models.Organization{PublicKey: "pk_ai_act", CompanyName: "Acme", Region: "eu", Status: models.OrgActive, AISettings: settings}
	if err := db.Create(&f.org).Error; err != nil {
		t.Fatal(err)
	}
	f.contact = models.Contact{OrganizationID: f.org.ID, Name: "Alice"}
	if err := db.Create(&f.contact).Error; err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	f.conv = models.Conversation{OrganizationID: f.org.ID, ContactID: f.contact.ID, DataKeyID: f.contact.DataKeyID,
		Channel: "widget", Status: "resolved", LastMessageAt: now, CreatedAt: now, UpdatedAt: now}
	if err := db.Create(&f.conv).Error; err != nil {
		t.Fatal(err)
	}
	for i, m := range []struct{ author, body string }{
		{"contact", "Hallo, meine Bestellung ist leider immer noch nicht angekommen. Können Sie bitte nachsehen?"},
		{"operator", "Danke, wir prüfen das sofort und melden uns heute noch bei Ihnen."},
		{"contact", "Vielen Dank, ich warte dann auf Ihre Nachricht zu meiner Bestellung."},
	} {
		msg := models.Message{OrganizationID: f.org.ID, ConversationID: f.conv.ID, DataKeyID: f.contact.DataKeyID,
			AuthorType: m.author, Body: m.body, DeliveryStatus: "sent", CreatedAt: now.Add(time.Duration(i) * time.Second)}
		if err := db.Create(&msg).Error; err != nil {
			t.Fatal(err)
		}
	}
	anth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		f.calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		if status != http.StatusOK {
			_, _ = io.WriteString(w, `{"type":"error","error":{"type":"api_error","message":"down"}}`)
			return
		}
		_, _ = io.WriteString(w, `{"id":"msg_1","type":"message","role":"assistant","model":"claude-test","content":[{"type":"text","text":"Summary from Claude"}],"stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":1}}`)
	}))
	t.Cleanup(anth.Close)
	gate, err := policies.NewGate(context.Background(), policies.NewMemoryLog())
	if err != nil {
		t.Fatal(err)
	}
	catalog, err := assist.Configure(gate, assist.Options{AnthropicAPIKey: "sk-ant-test", AnthropicBaseURL: anth.URL,
		Models: map[string]string{"anthropic": "claude-test"}, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	svc := assist.NewService(f.st, catalog)
	svc.Timeout = 2 * time.Second
	f.a = &Activities{Store: f.st, Assist: svc}
	return f
}

func (f *aiFixture) req() workflows.ConversationAIRequest {
	return workflows.ConversationAIRequest{ConversationID: f.conv.ID, OrganizationID: f.org.ID}
}

func (f *aiFixture) summaries(t *testing.T) []models.AIOutput {
	t.Helper()
	out, err := f.st.AIOutputs(context.Background(), f.org.ID, f.conv.ID, models.AIOutputSummary)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// With summaries and language detection on the local provider, a resolved
// conversation gets a stored summary and the contact their language.
func TestSummarizeAndDetectWithTheLocalProvider(t *testing.T) {
	f := newAIFixture(t, "summary=local;language_detection=local", http.StatusOK)
	env := testenv.ActivityEnv(f.a.SummarizeConversation)
	env.RegisterActivity(f.a.DetectContactLanguage)
	if _, err := env.ExecuteActivity(f.a.SummarizeConversation, f.req()); err != nil {
		t.Fatal(err)
	}
	got := f.summaries(t)
	if len(got) != 1 || got[0].Provider != assist.ProviderLocal || !strings.Contains(got[0].Text, "Bestellung") {
		t.Fatalf("summaries %+v", got)
	}
	if _, err := env.ExecuteActivity(f.a.DetectContactLanguage, f.req()); err != nil {
		t.Fatal(err)
	}
	ct, err := f.st.Contact(context.Background(), f.org.ID, f.contact.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ct.Language != "de" {
		t.Fatalf("contact language %q, want de", ct.Language)
	}
}

// Summaries off, or a contact who objected to automated decisions: the
// activity succeeds (nothing to retry) and stores and sends nothing.
func TestSummarizeNothingWhenOffOrObjected(t *testing.T) {
	t.Run("off", func(t *testing.T) {
		f := newAIFixture(t, "language_detection=local", http.StatusOK)
		env := testenv.ActivityEnv(f.a.SummarizeConversation)
		if _, err := env.ExecuteActivity(f.a.SummarizeConversation, f.req()); err != nil {
			t.Fatal(err)
		}
		if n := len(f.summaries(t)); n != 0 {
			t.Fatalf("%d summaries", n)
		}
	})
	t.Run("objected", func(t *testing.T) {
		f := newAIFixture(t, "summary=anthropic;language_detection=local", http.StatusOK)
		if err := f.st.RecordSubjectPreference(context.Background(), models.SubjectPreference{OrganizationID: f.org.ID, ContactID: f.contact.ID,
			Kind: models.PreferenceObjection, Value: "automated_decisions", Active: true, Source: "widget"}); err != nil {
			t.Fatal(err)
		}
		env := testenv.ActivityEnv(f.a.SummarizeConversation)
		env.RegisterActivity(f.a.DetectContactLanguage)
		if _, err := env.ExecuteActivity(f.a.SummarizeConversation, f.req()); err != nil {
			t.Fatal(err)
		}
		if _, err := env.ExecuteActivity(f.a.DetectContactLanguage, f.req()); err != nil {
			t.Fatal(err)
		}
		if n := len(f.summaries(t)); n != 0 || f.calls.Load() != 0 {
			t.Fatalf("%d summaries, %d provider calls", n, f.calls.Load())
		}
	})
}

// A remote provider (fake Anthropic) that answers: the summary is stored;
// one that fails: the activity fails (the workflow retries, then leaves
// the conversation as it was) and nothing is stored.
func TestSummarizeRemoteProvider(t *testing.T) {
	f := newAIFixture(t, "summary=anthropic", http.StatusOK)
	env := testenv.ActivityEnv(f.a.SummarizeConversation)
	if _, err := env.ExecuteActivity(f.a.SummarizeConversation, f.req()); err != nil {
		t.Fatal(err)
	}
	if got := f.summaries(t); len(got) != 1 || got[0].Text != "Summary from Claude" {
		t.Fatalf("summaries %+v", got)
	}
	down := newAIFixture(t, "summary=anthropic", http.StatusInternalServerError)
	env = testenv.ActivityEnv(down.a.SummarizeConversation)
	if _, err := env.ExecuteActivity(down.a.SummarizeConversation, down.req()); err == nil {
		t.Fatal("a failing provider did not fail the activity")
	}
	if n := len(down.summaries(t)); n != 0 || down.calls.Load() == 0 {
		t.Fatalf("%d summaries, %d provider calls", n, down.calls.Load())
	}
}
