// Package assist is Convot's AI assistance: summaries, suggested replies,
// automated answers, translation, language detection and embeddings for
// search and routing. A Provider does the work: the embedded Local one
// (offline, the default), or Anthropic, OpenAI or a self-hosted
// OpenAI-compatible endpoint through the gated clients of package
// subprocessors. The Service applies the product's rules before any
// provider sees a byte: the organization must have turned the feature on
// (Settings → AI), a contact who restricted processing or objected to
// automated decisions gets nothing, and every output is stored as the
// contact's personal data.
package assist

import (
	"context"
	"errors"
	"slices"

	"github.com/convot/convot/models"
	"github.com/convot/convot/subprocessors"
)

// Features, as the egress gate names them (organization.ai_features).
const (
	FeatureSummary           = "summary"
	FeatureSuggestedReply    = "suggested_reply"
	FeatureAutomatedAnswer   = "automated_answer"
	FeatureTranslation       = "translation"
	FeatureLanguageDetection = "language_detection"
	FeatureEmbeddings        = "embeddings"
)

// Features lists every feature in the order Settings → AI shows them.
var Features = models.AIFeatures

// Provider names.
const (
	ProviderLocal      = "local"
	ProviderAnthropic  = "anthropic"
	ProviderOpenAI     = "openai"
	ProviderSelfHosted = "self_hosted"
)

// ErrUnsupported: the provider cannot do this feature (local translation).
var ErrUnsupported = errors.New("assist: this provider does not offer this feature")

// ErrOff: the organization has not turned the feature on.
var ErrOff = errors.New("assist: the organization has not turned this AI feature on")

// ErrRefused: the contact restricted processing or objected to automated
// decisions; nothing was processed.
var ErrRefused = errors.New("assist: the contact restricted processing or objected to automated decisions")

// ErrDenied: the egress gate denied the transfer; nothing was sent.
var ErrDenied = subprocessors.ErrDenied

// Request is one call to a provider: whose data it is and the content, as
// category-tagged fields.
type Request = subprocessors.AIRequest

// Field is one category-tagged piece of a request.
type Field = subprocessors.AIField

// Article is one piece of the organization's knowledge: a help article or
// a canned response.
type Article struct {
	ID    uint64
	Title string
	Body  string
}

// Answer is an automated answer and whether the provider is confident of
// it; an answer that is not confident is not sent, the conversation goes
// to an operator.
type Answer struct {
	Text      string
	Confident bool
	// ArticleID is the article the answer came from, 0 when none.
	ArticleID uint64
}

// Provider does the AI work of one provider. Methods it cannot do return
// ErrUnsupported. Requests carry category-tagged fields; remote providers
// send only what the egress gate lets leave.
type Provider interface {
	// Name is the provider's name (local, anthropic, openai, self_hosted).
	Name() string
	// Supports tells whether the provider offers the feature.
	Supports(feature string) bool
	Summarize(ctx context.Context, req subprocessors.AIRequest) (string, error)
	SuggestReply(ctx context.Context, req subprocessors.AIRequest) (string, error)
	Answer(ctx context.Context, req subprocessors.AIRequest, knowledge []Article) (Answer, error)
	Translate(ctx context.Context, req subprocessors.AIRequest, targetLang string) (string, error)
	DetectLanguage(ctx context.Context, req subprocessors.AIRequest) (string, error)
	Embed(ctx context.Context, req subprocessors.AIRequest) ([]float32, error)
	// EmbeddingModel names the model behind Embed: stored vectors of
	// another model are rebuilt.
	EmbeddingModel() string
}

// Catalog is the providers this deployment has configured, by name; Local
// is always there.
type Catalog map[string]Provider

// Offers lists the configured providers that offer feature, local first.
func (c Catalog) Offers(feature string) []string {
	var names []string
	for name, p := range c {
		if p.Supports(feature) {
			names = append(names, name)
		}
	}
	slices.SortFunc(names, func(a, b string) int {
		switch {
		case a == b:
			return 0
		case a == ProviderLocal:
			return -1
		case b == ProviderLocal:
			return 1
		case a < b:
			return -1
		}
		return 1
	})
	return names
}
