package assist

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/store"
	"github.com/convot/convot/subprocessors"
)

// DefaultTimeout bounds one provider call.
const DefaultTimeout = 20 * time.Second

// maxMessages is how many of a conversation's latest messages a request
// carries.
const maxMessages = 100

// Service runs the AI features for the dashboard, the widget and the
// workflows. It is safe for concurrent use.
type Service struct {
	Store   *store.Store
	Catalog Catalog
	// Timeout bounds one provider call; 0 is DefaultTimeout.
	Timeout time.Duration
}

// NewService returns a service over the catalog; Local is added when
// missing.
func NewService(st *store.Store, catalog Catalog) *Service {
	c := Catalog{ProviderLocal: Local{}}
	for k, v := range catalog {
		if v != nil {
			c[k] = v
		}
	}
	return &Service{Store: st, Catalog: c}
}

// Setting is one feature of Settings → AI: its provider ("" when off) and
// the configured providers that offer it.
type Setting struct {
	Feature  string
	Provider string
	Offered  []string
}

// Settings lists the organization's AI switches.
func (s *Service) Settings(ctx context.Context, orgID uint64) ([]Setting, error) {
	org, err := s.Store.Organization(ctx, orgID)
	if err != nil {
		return nil, err
	}
	on := models.AIFeatureProviders(org.AISettings)
	out := make([]Setting, 0, len(Features))
	for _, f := range Features {
		out = append(out, Setting{Feature: f, Provider: on[f], Offered: s.Catalog.Offers(f)})
	}
	return out, nil
}

// ErrBadSetting: a setting names an unknown feature, or a provider that is
// not configured or does not offer the feature.
var ErrBadSetting = errors.New("assist: invalid AI setting")

// SaveSettings sets the provider of each feature ("" or missing: off).
func (s *Service) SaveSettings(ctx context.Context, orgID uint64, providers map[string]string) error {
	clean := map[string]string{}
	for f, p := range providers {
		if !slices.Contains(Features, f) {
			return fmt.Errorf("%w: unknown feature %q", ErrBadSetting, f)
		}
		if p == "" {
			continue
		}
		if !slices.Contains(s.Catalog.Offers(f), p) {
			return fmt.Errorf("%w: provider %q is not configured for %s", ErrBadSetting, p, f)
		}
		clean[f] = p
	}
	return s.Store.SaveAISettings(ctx, orgID, models.FormatAISettings(clean))
}

// call is one prepared AI call: the provider chosen, the request, and what
// it was built from.
type call struct {
	provider Provider
	req      subprocessors.AIRequest
	conv     *models.Conversation
	contact  *models.Contact
}

// prepare applies the product's rules for feature on a conversation: the
// organization turned the feature on, its provider is configured, and the
// contact neither restricted processing nor objected to automated
// decisions. The request carries the contact's name and email (the gate
// has them redacted for remote providers) and the conversation's public
// messages, latest maxMessages; never operators' private notes.
func (s *Service) prepare(ctx context.Context, orgID, convID uint64, feature string) (*call, error) {
	org, err := s.Store.Organization(ctx, orgID)
	if err != nil {
		return nil, err
	}
	p, err := s.providerOf(org, feature)
	if err != nil {
		return nil, err
	}
	conv, err := s.Store.Conversation(ctx, orgID, convID)
	if err != nil {
		return nil, err
	}
	subject, err := s.Store.SubjectContextForContact(ctx, orgID, conv.ContactID)
	if err != nil {
		return nil, err
	}
	if err := refused(subject); err != nil {
		return nil, err
	}
	ct, err := s.Store.Contact(ctx, orgID, conv.ContactID)
	if err != nil {
		return nil, err
	}
	ids, err := s.Store.LatestMessageIDs(ctx, orgID, convID, maxMessages+1)
	if err != nil {
		return nil, err
	}
	var after uint64
	if len(ids) > maxMessages {
		after = ids[maxMessages]
	}
	msgs, err := s.Store.Messages(ctx, orgID, convID, false, after, maxMessages)
	if err != nil {
		return nil, err
	}
	var content []subprocessors.AIField
	if ct.Name != "" {
		content = append(content, subprocessors.AIContactName(ct.Name))
	}
	if ct.Email != "" {
		content = append(content, subprocessors.AIContactEmail(ct.Email))
	}
	if ct.Phone != "" {
		content = append(content, subprocessors.AIContactPhone(ct.Phone))
	}
	n := 0
	for _, m := range msgs {
		if m.Private || strings.TrimSpace(m.Body) == "" {
			continue
		}
		content = append(content, subprocessors.AIMessage(authorOf(m.AuthorType), m.Body))
		n++
	}
	if n == 0 {
		return nil, ErrNoMessages
	}
	req := subprocessors.AIRequest{Org: org.GateContext(), Subject: subject, Content: content}
	return &call{provider: p, req: req, conv: conv, contact: ct}, nil
}

// ErrNoMessages: the conversation has no message to work on.
var ErrNoMessages = errors.New("assist: the conversation has no message yet")

