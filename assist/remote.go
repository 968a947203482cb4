package assist

import (
	"context"
	"fmt"
	"strings"

	"github.com/convot/convot/policies"
	"github.com/convot/convot/subprocessors"
)

// remote adapts the gated clients of package subprocessors to Provider.
// Each client asks the egress gate before it sends a byte and records the
// decision; what it cannot do returns ErrUnsupported.
type remote struct {
	name       string
	features   map[string]bool
	summarizer subprocessors.AISummarizer
	replier    subprocessors.AIReplier
	translator subprocessors.AITranslator
	detector   subprocessors.AILanguageDetector
	embedder   subprocessors.AIEmbedder
	embedModel string
}

// NewAnthropic is Anthropic as a provider: summaries, suggested replies,
// automated answers and translation.
func NewAnthropic(c *subprocessors.Anthropic) Provider {
	return &remote{name: ProviderAnthropic, summarizer: c, replier: c, translator: c,
		features: map[string]bool{FeatureSummary: true, FeatureSuggestedReply: true, FeatureAutomatedAnswer: true, FeatureTranslation: true}}
}

// NewOpenAI is OpenAI as a provider: language detection, translation and
// embeddings (computed by embeddingModel).
func NewOpenAI(c *subprocessors.OpenAI, embeddingModel string) Provider {
	return &remote{name: ProviderOpenAI, translator: c, detector: c, embedder: c, embedModel: "openai:" + embeddingModel,
		features: map[string]bool{FeatureTranslation: true, FeatureLanguageDetection: true, FeatureEmbeddings: true}}
}

// NewSelfHosted is the self-hosted OpenAI-compatible endpoint as a
// provider: every feature it has a model for.
func NewSelfHosted(c *subprocessors.SelfHosted) Provider {
	features := map[string]bool{}
	for _, f := range Features {
		features[f] = c.Offers(f)
	}
	return &remote{name: ProviderSelfHosted, summarizer: c, replier: c, translator: c, detector: c, embedder: c,
		embedModel: "self_hosted:" + c.Model(FeatureEmbeddings), features: features}
}

func (r *remote) Name() string                 { return r.name }
func (r *remote) Supports(feature string) bool { return r.features[feature] }
func (r *remote) EmbeddingModel() string       { return r.embedModel }

func (r *remote) unsupported(feature string) error {
	return fmt.Errorf("%w: %s does not offer %s", ErrUnsupported, r.name, feature)
}

func (r *remote) Summarize(ctx context.Context, req subprocessors.AIRequest) (string, error) {
	if !r.features[FeatureSummary] {
		return "", r.unsupported(FeatureSummary)
	}
	return r.summarizer.Summarize(ctx, req)
}

func (r *remote) SuggestReply(ctx context.Context, req subprocessors.AIRequest) (string, error) {
	if !r.features[FeatureSuggestedReply] {
		return "", r.unsupported(FeatureSuggestedReply)
	}
	return r.replier.SuggestReply(ctx, req)
}

// Answer gives the model the organization's articles (operators' text, no
// personal data: declared as system.operations) before the conversation.
// A model that cannot answer from them says an operator will follow up;
// such an answer is not confident.
func (r *remote) Answer(ctx context.Context, req subprocessors.AIRequest, knowledge []Article) (Answer, error) {
	if !r.features[FeatureAutomatedAnswer] {
		return Answer{}, r.unsupported(FeatureAutomatedAnswer)
	}
	with := req
	with.Content = nil
	for _, a := range knowledge {
		with.Content = append(with.Content, subprocessors.AIField{Field: policies.Field{Category: "system.operations", Value: "Help article: " + a.Title + "\n" + a.Body}})
	}
	with.Content = append(with.Content, req.Content...)
	text, err := r.replier.AutomatedAnswer(ctx, with)
	if err != nil {
		return Answer{}, err
	}
	confident := !strings.Contains(strings.ToLower(text), "operator will follow up")
	return Answer{Text: text, Confident: confident}, nil
}

func (r *remote) Translate(ctx context.Context, req subprocessors.AIRequest, targetLang string) (string, error) {
	if !r.features[FeatureTranslation] {
		return "", r.unsupported(FeatureTranslation)
	}
	return r.translator.Translate(ctx, req, targetLang)
}

func (r *remote) DetectLanguage(ctx context.Context, req subprocessors.AIRequest) (string, error) {
	if !r.features[FeatureLanguageDetection] {
		return "", r.unsupported(FeatureLanguageDetection)
	}
	return r.detector.DetectLanguage(ctx, req)
}

func (r *remote) Embed(ctx context.Context, req subprocessors.AIRequest) ([]float32, error) {
	if !r.features[FeatureEmbeddings] {
		return nil, r.unsupported(FeatureEmbeddings)
	}
	return r.embedder.Embed(ctx, req)
}
