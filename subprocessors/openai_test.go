package subprocessors

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// openaiTestAnswer answers the OpenAI endpoints the client uses with
// minimal valid JSON.
func openaiTestAnswer(chatText string) func(path string) (int, string) {
	return func(path string) (int, string) {
		switch path {
		case "/v1/chat/completions":
			b, _ := json.Marshal(map[string]any{
				"id": "chatcmpl-test", "object": "chat.completion", "created": 1700000000, "model": "gpt-test",
				"choices": []map[string]any{{
					"index": 0, "finish_reason": "stop", "logprobs": nil,
					"message": map[string]any{"role": "assistant", "content": chatText, "refusal": nil},
				}},
				"usage": map[string]any{"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12},
			})
			return http.StatusOK, string(b)
		case "/v1/embeddings":
			return http.StatusOK, `{"object":"list","model":"embed-test","data":[{"object":"embedding","index":0,"embedding":[0.6,-0.8,0]}],` +
				`"usage":{"prompt_tokens":10,"total_tokens":10}}`
		}
		return http.StatusNotFound, `{"error":{"message":"no such path","type":"invalid_request_error"}}`
	}
}

func newOpenAITest(t *testing.T, answer func(path string) (int, string)) (*OpenAI, *aiTestUpstream) {
	t.Helper()
	up := newAITestUpstream(t, answer)
	g, _ := mustEgressGate(t)
	o, err := NewOpenAI(g, OpenAIConfig{APIKey: "test-key", ChatModel: "gpt-test", EmbeddingModel: "embed-test",
		BaseURL: up.srv.URL + "/v1", MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	return o, up
}

// openaiTestCalls are the three features of the client, with the endpoint
// each uses.
var openaiTestCalls = []struct {
	name    string
	purpose aiPurpose
	path    string
	call    func(*OpenAI, context.Context, AIRequest) (any, error)
}{
	{"language detection", aiLanguageDetection, "/v1/chat/completions", func(o *OpenAI, ctx context.Context, req AIRequest) (any, error) {
		return o.DetectLanguage(ctx, req)
	}},
	{"translation", aiTranslation, "/v1/chat/completions", func(o *OpenAI, ctx context.Context, req AIRequest) (any, error) {
		return o.Translate(ctx, req, "fr")
	}},
	{"embeddings", aiEmbeddings, "/v1/embeddings", func(o *OpenAI, ctx context.Context, req AIRequest) (any, error) {
		return o.Embed(ctx, req)
	}},
}

// An allowed flow reaches OpenAI with the messages, and without the
// contact's email, phone number or external ID, not even inside a message.
func TestOpenAIAllowed(t *testing.T) {
	for _, c := range openaiTestCalls {
		t.Run(c.name, func(t *testing.T) {
			o, up := newOpenAITest(t, openaiTestAnswer("en"))
			got, err := c.call(o, context.Background(), aiTestRequest(c.purpose.feature))
			if err != nil {
				t.Fatal(err)
			}
			switch v := got.(type) {
			case string:
				if v != "en" {
					t.Errorf("answer = %q", v)
				}
			case []float32:
				if !slices.Equal(v, []float32{0.6, -0.8, 0}) {
					t.Errorf("embedding = %v", v)
				}
			}
			r := onlyRequest(t, up.recorded())
			if r.method != http.MethodPost || r.path != c.path || r.header.Get("Authorization") != "Bearer test-key" {
				t.Errorf("request %s %s, authorization %q", r.method, r.path, r.header.Get("Authorization"))
			}
			if !strings.Contains(r.body, aiTestMessage) {
				t.Errorf("the message text did not reach OpenAI: %s", r.body)
			}
			if !strings.Contains(r.body, "[redacted]") {
				t.Errorf("the identifier inside the message was not redacted: %s", r.body)
			}
			aiAssertNoIdentifiers(t, r.body)
			if strings.Contains(r.body, aiTestName) {
				t.Errorf("OpenAI got more than the messages: %s", r.body)
			}
		})
	}
}

// A denied flow sends no request and returns ErrDenied with the reason.
func TestOpenAIDenied(t *testing.T) {
	for _, c := range openaiTestCalls {
		for _, d := range aiTestDeniedCases() {
			t.Run(c.name+"/"+d.name, func(t *testing.T) {
				o, up := newOpenAITest(t, openaiTestAnswer("en"))
				_, err := c.call(o, context.Background(), d.req)
				aiAssertDenied(t, err, d.reason)
				if n := len(up.recorded()); n != 0 {
					t.Fatalf("a denied flow sent %d requests", n)
				}
			})
		}
	}
}

// Summaries are not registered for OpenAI: the gate refuses the purpose.
func TestOpenAINotRegisteredForSummaries(t *testing.T) {
	g, _ := mustEgressGate(t)
	_, err := aiPrepare(context.Background(), g, openaiSubprocessor, aiSummary, aiTestRequest(aiTestAllFeatures...))
	aiAssertDenied(t, err, "openai is not registered for purpose functional.ai.summary")
}

func TestOpenAIDetectLanguageAnswerShape(t *testing.T) {
	for answer, want := range map[string]string{"de": "de", "pt-BR.": "pt-BR", "The language is German": "und"} {
		o, _ := newOpenAITest(t, openaiTestAnswer(answer))
		got, err := o.DetectLanguage(context.Background(), aiTestRequest("language_detection"))
		if err != nil || got != want {
			t.Errorf("answer %q: DetectLanguage = %q, %v; want %q", answer, got, err, want)
		}
	}
}

// An upstream error that echoes the request does not carry the content on
// into Convot's logs.
func TestOpenAIErrorScrubbed(t *testing.T) {
	o, _ := newOpenAITest(t, func(string) (int, string) {
		return http.StatusBadRequest, `{"error":{"message":"cannot process: ` + aiTestMessage + `","type":"invalid_request_error"}}`
	})
	_, err := o.Translate(context.Background(), aiTestRequest("translation"), "fr")
	if err == nil || errors.Is(err, ErrDenied) {
		t.Fatalf("want an upstream error, got %v", err)
	}
	// openai-go v3 does not quote the response body in Error(); this guards
	// against a version that does.
	if strings.Contains(err.Error(), aiTestMessage) {
		t.Errorf("error echoes the message: %v", err)
	}
}

func TestNewOpenAINeedsGateKeyModels(t *testing.T) {
	g, _ := mustEgressGate(t)
	for _, c := range []struct {
		gate Gate
		cfg  OpenAIConfig
	}{
		{nil, OpenAIConfig{APIKey: "k", ChatModel: "c", EmbeddingModel: "e"}},
		{g, OpenAIConfig{ChatModel: "c", EmbeddingModel: "e"}},
		{g, OpenAIConfig{APIKey: "k", EmbeddingModel: "e"}},
		{g, OpenAIConfig{APIKey: "k", ChatModel: "c"}},
	} {
		if _, err := NewOpenAI(c.gate, c.cfg); err == nil {
			t.Errorf("NewOpenAI(%+v) succeeded", c.cfg)
		}
	}
}
