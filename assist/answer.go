package assist

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/convot/convot/models"
	"github.com/convot/convot/subprocessors"
)

// maxAnswerRunes bounds an automated answer (a message's limit).
const maxAnswerRunes = 4000

// ErrHandedOver: the conversation was already handed to the team; the bot
// does not answer it any more.
var ErrHandedOver = errors.New("assist: the conversation is handed over to the team")

// AutoAnswer is the outcome of AnswerVisitor: an answer to post, or the
// reason the conversation goes to the team (models.Handover…).
type AutoAnswer struct {
	Answer
	HandOver string
}

// AnswerVisitor runs the automated answers on the contact's message
// messageID (the latest of the contact's when it is not among the latest
// messages): when the organization turned them on and the conversation is
// not handed over yet. A visitor asking for a person, or a contact who
// objected to automated processing or restricted it, is handed over before
// any provider sees a byte; so is a question the organization's knowledge
// (help articles and canned responses) does not answer confidently. A
// provider that fails returns a *ProviderError (the caller retries, then
// hands over). ErrOff: automated answers are off (or the conversation is
// not the widget's: mail goes to the team); ErrHandedOver: the
// conversation is the team's already.
func (s *Service) AnswerVisitor(ctx context.Context, orgID, convID, messageID uint64) (AutoAnswer, error) {
	org, err := s.Store.Organization(ctx, orgID)
	if err != nil {
		return AutoAnswer{}, err
	}
	if _, err := s.providerOf(org, FeatureAutomatedAnswer); err != nil {
		return AutoAnswer{}, err
	}
	conv, err := s.Store.Conversation(ctx, orgID, convID)
	if err != nil {
		return AutoAnswer{}, err
	}
	if conv.HandedOverAt != nil {
		return AutoAnswer{}, ErrHandedOver
	}
	if conv.Channel != "widget" {
		// The bot answers widget visitors only; mail goes to the team.
		return AutoAnswer{}, fmt.Errorf("%w: the bot answers widget conversations only", ErrOff)
	}
	c, err := s.prepare(ctx, orgID, convID, FeatureAutomatedAnswer)
	switch {
	case errors.Is(err, ErrRefused):
		return AutoAnswer{HandOver: models.HandoverRefused}, nil
	case err != nil:
		return AutoAnswer{}, err
	}
	question := ""
	var asked []subprocessors.AIField
	for _, f := range c.req.Content {
		if f.Category != "user.content.message" {
			asked = append(asked, f)
			continue
		}
		if f.Author == subprocessors.AIAuthorContact {
			if v, ok := f.Value.(string); ok {
				question = v
			}
		}
	}
	if messageID != 0 {
		if body, ok := s.contactMessage(ctx, orgID, convID, messageID); ok {
			question = body
		}
	}
	if question == "" {
		return AutoAnswer{}, ErrNoMessages
	}
	if AsksForPerson(question) {
		return AutoAnswer{HandOver: models.HandoverAsked}, nil
	}
	knowledge, err := s.Knowledge(ctx, orgID)
	if err != nil {
		return AutoAnswer{}, err
	}
	if len(knowledge) == 0 {
		return AutoAnswer{HandOver: models.HandoverNotConfident}, nil
	}
	// The question alone, with the contact's identifiers declared so that
	// the gate has them redacted inside it.
	req := c.req
	asked = append(asked, subprocessors.AIMessage(subprocessors.AIAuthorContact, question))
	req.Content = asked
	cctx, cancel := s.bounded(ctx)
	defer cancel()
	a, err := c.provider.Answer(cctx, req, knowledge)
	if err != nil {
		return AutoAnswer{}, wrap(c.provider, err)
	}
	a.Text = clip(strings.TrimSpace(a.Text), maxAnswerRunes)
	if !a.Confident || a.Text == "" {
		return AutoAnswer{HandOver: models.HandoverNotConfident}, nil
	}
	return AutoAnswer{Answer: a}, nil
}

// contactMessage is the body of the contact's message id in the
// conversation, if it is among its latest.
func (s *Service) contactMessage(ctx context.Context, orgID, convID, id uint64) (string, bool) {
	msgs, err := s.Store.Messages(ctx, orgID, convID, false, id-1, 1)
	if err != nil || len(msgs) == 0 || msgs[0].ID != id || msgs[0].AuthorType != "contact" {
		return "", false
	}
	return msgs[0].Body, strings.TrimSpace(msgs[0].Body) != ""
}

// Knowledge is what the automated answers draw on: the organization's help
// articles, then its canned responses (titled by their shortcut; their
// ArticleID is 0).
func (s *Service) Knowledge(ctx context.Context, orgID uint64) ([]Article, error) {
	articles, err := s.Store.HelpArticles(ctx, orgID)
	if err != nil {
		return nil, err
	}
	canned, err := s.Store.CannedResponses(ctx, orgID)
	if err != nil {
		return nil, err
	}
	out := make([]Article, 0, len(articles)+len(canned))
	for _, a := range articles {
		out = append(out, Article{ID: a.ID, Title: a.Title, Body: a.Body})
	}
	for _, c := range canned {
		out = append(out, Article{Title: c.Shortcut, Body: c.Body})
	}
	return out, nil
}

// personWords are the words of a visitor asking for a person, in the
// languages the local provider detects most.
var personWords = map[string]bool{
	"human": true, "humans": true, "person": true, "agent": true, "operator": true, "someone": true, "representative": true,
	"mensch": true, "mitarbeiter": true, "mitarbeiterin": true, "menschen": true,
	"humain": true, "personne": true, "conseiller": true,
	"humano": true, "persona": true, "agente": true, "operador": true,
	"umano": true, "operatore": true,
	"medewerker": true, "mens": true,
}

// AsksForPerson tells whether a visitor's message asks for a person ("can
// I talk to a human?", "agent", "Mitarbeiter bitte").
func AsksForPerson(text string) bool {
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) })
	for _, w := range words {
		if personWords[w] {
			return true
		}
	}
	return false
}

// clip shortens s to at most n runes.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n-1])) + "…"
}
