package assist

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/convot/convot/models"
)

// addContactMessage writes one more message of the contact.
func (f *fixture) addContactMessage(t *testing.T, body string) uint64 {
	t.Helper()
	m := models.Message{OrganizationID: f.org.ID, ConversationID: f.conv.ID, DataKeyID: f.contact.DataKeyID,
		AuthorType: "contact", Body: body, DeliveryStatus: "sent", CreatedAt: time.Now().UTC()}
	must(t, f.db.Create(&m).Error)
	return m.ID
}

func (f *fixture) addArticle(t *testing.T, title, body string) uint64 {
	t.Helper()
	a := models.HelpArticle{OrganizationID: f.org.ID, Title: title, Body: body, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	must(t, f.st.CreateHelpArticle(f.ctx, &a))
	return a.ID
}

func (f *fixture) sent() int {
	return len(f.anth.received()) + len(f.oai.received()) + len(f.selfHost.received())
}

// The local provider answers a question its help articles answer, from
// the article, and is not confident about one they do not; canned
// responses are knowledge too.
func TestAnswerVisitorLocal(t *testing.T) {
	f := newFixture(t, "automated_answer=local")
	refunds := f.addArticle(t, "Refunds", "You can ask for a refund within 30 days of delivery from your account page.")
	f.addArticle(t, "Shipping times", "Orders ship within 2 business days; delivery takes 3 to 5 days.")
	id := f.addContactMessage(t, "How do I get a refund for my order?")
	out, err := f.svc.AnswerVisitor(f.ctx, f.org.ID, f.conv.ID, id)
	must(t, err)
	if out.HandOver != "" || !out.Confident || out.ArticleID != refunds || !strings.Contains(out.Text, "refund within 30 days") {
		t.Fatalf("answer %+v", out)
	}
	id = f.addContactMessage(t, "Can I bring my dog to the concert?")
	out, err = f.svc.AnswerVisitor(f.ctx, f.org.ID, f.conv.ID, id)
	must(t, err)
	if out.HandOver != models.HandoverNotConfident || out.Text != "" {
		t.Fatalf("unrelated question: %+v", out)
	}
	must(t, f.st.CreateCannedResponse(f.ctx, &models.CannedResponse{OrganizationID: f.org.ID, Shortcut: "dogs",
		Body: "Dogs are welcome at the concert when kept on a lead.", CreatedAt: time.Now(), UpdatedAt: time.Now()}))
	out, err = f.svc.AnswerVisitor(f.ctx, f.org.ID, f.conv.ID, id)
	must(t, err)
	if !out.Confident || !strings.Contains(out.Text, "Dogs are welcome") || out.ArticleID != 0 {
		t.Fatalf("canned answer %+v", out)
	}
	if f.sent() != 0 {
		t.Fatal("the local provider sent a request")
	}
}

// Anthropic answers from the articles it is given, with the contact's
// identifiers redacted from the question; its text is kept as text.
func TestAnswerVisitorRemoteRedacted(t *testing.T) {
	f := newFixture(t, "automated_answer=anthropic")
	f.addArticle(t, "Delivery", "Parcels arrive within 5 days.")
	out, err := f.svc.AnswerVisitor(f.ctx, f.org.ID, f.conv.ID, 0)
	must(t, err)
	if !out.Confident || out.Text != "<b>Summary</b> from Claude" {
		t.Fatalf("answer %+v", out)
	}
	got := f.anth.received()
	sentNoIdentifier(t, got)
	if len(got) != 1 || !strings.Contains(got[0], "Parcels arrive within 5 days.") || !strings.Contains(got[0], "Telefonnummer") {
		t.Fatalf("the article or the question did not arrive: %v", got)
	}
	f.anth.fail = http.StatusInternalServerError
	_, err = f.svc.AnswerVisitor(f.ctx, f.org.ID, f.conv.ID, 0)
	var pe *ProviderError
	if !errors.As(err, &pe) {
		t.Fatalf("a provider error: %v", err)
	}
}

// Handed over before any provider sees a byte: a contact who objected to
// automated decisions or restricted processing, and a visitor asking for a
// person. Nothing is answered with the feature off, nor in a conversation
// handed over already.
func TestAnswerVisitorSendsNothing(t *testing.T) {
	for _, pref := range []models.SubjectPreference{
		{Kind: models.PreferenceRestriction, Active: true, Source: "operator"},
		{Kind: models.PreferenceObjection, Value: "automated_decisions", Active: true, Source: "widget"},
	} {
		t.Run(pref.Kind, func(t *testing.T) {
			f := newFixture(t, "automated_answer=anthropic")
			f.addArticle(t, "Delivery", "Parcels arrive within 5 days.")
			pref.OrganizationID, pref.ContactID = f.org.ID, f.contact.ID
			must(t, f.st.RecordSubjectPreference(f.ctx, pref))
			out, err := f.svc.AnswerVisitor(f.ctx, f.org.ID, f.conv.ID, 0)
			must(t, err)
			if out.HandOver != models.HandoverRefused || out.Text != "" {
				t.Fatalf("outcome %+v", out)
			}
			if f.sent() != 0 {
				t.Fatalf("%d requests reached a provider", f.sent())
			}
		})
	}
	t.Run("asks for a person", func(t *testing.T) {
		f := newFixture(t, "automated_answer=anthropic")
		f.addArticle(t, "Delivery", "Parcels arrive within 5 days.")
		for _, text := range []string{"Can I talk to a human, please?", "AGENT", "Ich möchte mit einem Mitarbeiter sprechen"} {
			id := f.addContactMessage(t, text)
			out, err := f.svc.AnswerVisitor(f.ctx, f.org.ID, f.conv.ID, id)
			must(t, err)
			if out.HandOver != models.HandoverAsked {
				t.Fatalf("%q: %+v", text, out)
			}
		}
		if f.sent() != 0 {
			t.Fatalf("%d requests reached a provider", f.sent())
		}
	})
	t.Run("off", func(t *testing.T) {
		f := newFixture(t, "summary=anthropic")
		if _, err := f.svc.AnswerVisitor(f.ctx, f.org.ID, f.conv.ID, 0); !errors.Is(err, ErrOff) {
			t.Fatalf("off: %v", err)
		}
		if f.sent() != 0 {
			t.Fatal("sent with the feature off")
		}
	})
	t.Run("mail", func(t *testing.T) {
		f := newFixture(t, "automated_answer=anthropic")
		must(t, f.db.Model(&models.Conversation{}).Where("id = ?", f.conv.ID).Update("channel", "email").Error)
		if _, err := f.svc.AnswerVisitor(f.ctx, f.org.ID, f.conv.ID, 0); !errors.Is(err, ErrOff) {
			t.Fatalf("mail conversation: %v", err)
		}
		if f.sent() != 0 {
			t.Fatal("sent for a mail conversation")
		}
	})
	t.Run("handed over", func(t *testing.T) {
		f := newFixture(t, "automated_answer=anthropic")
		_, err := f.st.MarkHandedOver(f.ctx, f.org.ID, f.conv.ID, models.HandoverAsked, time.Now())
		must(t, err)
		if _, err := f.svc.AnswerVisitor(f.ctx, f.org.ID, f.conv.ID, 0); !errors.Is(err, ErrHandedOver) {
			t.Fatalf("handed over: %v", err)
		}
		if f.sent() != 0 {
			t.Fatal("sent for a conversation handed over")
		}
	})
}

func TestAsksForPerson(t *testing.T) {
	for text, want := range map[string]bool{
		"I want to speak to a person":      true,
		"human please":                     true,
		"Where is my parcel?":              false,
		"personal details are wrong":       false,
		"Puis-je parler à un conseiller ?": true,
		"the agents' fees are too high":    false,
	} {
		if got := AsksForPerson(text); got != want {
			t.Errorf("AsksForPerson(%q) = %v", text, got)
		}
	}
}
