package subprocessors

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
)

const anthropicTestModel = "claude-test-model"

// anthropicTestAnswer is a minimal valid Messages API response.
func anthropicTestAnswer(text string) string {
	b, _ := json.Marshal(map[string]any{
		"id": "msg_test", "type": "message", "role": "assistant", "model": anthropicTestModel,
		"content":     []map[string]any{{"type": "text", "text": text}},
		"stop_reason": "end_turn", "stop_sequence": nil,
		"usage": map[string]any{"input_tokens": 10, "output_tokens": 5},
	})
	return string(b)
}

func newAnthropicTest(t *testing.T, answer func(path string) (int, string)) (*Anthropic, *aiTestUpstream) {
	t.Helper()
	up := newAITestUpstream(t, answer)
	g, _ := mustEgressGate(t)
	a, err := NewAnthropic(g, AnthropicConfig{APIKey: "test-key", Model: anthropicTestModel, BaseURL: up.srv.URL, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	return a, up
}

// anthropicTestCalls are the four features of the client.
var anthropicTestCalls = []struct {
	name    string
	purpose aiPurpose
	call    func(*Anthropic, context.Context, AIRequest) (string, error)
}{
	{"summary", aiSummary, (*Anthropic).Summarize},
	{"suggested reply", aiSuggestedReply, (*Anthropic).SuggestReply},
	{"automated answer", aiAutomatedAnswer, (*Anthropic).AutomatedAnswer},
	{"translation", aiTranslation, func(a *Anthropic, ctx context.Context, req AIRequest) (string, error) {
		return a.Translate(ctx, req, "de")
	}},
}

// An allowed flow reaches Anthropic with the messages, and without the
// contact's email, phone number or external ID.
func TestAnthropicAllowed(t *testing.T) {
	for _, c := range anthropicTestCalls {
		t.Run(c.name, func(t *testing.T) {
			a, up := newAnthropicTest(t, func(path string) (int, string) {
				if path != "/v1/messages" {
					return http.StatusNotFound, `{"type":"error","error":{"type":"not_found_error","message":"no such path"}}`
				}
				return http.StatusOK, anthropicTestAnswer("the answer")
			})
			got, err := c.call(a, context.Background(), aiTestRequest(c.purpose.feature))
			if err != nil {
				t.Fatal(err)
			}
			if got != "the answer" {
				t.Errorf("answer = %q", got)
			}
			r := onlyRequest(t, up.recorded())
			if r.method != http.MethodPost || r.path != "/v1/messages" || r.header.Get("Authorization") != "Bearer test-key" {
				t.Errorf("request %s %s, authorization %q", r.method, r.path, r.header.Get("Authorization"))
			}
			var body struct {
				Model    string `json:"model"`
				Messages []struct {
					Role    string `json:"role"`
					Content []struct {
						Text string `json:"text"`
					} `json:"content"`
				} `json:"messages"`
			}
			if err := json.Unmarshal([]byte(r.body), &body); err != nil {
				t.Fatalf("body: %v: %s", err, r.body)
			}
			if body.Model != anthropicTestModel || len(body.Messages) != 1 || len(body.Messages[0].Content) != 1 {
				t.Fatalf("body: %s", r.body)
			}
			sent := body.Messages[0].Content[0].Text
			if !strings.Contains(sent, aiTestMessage) {
				t.Errorf("the message text did not reach Anthropic: %q", sent)
			}
			if !strings.Contains(sent, "[redacted]") {
				t.Errorf("no redaction mark in %q", sent)
			}
			aiAssertNoIdentifiers(t, r.body)
			if c.purpose == aiTranslation {
				if strings.Contains(sent, aiTestName) || strings.Contains(sent, "contact email") {
					t.Errorf("translation sent more than the messages: %q", sent)
				}
			} else if !strings.Contains(sent, "contact name: "+aiTestName) {
				t.Errorf("the contact's name (allowed) is missing: %q", sent)
			}
		})
	}
}

// A denied flow sends no request and returns ErrDenied with the reason.
func TestAnthropicDenied(t *testing.T) {
	for _, c := range anthropicTestCalls {
		for _, d := range aiTestDeniedCases() {
			t.Run(c.name+"/"+d.name, func(t *testing.T) {
				a, up := newAnthropicTest(t, func(string) (int, string) {
					return http.StatusOK, anthropicTestAnswer("must not be asked")
				})
				_, err := c.call(a, context.Background(), d.req)
				aiAssertDenied(t, err, d.reason)
				if n := len(up.recorded()); n != 0 {
					t.Fatalf("a denied flow sent %d requests", n)
				}
			})
		}
	}
}

// Only the feature of the purpose counts: summaries on does not allow
// automated answers.
func TestAnthropicFeatureIsPerPurpose(t *testing.T) {
	a, up := newAnthropicTest(t, func(string) (int, string) { return http.StatusOK, anthropicTestAnswer("x") })
	_, err := a.AutomatedAnswer(context.Background(), aiTestRequest("summary"))
	aiAssertDenied(t, err, "the organization has not turned on the AI feature automated_answer")
	if n := len(up.recorded()); n != 0 {
		t.Fatalf("sent %d requests", n)
	}
}

// An upstream error that echoes the request does not carry the content on
// into Convot's logs.
func TestAnthropicErrorScrubbed(t *testing.T) {
	a, up := newAnthropicTest(t, func(string) (int, string) {
		return http.StatusBadRequest, `{"type":"error","error":{"type":"invalid_request_error","message":"cannot process: ` + aiTestMessage + `"}}`
	})
	_, err := a.Summarize(context.Background(), aiTestRequest("summary"))
	if err == nil || errors.Is(err, ErrDenied) {
		t.Fatalf("want an upstream error, got %v", err)
	}
	// The SDK's error quotes the response body: the echo is scrubbed.
	if strings.Contains(err.Error(), aiTestMessage) || !strings.Contains(err.Error(), "cannot process: [redacted]") {
		t.Errorf("error echoes the message, or does not quote the upstream answer: %v", err)
	}
	if len(up.recorded()) != 1 {
		t.Errorf("upstream got %d requests", len(up.recorded()))
	}
}

func TestNewAnthropicNeedsGateKeyModel(t *testing.T) {
	g, _ := mustEgressGate(t)
	for _, c := range []struct {
		gate Gate
		cfg  AnthropicConfig
	}{
		{nil, AnthropicConfig{APIKey: "k", Model: "m"}},
		{g, AnthropicConfig{Model: "m"}},
		{g, AnthropicConfig{APIKey: "k"}},
	} {
		if _, err := NewAnthropic(c.gate, c.cfg); err == nil {
			t.Errorf("NewAnthropic(%v, %+v) succeeded", c.gate, c.cfg)
		}
	}
}
