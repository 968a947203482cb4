package assist

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/convot/convot/subprocessors"
)

// Options are the deployment's AI settings (CONVOT_AI_*, ANTHROPIC_API_KEY,
// OPENAI_API_KEY). Only what is set is configured; Local always is.
type Options struct {
	AnthropicAPIKey, AnthropicBaseURL string
	OpenAIAPIKey, OpenAIBaseURL       string
	// Models are the subprocessors' models: anthropic, openai_chat,
	// openai_embeddings.
	Models map[string]string
	// SelfHostedURL is the OpenAI-compatible endpoint Convot runs itself;
	// SelfHostedModel its model for every chat feature, SelfHostedModels
	// per feature (overriding it; embeddings needs its own).
	SelfHostedURL, SelfHostedAPIKey, SelfHostedModel string
	SelfHostedModels                                 map[string]string
	// MaxRetries is passed to the SDKs (0: their default).
	MaxRetries int
	HTTPClient *http.Client
}

// ParseModels reads "key=value,key=value" (CONVOT_AI_MODELS,
// CONVOT_AI_FEATURE_MODELS).
func ParseModels(s string) map[string]string {
	out := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && strings.TrimSpace(k) != "" && strings.TrimSpace(v) != "" {
			out[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out
}

// Configure builds the catalog: Local, and each provider the options
// configure, every remote one asking gate before each call.
func Configure(gate subprocessors.Gate, o Options) (Catalog, error) {
	c := Catalog{ProviderLocal: Local{}}
	if o.AnthropicAPIKey != "" {
		a, err := subprocessors.NewAnthropic(gate, subprocessors.AnthropicConfig{APIKey: o.AnthropicAPIKey,
			Model: o.Models["anthropic"], BaseURL: o.AnthropicBaseURL, MaxRetries: o.MaxRetries, HTTPClient: o.HTTPClient})
		if err != nil {
			return nil, fmt.Errorf("ANTHROPIC_API_KEY: %w", err)
		}
		c[ProviderAnthropic] = NewAnthropic(a)
	}
	if o.OpenAIAPIKey != "" {
		oa, err := subprocessors.NewOpenAI(gate, subprocessors.OpenAIConfig{APIKey: o.OpenAIAPIKey,
			ChatModel: o.Models["openai_chat"], EmbeddingModel: o.Models["openai_embeddings"], BaseURL: o.OpenAIBaseURL,
			MaxRetries: o.MaxRetries, HTTPClient: o.HTTPClient})
		if err != nil {
			return nil, fmt.Errorf("OPENAI_API_KEY: %w", err)
		}
		c[ProviderOpenAI] = NewOpenAI(oa, o.Models["openai_embeddings"])
	}
	if o.SelfHostedURL != "" {
		models := map[string]string{}
		for _, f := range Features {
			if f != FeatureEmbeddings && o.SelfHostedModel != "" {
				models[f] = o.SelfHostedModel
			}
		}
		for k, v := range o.SelfHostedModels {
			models[k] = v
		}
		sh, err := subprocessors.NewSelfHosted(gate, subprocessors.SelfHostedConfig{BaseURL: o.SelfHostedURL,
			APIKey: o.SelfHostedAPIKey, Models: models, MaxRetries: o.MaxRetries, HTTPClient: o.HTTPClient})
		if err != nil {
			return nil, fmt.Errorf("CONVOT_AI_BASE_URL: %w", err)
		}
		c[ProviderSelfHosted] = NewSelfHosted(sh)
	}
	return c, nil
}
