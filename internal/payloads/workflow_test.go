package payloads

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/convot/convot/internal/testenv"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protopath"
	"google.golang.org/protobuf/reflect/protorange"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// shout is the tiny workflow of these tests: its input, its activity's
// input and result, its signal and its result all are payloads.
func shout(ctx workflow.Context, in string) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	var suffix string
	workflow.GetSignalChannel(ctx, "suffix").Receive(ctx, &suffix)
	var out string
	err := workflow.ExecuteActivity(ctx, "Upper", in).Get(ctx, &out)
	return out + suffix, err
}

func upper(_ context.Context, s string) (string, error) { return strings.ToUpper(s), nil }

func quietLogger() log.Logger {
	return log.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
}

func TestWorkflowRunsWithTheEncryptingConverter(t *testing.T) {
	c := newCodec(t, 1, map[uint32][]byte{1: key(1)})
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(quietLogger())
	env := suite.NewTestWorkflowEnvironment()
	env.SetDataConverter(DataConverter(c))
	env.RegisterWorkflowWithOptions(shout, workflow.RegisterOptions{Name: "Shout"})
	env.RegisterActivityWithOptions(upper, activity.RegisterOptions{Name: "Upper"})
	env.RegisterDelayedCallback(func() { env.SignalWorkflow("suffix", "!") }, time.Minute)
	env.ExecuteWorkflow("Shout", secret)
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var out string
	require.NoError(t, env.GetWorkflowResult(&out))
	require.Equal(t, "ALICE@EXAMPLE.COM!", out)
}

// TestHistoryIsEncryptedOnDevServer runs the workflow on a real Temporal
// server, reads its history as the server stores it, and finds every
// payload encrypted and the email nowhere; then the codec server decodes
// the input for an officer, as the Temporal UI would.
func TestHistoryIsEncryptedOnDevServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	codec := newCodec(t, 1, map[uint32][]byte{1: DeriveKey(key(9), 1)})
	c := testenv.TemporalDevServer(t, ctx, client.Options{Logger: quietLogger(), DataConverter: DataConverter(codec)})

	w := worker.New(c, "payloads-test", worker.Options{})
	w.RegisterWorkflowWithOptions(shout, workflow.RegisterOptions{Name: "Shout"})
	w.RegisterActivityWithOptions(upper, activity.RegisterOptions{Name: "Upper"})
	require.NoError(t, w.Start())
	defer w.Stop()

	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "payloads-test", TaskQueue: "payloads-test"}, "Shout", secret)
	require.NoError(t, err)
	require.NoError(t, c.SignalWorkflow(ctx, run.GetID(), "", "suffix", "!"))
	var out string
	require.NoError(t, run.Get(ctx, &out))
	require.Equal(t, "ALICE@EXAMPLE.COM!", out)

	var input *commonpb.Payload
	seen := 0
	iter := c.GetWorkflowHistory(ctx, run.GetID(), run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		event, err := iter.Next()
		require.NoError(t, err)
		raw, err := proto.Marshal(event)
		require.NoError(t, err)
		require.NotContains(t, strings.ToLower(string(raw)), "alice", "event %s", event.GetEventType())

		err = protorange.Range(event.ProtoReflect(), func(v protopath.Values) error {
			m, ok := v.Index(-1).Value.Interface().(protoreflect.Message)
			if !ok {
				return nil
			}
			p, ok := m.Interface().(*commonpb.Payload)
			if !ok || strings.Contains(v.Path.String(), "search_attributes") {
				return nil // search attributes bypass the codec by design
			}
			seen++
			require.Equal(t, EncodingEncrypted, string(p.GetMetadata()[MetadataEncoding]), "payload at %s", v.Path)
			return nil
		})
		require.NoError(t, err)
		if a := event.GetWorkflowExecutionStartedEventAttributes(); a != nil {
			input = a.GetInput().GetPayloads()[0]
		}
	}
	require.GreaterOrEqual(t, seen, 5, "input, signal, activity input and result, workflow result")
	require.NotNil(t, input)

	// The privacy officer reads the input through the codec server.
	h := httptest.NewServer(Handler(codec, "http://localhost:8233", func(r *http.Request) (Reader, bool) {
		return Reader{Staff: true}, r.Header.Get("Authorization") == "Bearer officer-token"
	}))
	defer h.Close()
	req, err := http.NewRequest(http.MethodPost, h.URL+"/decode", strings.NewReader(string(payloadsJSON(t, []*commonpb.Payload{input}))))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer officer-token")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, secret, decodedString(t, body))
}