// providerOf returns the provider the organization chose for feature.
func (s *Service) providerOf(org *models.Organization, feature string) (Provider, error) {
	name := models.AIFeatureProviders(org.AISettings)[feature]
	if name == "" {
		return nil, fmt.Errorf("%w: %s", ErrOff, feature)
	}
	p := s.Catalog[name]
	if p == nil || !p.Supports(feature) {
		return nil, fmt.Errorf("%w: %s is set to %s, which is not configured on this server", ErrOff, feature, name)
	}
	return p, nil
}

// refused applies the data subject's restriction and objection (policy §9)
// to every provider, the local one included.
func refused(subject policies.SubjectContext) error {
	if subject.Restricted {
		return fmt.Errorf("%w: processing is restricted", ErrRefused)
	}
	if slices.Contains(subject.Objections, "automated_decisions") {
		return fmt.Errorf("%w: the contact objected to automated decisions", ErrRefused)
	}
	return nil
}

func authorOf(authorType string) subprocessors.AIAuthor {
	switch authorType {
	case "contact":
		return subprocessors.AIAuthorContact
	case "bot":
		return subprocessors.AIAuthorBot
	}
	return subprocessors.AIAuthorOperator
}

func (s *Service) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	t := s.Timeout
	if t <= 0 {
		t = DefaultTimeout
	}
	return context.WithTimeout(ctx, t)
}

// ProviderError is a provider that failed (timeout, rate limit, error):
// nothing was stored, the conversation is unchanged.
type ProviderError struct {
	Provider string
	Err      error
}

func (e *ProviderError) Error() string {
	return fmt.Sprintf("assist: the AI provider %s did not answer: %v", e.Provider, e.Err)
}

func (e *ProviderError) Unwrap() error { return e.Err }

// wrap classifies a provider's error: denials and unsupported features
// stay as they are, anything else is a ProviderError.
func wrap(p Provider, err error) error {
	if err == nil || errors.Is(err, ErrDenied) || errors.Is(err, ErrUnsupported) {
		return err
	}
	return &ProviderError{Provider: p.Name(), Err: err}
}

// Summarize summarises a conversation for operators and stores the
// summary (an AI output of the conversation's contact).
func (s *Service) Summarize(ctx context.Context, orgID, convID uint64) (*models.AIOutput, error) {
	c, err := s.prepare(ctx, orgID, convID, FeatureSummary)
	if err != nil {
		return nil, err
	}
	cctx, cancel := s.bounded(ctx)
	defer cancel()
	text, err := c.provider.Summarize(cctx, c.req)
	if err != nil {
		return nil, wrap(c.provider, err)
	}
	out := &models.AIOutput{ConversationID: convID, Kind: models.AIOutputSummary, Provider: c.provider.Name(), Text: text}
	if err := s.Store.SaveAIOutput(ctx, orgID, out); err != nil {
		return nil, err
	}
	return out, nil
}

// Summaries lists a conversation's stored summaries, oldest first.
func (s *Service) Summaries(ctx context.Context, orgID, convID uint64) ([]models.AIOutput, error) {
	return s.Store.AIOutputs(ctx, orgID, convID, models.AIOutputSummary)
}

// SuggestReply drafts the operator's next reply; nothing is stored or
// sent.
func (s *Service) SuggestReply(ctx context.Context, orgID, convID uint64) (string, error) {
	c, err := s.prepare(ctx, orgID, convID, FeatureSuggestedReply)
	if err != nil {
		return "", err
	}
	cctx, cancel := s.bounded(ctx)
	defer cancel()
	text, err := c.provider.SuggestReply(cctx, c.req)
	return text, wrap(c.provider, err)
}

// DetectLanguage detects the language of the contact's messages in a
// conversation and stores it on the contact.
func (s *Service) DetectLanguage(ctx context.Context, orgID, convID uint64) (string, error) {
	c, err := s.prepare(ctx, orgID, convID, FeatureLanguageDetection)
	if err != nil {
		return "", err
	}
	// Only the contact's own messages tell the contact's language.
	req := c.req
	req.Content = nil
	// The identifiers stay declared: the gate has them redacted, and
	// their occurrences inside the messages with them.
	n := 0
	for _, f := range c.req.Content {
		switch {
		case f.Category != "user.content.message":
			req.Content = append(req.Content, f)
		case f.Author == subprocessors.AIAuthorContact:
			req.Content = append(req.Content, f)
			n++
		}
	}
	if n == 0 {
		return "", ErrNoMessages
	}
	cctx, cancel := s.bounded(ctx)
	defer cancel()
	lang, err := c.provider.DetectLanguage(cctx, req)
	if err != nil {
		return "", wrap(c.provider, err)
	}
	if lang != "und" && lang != c.contact.Language {
		c.contact.Language = lang
		if err := s.Store.SaveContactFields(ctx, orgID, c.contact, "language"); err != nil {
			return "", err
		}
	}
	return lang, nil
}

