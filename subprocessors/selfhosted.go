package subprocessors

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// selfHostedSubprocessor is the registry's name for the AI endpoint Convot
// runs itself (Ollama, vLLM, llama.cpp server): its entry marks it as
// Convot's own infrastructure, not a subprocessor, and the gate's decision
// says so.
const selfHostedSubprocessor = "self_hosted"

// SelfHostedConfig configures the client of a self-hosted OpenAI-compatible
// endpoint (CONVOT_AI_BASE_URL).
type SelfHostedConfig struct {
	// BaseURL is the endpoint's OpenAI-compatible API, e.g.
	// http://ollama:11434/v1/; required.
	BaseURL string
	// APIKey is sent as the bearer token if the endpoint wants one.
	APIKey string
	// Models names the model of each feature (summary, suggested_reply,
	// automated_answer, translation, language_detection, embeddings); a
	// feature without a model is not offered.
	Models map[string]string
	// MaxRetries is how often a failed request is retried; 0 is the SDK's
	// default, a negative value none.
	MaxRetries int
	// HTTPClient sends the requests; nil is the SDK's.
	HTTPClient *http.Client
}

// SelfHosted is the client of an OpenAI-compatible endpoint Convot runs on
// its own infrastructure. Its calls ask the egress gate like a
// subprocessor's (the organization's switches and the data subject's
// restrictions and objections hold whoever processes, and identifiers are
// redacted the same way), and the decision log records them under
// self_hosted, Convot's own infrastructure.
type SelfHosted struct {
	gate   Gate
	client openai.Client
	models map[string]string
}

// NewSelfHosted returns a self-hosted endpoint's client that asks gate
// before every call.
func NewSelfHosted(gate Gate, cfg SelfHostedConfig) (*SelfHosted, error) {
	if gate == nil {
		return nil, errors.New("subprocessors: self-hosted AI: an egress gate is required")
	}
	if cfg.BaseURL == "" {
		return nil, errors.New("subprocessors: self-hosted AI: a base URL is required")
	}
	key := cfg.APIKey
	if key == "" {
		key = "none"
	}
	opts := []option.RequestOption{
		option.WithBaseURL(cfg.BaseURL),
		option.WithAPIKey(key),
		option.WithHeaderDel("OpenAI-Organization"),
		option.WithHeaderDel("OpenAI-Project"),
	}
	if cfg.HTTPClient != nil {
		opts = append(opts, option.WithHTTPClient(cfg.HTTPClient))
	}
	if cfg.MaxRetries != 0 {
		opts = append(opts, option.WithMaxRetries(max(cfg.MaxRetries, 0)))
	}
	models := map[string]string{}
	for k, v := range cfg.Models {
		if v != "" {
			models[k] = v
		}
	}
	return &SelfHosted{gate: gate, client: openai.NewClient(opts...), models: models}, nil
}

// Offers tells whether a model is configured for the feature.
func (s *SelfHosted) Offers(feature string) bool { return s.models[feature] != "" }

// Model is the model configured for the feature.
func (s *SelfHosted) Model(feature string) string { return s.models[feature] }

// Summarize summarises the conversation (functional.ai.summary).
func (s *SelfHosted) Summarize(ctx context.Context, req AIRequest) (string, error) {
	return s.chat(ctx, aiSummary, req, anthropicInstructions[aiSummary.purpose], false)
}

// SuggestReply drafts an operator's next reply.
func (s *SelfHosted) SuggestReply(ctx context.Context, req AIRequest) (string, error) {
	return s.chat(ctx, aiSuggestedReply, req, anthropicInstructions[aiSuggestedReply.purpose], false)
}

// AutomatedAnswer answers the end user without an operator.
func (s *SelfHosted) AutomatedAnswer(ctx context.Context, req AIRequest) (string, error) {
	return s.chat(ctx, aiAutomatedAnswer, req, anthropicInstructions[aiAutomatedAnswer.purpose], false)
}

