package activities

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/convot/convot/assist"
	"github.com/convot/convot/conversation"
	"github.com/convot/convot/internal/realtime"
	"github.com/convot/convot/internal/testenv"
	"github.com/convot/convot/models"
	"github.com/convot/convot/workflows"
)

// withBot gives the fixture's activities a conversation service on a live
// hub, and the organization a help article.
func (f *aiFixture) withBot(t *testing.T) realtime.Hub {
	t.Helper()
	hub := realtime.NewLocal()
	f.a.Conversations = &conversation.Service{Store: f.st, Keys: f.st.Keys(), Hub: hub, Now: time.Now}
	if err := f.st.CreateHelpArticle(context.Background(), &models.HelpArticle{OrganizationID: f.org.ID, Title: "Lieferung",
		Body:      "Ihre Bestellung kommt innerhalb von 5 Werktagen an; die Sendungsnummer steht in der Versandbestätigung.",
		CreatedAt: time.Now(), UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	return hub
}

func (f *aiFixture) messagesOf(t *testing.T, private bool) []models.Message {
	t.Helper()
	msgs, err := f.st.Messages(context.Background(), f.org.ID, f.conv.ID, private, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// A confident answer is stored as an automated message of the bot (its
// text as text) and delivered live to the visitor like an operator's; the
// lifecycle hears nothing of it.
func TestAnswerVisitorPostsAutomatedAnswer(t *testing.T) {
	f := newAIFixture(t, "automated_answer=local", http.StatusOK)
	hub := f.withBot(t)
	q, _, err := f.a.Conversations.Post(context.Background(), &f.org, &f.conv, conversation.Author{Kind: workflows.AuthorContact, ID: f.contact.ID},
		"Wann kommt meine Bestellung an, und wo steht die Sendungsnummer?", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	events, cancel, err := hub.Subscribe(context.Background(), realtime.ConversationTopic(f.conv.ID))
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	env := testenv.ActivityEnv(f.a.AnswerVisitor)
	val, err := env.ExecuteActivity(f.a.AnswerVisitor, workflows.AnswerRequest{ConversationID: f.conv.ID, OrganizationID: f.org.ID, MessageID: q.ID})
	if err != nil {
		t.Fatal(err)
	}
	var res workflows.AnswerResult
	if err := val.Get(&res); err != nil {
		t.Fatal(err)
	}
	msgs := f.messagesOf(t, false)
	last := msgs[len(msgs)-1]
	if res.MessageID == 0 || res.HandOver != "" || last.ID != res.MessageID || last.AuthorType != workflows.AuthorBot ||
		!last.Automated || !strings.Contains(last.Body, "5 Werktagen") {
		t.Fatalf("result %+v, last message %+v", res, last)
	}
	select {
	case ev := <-events:
		if !strings.Contains(string(ev), `"automated":true`) || !strings.Contains(string(ev), "5 Werktagen") {
			t.Fatalf("live event %s", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the visitor was not sent the answer live")
	}
}

// Not confident, or an objecting contact: nothing posted, the result says
// to hand over; the handover marks the conversation (once), writes the
// operators' event line and the visitor's notice.
func TestAnswerVisitorHandsOver(t *testing.T) {
	t.Run("objected", func(t *testing.T) {
		f := newAIFixture(t, "automated_answer=anthropic", http.StatusOK)
		f.withBot(t)
		if err := f.st.RecordSubjectPreference(context.Background(), models.SubjectPreference{OrganizationID: f.org.ID, ContactID: f.contact.ID,
			Kind: models.PreferenceObjection, Value: "automated_decisions", Active: true, Source: "widget"}); err != nil {
			t.Fatal(err)
		}
		env := testenv.ActivityEnv(f.a.AnswerVisitor)
		val, err := env.ExecuteActivity(f.a.AnswerVisitor, workflows.AnswerRequest{ConversationID: f.conv.ID, OrganizationID: f.org.ID})
		if err != nil {
			t.Fatal(err)
		}
		var res workflows.AnswerResult
		_ = val.Get(&res)
		if res.HandOver != models.HandoverRefused || res.MessageID != 0 || f.calls.Load() != 0 {
			t.Fatalf("result %+v after %d provider calls", res, f.calls.Load())
		}
	})
	t.Run("handover", func(t *testing.T) {
		f := newAIFixture(t, "automated_answer=local", http.StatusOK)
		f.withBot(t)
		before := len(f.messagesOf(t, true))
		env := testenv.ActivityEnv(f.a.HandOverConversation)
		for range 2 {
			if _, err := env.ExecuteActivity(f.a.HandOverConversation, workflows.HandOverRequest{ConversationID: f.conv.ID,
				OrganizationID: f.org.ID, Reason: models.HandoverNotConfident}); err != nil {
				t.Fatal(err)
			}
		}
		all := f.messagesOf(t, true)
		if len(all) != before+2 {
			t.Fatalf("%d messages written, want the event line and the notice once", len(all)-before)
		}
		line, notice := all[len(all)-2], all[len(all)-1]
		if !line.Private || line.Body != "Handed to the team: the automated answers found no confident answer" ||
			notice.Private || notice.Body != conversation.HandoverNotice {
			t.Fatalf("line %+v notice %+v", line, notice)
		}
		conv, err := f.st.Conversation(context.Background(), f.org.ID, f.conv.ID)
		if err != nil || conv.HandedOverAt == nil || conv.HandoverReason != models.HandoverNotConfident {
			t.Fatalf("conversation %+v %v", conv, err)
		}
		// Handed over: the bot answers no more.
		env = testenv.ActivityEnv(f.a.AnswerVisitor)
		val, err := env.ExecuteActivity(f.a.AnswerVisitor, workflows.AnswerRequest{ConversationID: f.conv.ID, OrganizationID: f.org.ID})
		if err != nil {
			t.Fatal(err)
		}
		var res workflows.AnswerResult
		_ = val.Get(&res)
		if !res.Stopped {
			t.Fatalf("after the handover: %+v", res)
		}
	})
}

// Language detection runs only with detection or translation on.
func TestDetectLanguageOnce(t *testing.T) {
	off := newAIFixture(t, "summary=local", http.StatusOK)
	env := testenv.ActivityEnv(off.a.DetectLanguageOnce)
	val, err := env.ExecuteActivity(off.a.DetectLanguageOnce, off.req())
	if err != nil {
		t.Fatal(err)
	}
	var res workflows.LanguageResult
	_ = val.Get(&res)
	if res.Known {
		t.Fatal("detected with the feature off")
	}
	on := newAIFixture(t, "language_detection=local", http.StatusOK)
	env = testenv.ActivityEnv(on.a.DetectLanguageOnce)
	if val, err = env.ExecuteActivity(on.a.DetectLanguageOnce, on.req()); err != nil {
		t.Fatal(err)
	}
	_ = val.Get(&res)
	ct, _ := on.st.Contact(context.Background(), on.org.ID, on.contact.ID)
	if !res.Known || ct.Language != "de" {
		t.Fatalf("result %+v, language %q", res, ct.Language)
	}
}

// Indexing writes the conversation's embedding when embeddings are on.
func TestIndexConversation(t *testing.T) {
	f := newAIFixture(t, "embeddings=local", http.StatusOK)
	env := testenv.ActivityEnv(f.a.IndexConversation)
	if _, err := env.ExecuteActivity(f.a.IndexConversation, f.req()); err != nil {
		t.Fatal(err)
	}
	rows, err := f.st.Embeddings(context.Background(), f.org.ID, assist.Local{}.EmbeddingModel())
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].ConversationID != f.conv.ID {
		t.Fatalf("embeddings %+v", rows)
	}
}
