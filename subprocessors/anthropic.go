package subprocessors

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
)

// anthropicSubprocessor is Anthropic's name in the registry.
const anthropicSubprocessor = "anthropic"

// anthropicDefaultMaxTokens bounds an answer when the config does not.
const anthropicDefaultMaxTokens = 1024

// AnthropicConfig configures the Anthropic client. Everything comes from
// the caller: the client reads no ANTHROPIC_* variable and no profile.
type AnthropicConfig struct {
	// APIKey is Convot's Anthropic API key; required.
	APIKey string
	// Model is the Claude model every call uses; required.
	Model string
	// BaseURL is the API's base URL; empty is Anthropic's. Tests point it
	// at a fake upstream.
	BaseURL string
	// MaxTokens bounds each answer; 0 is 1024.
	MaxTokens int64
	// MaxRetries is how often a failed request is retried; 0 is the SDK's
	// default, a negative value none.
	MaxRetries int
	// HTTPClient sends the requests; nil is the SDK's.
	HTTPClient *http.Client
}

// Anthropic is the client for Anthropic's Messages API (Claude): conversation
// summaries, suggested replies, automated answers and translation (policy
// §6). Every call asks the egress gate first, for the purpose of the feature
// (functional.ai.*) with the organization's AI feature as the flow's
// Feature; a denied call sends nothing and returns an error wrapping
// ErrDenied. The prompt is built only from the fields policies.Apply lets
// through, so the contact's email, phone number and external ID arrive
// redacted. It is safe for concurrent use.
type Anthropic struct {
	gate      Gate
	client    anthropic.Client
	model     string
	maxTokens int64
}

var (
	_ AISummarizer = (*Anthropic)(nil)
	_ AIReplier    = (*Anthropic)(nil)
	_ AITranslator = (*Anthropic)(nil)
)

// NewAnthropic returns an Anthropic client that asks gate before every call.
func NewAnthropic(gate Gate, cfg AnthropicConfig) (*Anthropic, error) {
	if gate == nil {
		return nil, errors.New("subprocessors: anthropic: an egress gate is required")
	}
	if cfg.APIKey == "" {
		return nil, errors.New("subprocessors: anthropic: an API key is required")
	}
	if cfg.Model == "" {
		return nil, errors.New("subprocessors: anthropic: a model is required")
	}
	opts := []option.RequestOption{
		// Configuration comes from cfg only, not from the environment.
		option.WithoutEnvironmentDefaults(),
		option.WithAPIKey(cfg.APIKey),
		// No OpenTelemetry spans: with a content mode set in the
		// environment they would carry the conversation to a tracing
		// backend, outside the gate.
		option.WithoutOpenTelemetry(),
	}
	if cfg.BaseURL != "" {
		opts = append(opts, option.WithBaseURL(cfg.BaseURL))
	}
	if cfg.HTTPClient != nil {
		opts = append(opts, option.WithHTTPClient(cfg.HTTPClient))
	}
	if cfg.MaxRetries != 0 {
		opts = append(opts, option.WithMaxRetries(max(cfg.MaxRetries, 0)))
	}
	maxTokens := cfg.MaxTokens
	if maxTokens <= 0 {
		maxTokens = anthropicDefaultMaxTokens
	}
	return &Anthropic{gate: gate, client: anthropic.NewClient(opts...), model: cfg.Model, maxTokens: maxTokens}, nil
}

// anthropicInstructions are the system prompts, by purpose. They are
// Convot's own text: no personal data.
var anthropicInstructions = map[string]string{
	aiSummary.purpose: "You summarise customer-support conversations for the support team. " +
		"Write a short neutral summary (at most three sentences) of the conversation below: the customer's issue, " +
		"what was done, and what is still open. Values shown as [redacted] were withheld; do not guess them. " +
		"Reply with the summary only.",
	aiSuggestedReply.purpose: "You draft replies for a support operator, who reviews them before sending. " +
		"Write the next reply to the customer in the conversation below, in the customer's language, polite and concise. " +
		"Values shown as [redacted] were withheld; do not guess them. Reply with the draft only.",
	aiAutomatedAnswer.purpose: "You answer customers of a business on its website chat while no operator is available. " +
		"Write a helpful, short answer to the customer's last message below, in the customer's language. " +
		"Do not promise refunds, deadlines or actions; say an operator will follow up when you cannot answer. " +
		"Values shown as [redacted] were withheld; do not guess them. Reply with the answer only.",
}

// Summarize summarises the conversation (functional.ai.summary).
func (a *Anthropic) Summarize(ctx context.Context, req AIRequest) (string, error) {
	return a.complete(ctx, aiSummary, req, anthropicInstructions[aiSummary.purpose], false)
}

// SuggestReply drafts an operator's next reply (functional.ai.suggested_reply).
func (a *Anthropic) SuggestReply(ctx context.Context, req AIRequest) (string, error) {
	return a.complete(ctx, aiSuggestedReply, req, anthropicInstructions[aiSuggestedReply.purpose], false)
}

// AutomatedAnswer answers the end user without an operator
// (functional.ai.automated_answer).
func (a *Anthropic) AutomatedAnswer(ctx context.Context, req AIRequest) (string, error) {
	return a.complete(ctx, aiAutomatedAnswer, req, anthropicInstructions[aiAutomatedAnswer.purpose], false)
}

// Translate translates the request's messages into targetLang
// (functional.ai.translation). Only the messages are sent, though the flow
// declares (and the gate decides on) every field of the request.
func (a *Anthropic) Translate(ctx context.Context, req AIRequest, targetLang string) (string, error) {
	if err := aiCheckLanguage(targetLang); err != nil {
		return "", err
	}
	system := "Translate the text below into the language with BCP 47 tag " + targetLang + ". " +
		"Keep [redacted] as it is. Reply with the translation only."
	return a.complete(ctx, aiTranslation, req, system, true)
}

// complete asks the gate, then sends the allowed content as one user
// message and returns the text of the answer.
func (a *Anthropic) complete(ctx context.Context, p aiPurpose, req AIRequest, system string, messagesOnly bool) (string, error) {
	out, err := aiPrepare(ctx, a.gate, anthropicSubprocessor, p, req)
	if err != nil {
		return "", err
	}
	var content string
	if messagesOnly {
		msgs := out.messages()
		if len(msgs) == 0 {
			return "", fmt.Errorf("subprocessors: anthropic: %s: the request has no message to send", p.purpose)
		}
		content = aiPlainText(msgs)
	} else {
		content = aiTranscript(out.lines)
	}
	msg, err := a.client.Messages.New(ctx, anthropic.MessageNewParams{
		Model:     a.model,
		MaxTokens: a.maxTokens,
		System:    []anthropic.TextBlockParam{{Text: system}},
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(content))},
	})
	if err != nil {
		return "", fmt.Errorf("subprocessors: anthropic: %s: %w", p.purpose, aiScrubError(err, out))
	}
	var text strings.Builder
	for _, block := range msg.Content {
		if block.Type == "text" {
			text.WriteString(block.Text)
		}
	}
	answer := strings.TrimSpace(text.String())
	if answer == "" {
		return "", fmt.Errorf("subprocessors: anthropic: %s: the answer holds no text (stop reason %q)", p.purpose, msg.StopReason)
	}
	return answer, nil
}