// Translate translates the messages into targetLang.
func (s *SelfHosted) Translate(ctx context.Context, req AIRequest, targetLang string) (string, error) {
	if err := aiCheckLanguage(targetLang); err != nil {
		return "", err
	}
	return s.chat(ctx, aiTranslation, req, "Translate the text below into the language with BCP 47 tag "+targetLang+". "+
		"Keep [redacted] as it is. Reply with the translation only.", true)
}

// DetectLanguage asks for the BCP 47 tag of the messages' language.
func (s *SelfHosted) DetectLanguage(ctx context.Context, req AIRequest) (string, error) {
	answer, err := s.chat(ctx, aiLanguageDetection, req, "Identify the language of the text below. Reply with its BCP 47 "+
		"language tag only (for example en, de, pt-BR), or und if you cannot tell.", true)
	if err != nil {
		return "", err
	}
	tag := strings.Trim(strings.TrimSpace(answer), ".\"'`")
	if len(strings.Fields(tag)) != 1 || aiCheckLanguage(tag) != nil {
		return "und", nil
	}
	return tag, nil
}

// Embed returns the embedding of the messages.
func (s *SelfHosted) Embed(ctx context.Context, req AIRequest) ([]float32, error) {
	model := s.models[aiEmbeddings.feature]
	if model == "" {
		return nil, fmt.Errorf("subprocessors: self-hosted AI: no model configured for %s", aiEmbeddings.feature)
	}
	out, err := aiPrepare(ctx, s.gate, selfHostedSubprocessor, aiEmbeddings, req)
	if err != nil {
		return nil, err
	}
	msgs := out.messages()
	if len(msgs) == 0 {
		return nil, fmt.Errorf("subprocessors: self-hosted AI: %s: the request has no message to send", aiEmbeddings.purpose)
	}
	resp, err := s.client.Embeddings.New(ctx, openai.EmbeddingNewParams{
		Model:          model,
		Input:          openai.EmbeddingNewParamsInputUnion{OfString: openai.String(aiPlainText(msgs))},
		EncodingFormat: openai.EmbeddingNewParamsEncodingFormatFloat,
	})
	if err != nil {
		return nil, fmt.Errorf("subprocessors: self-hosted AI: %s: %w", aiEmbeddings.purpose, aiScrubError(err, out))
	}
	if len(resp.Data) == 0 || len(resp.Data[0].Embedding) == 0 {
		return nil, fmt.Errorf("subprocessors: self-hosted AI: %s: the answer holds no embedding", aiEmbeddings.purpose)
	}
	vec := make([]float32, len(resp.Data[0].Embedding))
	for i, v := range resp.Data[0].Embedding {
		vec[i] = float32(v)
	}
	return vec, nil
}

// chat asks the gate, then sends the allowed content with the instruction
// to the feature's model.
func (s *SelfHosted) chat(ctx context.Context, p aiPurpose, req AIRequest, instruction string, messagesOnly bool) (string, error) {
	model := s.models[p.feature]
	if model == "" {
		return "", fmt.Errorf("subprocessors: self-hosted AI: no model configured for %s", p.feature)
	}
	out, err := aiPrepare(ctx, s.gate, selfHostedSubprocessor, p, req)
	if err != nil {
		return "", err
	}
	var content string
	if messagesOnly {
		msgs := out.messages()
		if len(msgs) == 0 {
			return "", fmt.Errorf("subprocessors: self-hosted AI: %s: the request has no message to send", p.purpose)
		}
		content = aiPlainText(msgs)
	} else {
		content = aiTranscript(out.lines)
	}
	resp, err := s.client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model: model,
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage(instruction),
			openai.UserMessage(content),
		},
	})
	if err != nil {
		return "", fmt.Errorf("subprocessors: self-hosted AI: %s: %w", p.purpose, aiScrubError(err, out))
	}
	if len(resp.Choices) == 0 || strings.TrimSpace(resp.Choices[0].Message.Content) == "" {
		return "", fmt.Errorf("subprocessors: self-hosted AI: %s: the answer holds no text", p.purpose)
	}
	return strings.TrimSpace(resp.Choices[0].Message.Content), nil
}