// Index computes and stores the vector of a conversation for search and
// routing.
func (s *Service) Index(ctx context.Context, orgID, convID uint64) error {
	c, err := s.prepare(ctx, orgID, convID, FeatureEmbeddings)
	if err != nil {
		return err
	}
	cctx, cancel := s.bounded(ctx)
	defer cancel()
	vec, err := c.provider.Embed(cctx, c.req)
	if err != nil {
		return wrap(c.provider, err)
	}
	b, err := json.Marshal(vec)
	if err != nil {
		return err
	}
	return s.Store.SaveEmbedding(ctx, orgID, convID, c.provider.EmbeddingModel(), string(b))
}

// Hit is one search result.
type Hit struct {
	ConversationID uint64
	Score          float64
}

// Search ranks the organization's indexed conversations by similarity to
// the operator's query, best first, at most limit. Only vectors of the
// current embedding model count (others are rebuilt by Index).
func (s *Service) Search(ctx context.Context, orgID uint64, query string, limit int) ([]Hit, error) {
	org, err := s.Store.Organization(ctx, orgID)
	if err != nil {
		return nil, err
	}
	p, err := s.providerOf(org, FeatureEmbeddings)
	if err != nil {
		return nil, err
	}
	// The query is the operator's own text (a customer's data subject).
	req := subprocessors.AIRequest{Org: org.GateContext(),
		Subject: policies.SubjectContext{Kind: "customer", Objections: []string{}, Consents: []string{}},
		Content: []subprocessors.AIField{subprocessors.AIMessage(subprocessors.AIAuthorOperator, query)}}
	cctx, cancel := s.bounded(ctx)
	defer cancel()
	q, err := p.Embed(cctx, req)
	if err != nil {
		return nil, wrap(p, err)
	}
	rows, err := s.Store.Embeddings(ctx, orgID, p.EmbeddingModel())
	if err != nil {
		return nil, err
	}
	var hits []Hit
	for _, r := range rows {
		var v []float32
		if json.Unmarshal([]byte(r.Vector), &v) != nil {
			continue
		}
		if score := Cosine(q, v); score > 0 {
			hits = append(hits, Hit{ConversationID: r.ConversationID, Score: score})
		}
	}
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].Score > hits[j].Score })
	if len(hits) > limit {
		hits = hits[:limit]
	}
	return hits, nil
}

// Translate translates the contact's messages of a conversation into
// targetLang for operators, each beside its original: every message not
// yet translated into targetLang is sent on its own (with the contact's
// identifiers declared, so the gate has them redacted) and its translation
// stored as an AI output of the contact. It returns the translations by
// message ID. A provider that fails stops the run; what was stored stays.
func (s *Service) Translate(ctx context.Context, orgID, convID uint64, targetLang string) (map[uint64]string, error) {
	if !validLanguage(targetLang) {
		return nil, fmt.Errorf("%w: %q is not a language tag such as en or pt-BR", ErrBadSetting, targetLang)
	}
	c, err := s.prepare(ctx, orgID, convID, FeatureTranslation)
	if err != nil {
		return nil, err
	}
	done, err := s.Translations(ctx, orgID, convID, targetLang)
	if err != nil {
		return nil, err
	}
	msgs, err := s.Store.Messages(ctx, orgID, convID, false, 0, maxMessages)
	if err != nil {
		return nil, err
	}
	var ids []subprocessors.AIField
	for _, f := range c.req.Content {
		if f.Category != "user.content.message" {
			ids = append(ids, f)
		}
	}
	for _, m := range msgs {
		if m.AuthorType != "contact" || m.Private || strings.TrimSpace(m.Body) == "" {
			continue
		}
		if _, ok := done[m.ID]; ok {
			continue
		}
		req := c.req
		req.Content = append(append([]subprocessors.AIField(nil), ids...), subprocessors.AIMessage(subprocessors.AIAuthorContact, m.Body))
		cctx, cancel := s.bounded(ctx)
		text, err := c.provider.Translate(cctx, req, targetLang)
		cancel()
		if err != nil {
			return done, wrap(c.provider, err)
		}
		out := &models.AIOutput{ConversationID: convID, MessageID: m.ID, Kind: models.AIOutputTranslation,
			Provider: c.provider.Name(), Language: targetLang, Text: text}
		if err := s.Store.SaveAIOutput(ctx, orgID, out); err != nil {
			return done, err
		}
		done[m.ID] = text
	}
	return done, nil
}

// Translations returns the stored translations of a conversation's
// messages into targetLang, by message ID (the latest of each).
func (s *Service) Translations(ctx context.Context, orgID, convID uint64, targetLang string) (map[uint64]string, error) {
	list, err := s.Store.AIOutputs(ctx, orgID, convID, models.AIOutputTranslation)
	if err != nil {
		return nil, err
	}
	out := map[uint64]string{}
	for _, o := range list {
		if o.Language == targetLang {
			out[o.MessageID] = o.Text
		}
	}
	return out, nil
}

// validLanguage accepts BCP 47 tags such as en, de or pt-BR.
func validLanguage(tag string) bool {
	parts := strings.Split(tag, "-")
	if len(parts) > 3 || len(parts[0]) < 2 || len(parts[0]) > 3 {
		return false
	}
	for _, p := range parts {
		if p == "" || len(p) > 8 {
			return false
		}
		for _, r := range p {
			if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
				return false
			}
		}
	}
	return true
}
