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

// openaiSubprocessor is OpenAI's name in the registry.
const openaiSubprocessor = "openai"

// openaiDefaultBaseURL is OpenAI's API; passed explicitly so that
// OPENAI_BASE_URL in the environment cannot redirect the traffic.
const openaiDefaultBaseURL = "https://api.openai.com/v1/"

// OpenAIConfig configures the OpenAI client. Everything that decides where
// data goes comes from the caller.
type OpenAIConfig struct {
	// APIKey is Convot's OpenAI API key; required.
	APIKey string
	// ChatModel is the model for language detection and translation;
	// required.
	ChatModel string
	// EmbeddingModel is the model for embeddings; required.
	EmbeddingModel string
	// BaseURL is the API's base URL, e.g. https://api.openai.com/v1/ (the
	// default when empty). Tests point it at a fake upstream.
	BaseURL string
	// MaxRetries is how often a failed request is retried; 0 is the SDK's
	// default, a negative value none.
	MaxRetries int
	// HTTPClient sends the requests; nil is the SDK's.
	HTTPClient *http.Client
}

// OpenAI is the client for OpenAI: language detection and translation
// (Chat Completions) and text embeddings (Embeddings) that power search and
// routing (policy §6). Every call asks the egress gate first, for the
// purpose of the feature (functional.ai.*) with the organization's AI feature
// as the flow's Feature; a denied call sends nothing and returns an error
// wrapping ErrDenied. Only the messages of a request, as policies.Apply lets
// them through, are sent, with any withheld or redacted identifier of the
// request (email, phone number, external ID) replaced inside them. It is
// safe for concurrent use.
type OpenAI struct {
	gate           Gate
	client         openai.Client
	chatModel      string
	embeddingModel string
}

var (
	_ AITranslator       = (*OpenAI)(nil)
	_ AILanguageDetector = (*OpenAI)(nil)
	_ AIEmbedder         = (*OpenAI)(nil)
)

// NewOpenAI returns an OpenAI client that asks gate before every call.
func NewOpenAI(gate Gate, cfg OpenAIConfig) (*OpenAI, error) {
	if gate == nil {
		return nil, errors.New("subprocessors: openai: an egress gate is required")
	}
	if cfg.APIKey == "" {
		return nil, errors.New("subprocessors: openai: an API key is required")
	}
	if cfg.ChatModel == "" || cfg.EmbeddingModel == "" {
		return nil, errors.New("subprocessors: openai: a chat model and an embedding model are required")
	}
	base := cfg.BaseURL
	if base == "" {
		base = openaiDefaultBaseURL
	}
	opts := []option.RequestOption{
		// Explicit options override what the SDK reads from OPENAI_*.
		option.WithBaseURL(base),
		option.WithAPIKey(cfg.APIKey),
		option.WithHeaderDel("OpenAI-Organization"),
		option.WithHeaderDel("OpenAI-Project"),
	}
	if cfg.HTTPClient != nil {
		opts = append(opts, option.WithHTTPClient(cfg.HTTPClient))
	}
	if cfg.MaxRetries != 0 {
		opts = append(opts, option.WithMaxRetries(max(cfg.MaxRetries, 0)))
	}
	return &OpenAI{
		gate:           gate,
		client:         openai.NewClient(opts...),
		chatModel:      cfg.ChatModel,
		embeddingModel: cfg.EmbeddingModel,
	}, nil
}

// DetectLanguage asks the chat model for the BCP 47 tag of the messages'
// language (functional.ai.language_detection); "und" when the answer is not
// one language tag.
func (o *OpenAI) DetectLanguage(ctx context.Context, req AIRequest) (string, error) {
	answer, err := o.chat(ctx, aiLanguageDetection, req,
		"Identify the language of the text below. Reply with its BCP 47 language tag only (for example en, de, pt-BR), "+
			"or und if you cannot tell.")
	if err != nil {
		return "", err
	}
	tag := strings.Trim(strings.TrimSpace(answer), ".\"'`")
	if len(strings.Fields(tag)) != 1 || aiCheckLanguage(tag) != nil {
		return "und", nil
	}
	return tag, nil
}

// Translate translates the messages into targetLang
// (functional.ai.translation).
func (o *OpenAI) Translate(ctx context.Context, req AIRequest, targetLang string) (string, error) {
	if err := aiCheckLanguage(targetLang); err != nil {
		return "", err
	}
	return o.chat(ctx, aiTranslation, req,
		"Translate the text below into the language with BCP 47 tag "+targetLang+". "+
			"Keep [redacted] as it is. Reply with the translation only.")
}

// chat asks the gate, then sends the allowed messages with the instruction
// and returns the answer's text.
func (o *OpenAI) chat(ctx context.Context, p aiPurpose, req AIRequest, instruction string) (string, error) {
	out, text, err := o.prepare(ctx, p, req)
	if err != nil {
		return "", err
	}
	resp, err := o.client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model: o.chatModel,
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage(instruction),
			openai.UserMessage(text),
		},
	})
	if err != nil {
		return "", fmt.Errorf("subprocessors: openai: %s: %w", p.purpose, aiScrubError(err, out))
	}
	if len(resp.Choices) == 0 {
		return "", fmt.Errorf("subprocessors: openai: %s: the answer holds no choice", p.purpose)
	}
	answer := strings.TrimSpace(resp.Choices[0].Message.Content)
	if answer == "" {
		return "", fmt.Errorf("subprocessors: openai: %s: the answer holds no text", p.purpose)
	}
	return answer, nil
}

// Embed returns the embedding of the messages (functional.ai.embeddings).
func (o *OpenAI) Embed(ctx context.Context, req AIRequest) ([]float32, error) {
	out, text, err := o.prepare(ctx, aiEmbeddings, req)
	if err != nil {
		return nil, err
	}
	resp, err := o.client.Embeddings.New(ctx, openai.EmbeddingNewParams{
		Model:          o.embeddingModel,
		Input:          openai.EmbeddingNewParamsInputUnion{OfString: openai.String(text)},
		EncodingFormat: openai.EmbeddingNewParamsEncodingFormatFloat,
	})
	if err != nil {
		return nil, fmt.Errorf("subprocessors: openai: %s: %w", aiEmbeddings.purpose, aiScrubError(err, out))
	}
	if len(resp.Data) == 0 || len(resp.Data[0].Embedding) == 0 {
		return nil, fmt.Errorf("subprocessors: openai: %s: the answer holds no embedding", aiEmbeddings.purpose)
	}
	vec := make([]float32, len(resp.Data[0].Embedding))
	for i, v := range resp.Data[0].Embedding {
		vec[i] = float32(v)
	}
	return vec, nil
}

// prepare asks the gate and returns the allowed messages as one text. The
// flow declares every field of the request, so the gate decides on all of
// them, but only messages are sent.
func (o *OpenAI) prepare(ctx context.Context, p aiPurpose, req AIRequest) (aiOutgoing, string, error) {
	out, err := aiPrepare(ctx, o.gate, openaiSubprocessor, p, req)
	if err != nil {
		return aiOutgoing{}, "", err
	}
	msgs := out.messages()
	if len(msgs) == 0 {
		return aiOutgoing{}, "", fmt.Errorf("subprocessors: openai: %s: the request has no message to send", p.purpose)
	}
	return out, aiPlainText(msgs), nil
}
